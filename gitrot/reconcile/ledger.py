"""The note the reconciler writes on each reconciled commit (``refs/notes/gitrot``).

::

    {"gitrot_note": 1, "commit": "<id>", "previous": "<id>|null",
     "reconciler": {"host": ..., "user": ..., "recipient": "age1..."},
     "started_at": "...Z", "finished_at": "...Z",
     "applied":    [{"name", "version", "backend", "backend_version_id",
                     "idempotency_key", "written_at", "found", "superseded"}],
     "deliveries": [{"name", "version", "trigger", "delivery_id", "ok", "attempts",
                     "detail", "at"}],
     "refused":    [{"name", "version", "reason"}],
     "ledger":     {"<name>": {"blob", "version", "backend", "backend_version_id", "key",
                               "deliveries": {"<trigger>": {"delivery_id", "ok", "at"}}}}}

``applied``/``deliveries``/``refused`` are what this run did (``found``: the version was
already in the backend, written by an interrupted run or another reconciler;
``superseded``: versions bumped in git and never applied because a later one was);
``ledger`` is the state of every secret after it, so the next run reads one note, not the
history. Never a value, never a ref.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Mapping

NOTE_VERSION = 1


class Entry:
    """What the ledger knows of one secret."""

    __slots__ = ("backend", "backend_id", "blob", "deliveries", "key", "version")

    def __init__(
        self,
        *,
        blob: str,
        version: int,
        backend: str,
        backend_id: str,
        key: str,
        deliveries: Mapping[str, Mapping[str, object]] | None = None,
    ) -> None:
        self.blob = blob
        self.version = version
        self.backend = backend
        self.backend_id = backend_id
        self.key = key
        self.deliveries: dict[str, dict[str, object]] = {
            name: dict(value) for name, value in (deliveries or {}).items()
        }

    def delivered(self, version: int) -> frozenset[str]:
        """The triggers told about ``version`` with success."""
        if version != self.version:
            return frozenset()
        return frozenset(name for name, d in self.deliveries.items() if d.get("ok") is True)

    def pending(self) -> bool:
        return any(d.get("ok") is not True for d in self.deliveries.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "blob": self.blob,
            "version": self.version,
            "backend": self.backend,
            "backend_version_id": self.backend_id,
            "key": self.key,
            "deliveries": {name: self.deliveries[name] for name in sorted(self.deliveries)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Entry:
        deliveries = data.get("deliveries")
        return cls(
            blob=str(data["blob"]),
            version=int(data["version"]),  # type: ignore[call-overload]
            backend=str(data["backend"]),
            backend_id=str(data["backend_version_id"]),
            key=str(data["key"]),
            deliveries=deliveries if isinstance(deliveries, dict) else None,
        )


def parse_ledger(note: str | None, where: str) -> dict[str, Entry]:
    """The ledger of a note's text (empty without a note); InputError when it is not one."""
    from gitrot.errors import InputError

    if note is None:
        return {}
    try:
        data = json.loads(note)
        entries = data["ledger"]
        return {str(name): Entry.from_dict(entry) for name, entry in entries.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(
            f"the gitrot note is not one gitrot wrote ({type(exc).__name__})",
            where=where,
            hint="refs/notes/gitrot holds the reconciler's notes; do not edit them by hand",
        ) from None


def render_note(
    *,
    commit: str,
    previous: str | None,
    reconciler: Mapping[str, str],
    started_at: str,
    finished_at: str,
    applied: list[dict[str, object]],
    deliveries: list[dict[str, object]],
    refused: list[dict[str, object]],
    ledger: Mapping[str, Entry],
) -> str:
    document = {
        "gitrot_note": NOTE_VERSION,
        "commit": commit,
        "previous": previous,
        "reconciler": dict(reconciler),
        "started_at": started_at,
        "finished_at": finished_at,
        "applied": applied,
        "deliveries": deliveries,
        "refused": refused,
        "ledger": {name: ledger[name].as_dict() for name in sorted(ledger)},
    }
    return json.dumps(document, indent=1, sort_keys=False) + "\n"
