"""The input document a rule sees (``gitrot/schemas/policy-input.schema.json``).

::

    {"intent": {...}, "base": {...} | null, "change": {...}, "history": {...} | null,
     "creation_rule": {...} | null, "config": {...}, "context": "pre-commit", "now": "...Z"}

``intent`` mirrors the YAML of ``secrets/<name>.yaml`` plus ``path``; its ``sops`` block is
summarised (recipients, selector), encrypted fields (``spec.target.ref``) are their
``ENC[...]`` text, never decrypted; optional fields are present as null
(``metadata.environment``, ``spec.source``) or their default (``spec.emergency``,
``spec.consumers``, ``metadata.labels``), so rules need no ``has()``. ``base`` is the
intent before the change (at HEAD for the pre-commit hook, at the merge base for the PR
check), ``change`` says what the change does to it, ``history`` when its versions took
effect (from git), ``creation_rule`` what ``.sops.yaml`` says its encryption must be.
``config`` mirrors gitrot.yaml with durations in seconds. ``context`` is where the rules
run (``pre-commit``, ``pr``, ``scheduled``); ``now`` is RFC 3339 UTC (``timestamp(now)`` in CEL).

:class:`Facts` carries what the caller learnt from git and ``.sops.yaml``; fixtures may omit
``base``, ``change``, ``history``, ``creation_rule``, ``context``, ``spec.source`` and
``config.rotators``, which :func:`complete` fills with the values a run outside git would
have.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

from gitrot.core.layout import relative_to_secrets
from gitrot.core.models import API_VERSION, Config, GeneratedValue, RotationIntent
from gitrot.core.timefmt import rfc3339, rfc3339_epoch

CONTEXTS = ("pre-commit", "pr", "scheduled")
#: the variables that differ from one intent to the next (config, context and now do not)
PER_INTENT = ("intent", "base", "change", "history", "creation_rule")
CHANGE_STATUSES = ("added", "modified", "renamed", "unchanged", "unknown")


class Facts:
    """What the caller knows about one intent beyond its file.

    ``base`` is the intent before the change (None: new, or unknown when ``status`` is
    ``unknown``); ``rotated_at`` is when the version the intent has at the base took effect
    (epoch seconds, None without history); ``creation_rule`` is the ``.sops.yaml`` rule for
    the intent's path as ``(selector, recipients, mac_only_encrypted)``, None without one.
    """

    __slots__ = ("base", "base_rotated_at", "creation_rule", "status")

    def __init__(
        self,
        *,
        status: str = "unknown",
        base: RotationIntent | None = None,
        base_rotated_at: int | None = None,
        creation_rule: tuple[tuple[str, str] | None, tuple[str, ...], bool] | None = None,
    ) -> None:
        if status not in CHANGE_STATUSES:
            raise ValueError(f"unknown change status {status!r}")
        self.status = status
        self.base = base
        self.base_rotated_at = base_rotated_at
        self.creation_rule = creation_rule


UNKNOWN = Facts()


def intent_document(intent: RotationIntent) -> dict[str, object]:
    """The intent as plain data, shaped like its YAML file."""
    value: dict[str, object]
    if isinstance(intent.value, GeneratedValue):
        generate = {"length": intent.value.length, "alphabet": intent.value.alphabet}
        value = {"generate": generate}
    else:
        value = {"sealed": relative_to_secrets(intent.value.path)}
    encryption = intent.encryption
    sops: dict[str, object] | None = None
    if encryption is not None:
        sops = {
            "recipients": list(encryption.recipients),
            "key_groups": encryption.key_groups,
            "selector": _selector(encryption.selector),
            "mac_only_encrypted": encryption.mac_only_encrypted,
        }
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
            "retired": intent.retired,
            "target": {"backend": intent.backend, "ref": intent.ref},
            "value": value,
            "consumers": list(intent.consumers),
            "source": None if intent.rotator is None else {"rotator": intent.rotator},
        },
        "sops": sops,
    }


def _selector(selector: tuple[str, str] | None) -> dict[str, str] | None:
    return None if selector is None else {"kind": selector[0], "value": selector[1]}


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
        "rotators": {
            name: {"type": r.type, "options": _plain(r.options)}
            for name, r in config.rotators.items()
        },
        "classes": {
            name: {"max_age": c.max_age, "min_interval": c.min_interval, "source": c.source}
            for name, c in config.classes.items()
        },
        "freezes": [
            {
                "start": f.start,
                "end": f.end,
                "starts_at": f"{f.start}T00:00:00Z",
                "ends_at": _day_after(f.end) + "T00:00:00Z",
                "environments": list(f.environments),
                "reason": f.reason,
            }
            for f in config.freezes
        ],
        "policy_paths": list(config.policy_paths),
        "waivers_path": config.waivers_path,
    }


def _day_after(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def input_document(
    intent: RotationIntent,
    config: Config,
    *,
    now: datetime,
    facts: Facts = UNKNOWN,
    context: str = "pre-commit",
    config_doc: dict[str, object] | None = None,
    pr: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The whole input of one intent (``config_doc`` lets a caller build the config once).

    ``change.rotation`` is true when the change creates the intent or raises its version;
    ``history.rotated_at`` is when the intent's current version took effect (``now`` for a
    rotation in this change) and ``history.previous_rotated_at`` when the version before it
    did (null when unknown); ``history`` is null when git could not tell.
    """
    if context not in CONTEXTS:
        raise ValueError(f"unknown context {context!r}")
    base = facts.base
    status = facts.status
    rotation = status == "added" or (base is not None and intent.version > base.version)
    stamp = rfc3339(now)
    history: dict[str, object] | None = None
    if status != "unknown":
        known = None if facts.base_rotated_at is None else rfc3339_epoch(facts.base_rotated_at)
        history = {
            "rotated_at": stamp if rotation else known,
            "previous_rotated_at": known if rotation else None,
        }
    creation: dict[str, object] | None = None
    if facts.creation_rule is not None:
        selector, recipients, mac_only = facts.creation_rule
        creation = {
            "selector": _selector(selector),
            "recipients": list(recipients),
            "mac_only_encrypted": mac_only,
        }
    return {
        "intent": intent_document(intent),
        "base": None if base is None else intent_document(base),
        "change": {"status": status, "rotation": rotation},
        "history": history,
        "creation_rule": creation,
        "config": config_doc if config_doc is not None else config_document(config),
        "context": context,
        "now": stamp,
        "pr": None if pr is None else dict(pr),
    }


def complete(document: Mapping[str, object]) -> dict[str, object]:
    """A copy of a (fixture's) document with the optional variables filled in: ``base``,
    ``history`` and ``creation_rule`` null, ``change`` unknown, ``context`` pre-commit;
    ``intent.sops`` null when absent."""
    full: dict[str, object] = {
        "base": None,
        "change": {"status": "unknown", "rotation": False},
        "history": None,
        "creation_rule": None,
        "context": "pre-commit",
        "pr": None,
        **document,
    }
    for key in ("intent", "base"):
        full[key] = _complete_intent(full.get(key))
    config = full.get("config")
    if isinstance(config, dict) and "rotators" not in config:
        full["config"] = {**config, "rotators": {}}
    return full


def _complete_intent(intent: object) -> object:
    """An intent document with ``sops`` (null), ``spec.retired`` (false) and
    ``spec.source`` (null) when absent."""
    if not isinstance(intent, dict):
        return intent
    done = dict(intent)
    done.setdefault("sops", None)
    spec = done.get("spec")
    if isinstance(spec, dict):
        done["spec"] = {"retired": False, "source": None, **spec}
    return done


def _plain(value: object) -> object:
    """Options as JSON-like data (the loader already made them plain)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
