"""The trigger interface: tell a consumer that a secret has a new version.

A trigger never sees the value: a :class:`Delivery` names the secret, its version, the
commit and a delivery id that is the same on every attempt and every run, so receivers can
deduplicate (delivery is at least once). :meth:`Trigger.fire` never raises for a failed
delivery: it returns a :class:`Receipt` with ``ok`` False, which the reconciler records and
retries on its next run; a failed trigger never rolls back a written version.

Trigger types are registered under the entry-point group ``gitrot.triggers``: the entry
point names a class (or callable) taking ``(name, options, environ)``; ``options`` is the
trigger's mapping in gitrot.yaml (without ``type``), ``environ`` the environment
credentials come from (never the config).
"""

from __future__ import annotations

import threading

#: set when the reconciler is interrupted: no trigger starts a command or a retry any more
STOPPING = threading.Event()

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Protocol

    class Trigger(Protocol):
        name: str

        def fire(self, delivery: Delivery) -> Receipt: ...


class Delivery:
    """One notification: ``name`` (the secret), ``version``, ``commit`` (the reconciled
    commit), ``delivery_id``, ``backend`` (the backend's name) and ``backend_id`` (its id of
    the version)."""

    __slots__ = ("backend", "backend_id", "commit", "delivery_id", "name", "version")

    def __init__(
        self,
        *,
        name: str,
        version: int,
        commit: str,
        delivery_id: str,
        backend: str,
        backend_id: str,
    ) -> None:
        self.name = name
        self.version = version
        self.commit = commit
        self.delivery_id = delivery_id
        self.backend = backend
        self.backend_id = backend_id

    def as_dict(self) -> dict[str, object]:
        return {slot: getattr(self, slot) for slot in self.__slots__}


class Receipt:
    """The outcome of a delivery: ``ok``, ``attempts``, ``detail`` (an HTTP status, an exit
    code, a timeout; never a value), ``at`` (epoch seconds of the last attempt)."""

    __slots__ = ("at", "attempts", "delivery_id", "detail", "ok", "trigger")

    def __init__(
        self, *, trigger: str, delivery_id: str, ok: bool, attempts: int, detail: str, at: int
    ) -> None:
        self.trigger = trigger
        self.delivery_id = delivery_id
        self.ok = ok
        self.attempts = attempts
        self.detail = detail
        self.at = at

    def as_dict(self) -> dict[str, object]:
        return {slot: getattr(self, slot) for slot in self.__slots__}

    def redacted(self, values: Sequence[str] = ()) -> Receipt:
        """This receipt with ``values`` (in any encoding) and anything shaped like a
        credential taken out of its detail (:func:`gitrot.triggers.redact.redact`): the
        reconciler passes every receipt, of any trigger type, through it."""
        from gitrot.triggers.redact import redact

        return Receipt(
            trigger=self.trigger,
            delivery_id=self.delivery_id,
            ok=self.ok,
            attempts=self.attempts,
            detail=redact(str(self.detail), values),
            at=self.at,
        )
