"""The input document a rule sees (``gitrot/schemas/policy-input.schema.json``).

::

    {"intent": {...}, "base": null, "history": null, "config": {...}, "now": "...Z"}

``intent`` mirrors the YAML of ``secrets/<name>.yaml`` without its ``sops`` block, plus
``path``; encrypted fields (``spec.target.ref``) are their ``ENC[...]`` text, never
decrypted; optional fields are present as null (``metadata.environment``) or their default
(``spec.emergency``, ``spec.consumers``, ``metadata.labels``), so rules need no ``has()``.
``config`` mirrors gitrot.yaml with durations in seconds. ``now`` is RFC 3339 UTC; rules
read it with ``timestamp(now)``. ``base`` (the intent at the PR base) and ``history`` (its
rotations from git) are null until the PR check provides them.
"""

from __future__ import annotations

from gitrot.core.models import API_VERSION, SECRETS_DIR, GeneratedValue

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from datetime import datetime

    from gitrot.core.models import Config, RotationIntent

INPUT_SCHEMA = "policy-input.schema.json"


def intent_document(intent: RotationIntent) -> dict[str, object]:
    """The intent as plain data, shaped like its YAML file."""
    value: dict[str, object]
    if isinstance(intent.value, GeneratedValue):
        generate = {"length": intent.value.length, "alphabet": intent.value.alphabet}
        value = {"generate": generate}
    else:
        value = {"sealed": intent.value.path[len(SECRETS_DIR) + 1 :]}
    return {
        "apiVersion": API_VERSION,
        "kind": "RotationIntent",
        "path": intent.path,
        "metadata": {
            "name": intent.name,
            "owner": intent.owner,
            "environment": intent.environment,
            "class": intent.rotation_class,
            "labels": dict(intent.labels),
        },
        "spec": {
            "version": intent.version,
            "reason": intent.reason,
            "emergency": intent.emergency,
            "target": {"backend": intent.backend, "ref": intent.ref},
            "value": value,
            "consumers": list(intent.consumers),
        },
    }


def config_document(config: Config) -> dict[str, object]:
    """gitrot.yaml as plain data; durations (``max_age``, ``min_interval``) in seconds."""
    return {
        "recipients": dict(config.recipients),
        "backends": {
            name: {"type": b.type, "options": _plain(b.options)}
            for name, b in config.backends.items()
        },
        "triggers": {
            name: {"type": t.type, "options": _plain(t.options)}
            for name, t in config.triggers.items()
        },
        "classes": {
            name: {"max_age": c.max_age, "min_interval": c.min_interval, "source": c.source}
            for name, c in config.classes.items()
        },
        "freezes": [
            {
                "start": f.start,
                "end": f.end,
                "environments": list(f.environments),
                "reason": f.reason,
            }
            for f in config.freezes
        ],
        "policy_paths": list(config.policy_paths),
        "waivers_path": config.waivers_path,
    }


def rfc3339(now: datetime) -> str:
    """``2025-01-31T12:00:00Z`` (UTC, whole seconds)."""
    from datetime import UTC

    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def input_document(
    intent: RotationIntent,
    config: Config,
    *,
    now: datetime,
    config_doc: dict[str, object] | None = None,
) -> dict[str, object]:
    """The whole input of one intent (``config_doc`` lets a caller build the config once)."""
    return {
        "intent": intent_document(intent),
        "base": None,
        "history": None,
        "config": config_doc if config_doc is not None else config_document(config),
        "now": rfc3339(now),
    }


def _plain(value: object) -> object:
    """Options as JSON-like data (the loader already made them plain; bytes become text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
