"""The plugin ports: what the reconciler needs of a secret manager and of a consumer.

Pure (imports only the standard library, :mod:`gitrot.core.secret` and
:mod:`gitrot.errors`). A plugin author imports
the interface from here::

    from gitrot.core.ports import AppliedVersion, Backend, BackendError, Delivery, Receipt

Both Protocols are ``runtime_checkable``: ``isinstance(obj, Backend)`` checks the methods.

A backend stores versions of secrets. The reconciler writes version N of a secret exactly
once: :meth:`Backend.write` is idempotent on the ``key`` derived from (name, version) by
:func:`idempotency_key`, so a reconciler killed after a write and run again (or four run at
once) never stores a second value for the same version. A value never leaves a backend
except through :meth:`Backend.read`, as a :class:`~gitrot.core.secret.SecretValue`.

A trigger never sees the value: a :class:`Delivery` names the secret, its version, the
commit and a delivery id (:func:`delivery_id`) that is the same on every attempt and every
run, so receivers can deduplicate (delivery is at least once). :meth:`Trigger.fire` never
raises for a failed delivery: it returns a :class:`Receipt` with ``ok`` False.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from gitrot.core.secret import SecretValue
from gitrot.errors import BackendError, VersionConflict

__all__ = [
    "AppliedVersion",
    "Backend",
    "BackendContext",
    "BackendError",
    "Delivery",
    "Receipt",
    "Trigger",
    "VersionConflict",
    "delivery_id",
    "idempotency_key",
]


@runtime_checkable
class Backend(Protocol):
    """One configured backend (``backends.<name>`` in gitrot.yaml)."""

    name: str

    def current(self, refs: Iterable[str]) -> dict[str, AppliedVersion]:
        """The newest version gitrot wrote for each of ``refs`` (absent when none)."""
        ...

    def get(self, ref: str, version: int) -> AppliedVersion | None:
        """The record of ``version`` of ``ref``, or None when it was never written."""
        ...

    def write(
        self, ref: str, version: int, value: SecretValue, *, name: str, commit: str, key: str
    ) -> AppliedVersion:
        """Store ``value`` as ``version`` of ``ref`` unless that version exists.

        Idempotent: when ``version`` exists with the same ``key``, return its record and
        store nothing (the caller's value is discarded); with another key, raise
        :class:`VersionConflict`. A version below the newest is refused
        (:class:`VersionConflict`): rollback is a new version. Concurrent writers of the
        same version: exactly one stores, the others get the stored record.
        """
        ...

    def read(self, ref: str, version: int | None = None) -> SecretValue:
        """The value of ``version`` (default: the newest) of ``ref``."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Trigger(Protocol):
    """One configured trigger (``triggers.<name>`` in gitrot.yaml)."""

    name: str

    def fire(self, delivery: Delivery) -> Receipt:
        """Tell the consumer; never raises for a failed delivery (``ok`` False)."""
        ...


class AppliedVersion:
    """What a backend holds for one version of one secret (never the value).

    ``backend_id`` is the backend's own id of the version (a file name, a Vault version
    number, an AWS VersionId); ``written_at`` epoch seconds; ``stage`` ``current`` or
    ``previous`` (``pending`` during a source rotation).
    """

    __slots__ = ("backend_id", "commit", "key", "name", "ref", "stage", "version", "written_at")

    def __init__(
        self,
        *,
        ref: str,
        version: int,
        name: str,
        commit: str,
        key: str,
        backend_id: str,
        written_at: int,
        stage: str = "current",
    ) -> None:
        self.ref = ref
        self.version = version
        self.name = name
        self.commit = commit
        self.key = key
        self.backend_id = backend_id
        self.written_at = written_at
        self.stage = stage

    def as_dict(self) -> dict[str, object]:
        return {slot: getattr(self, slot) for slot in self.__slots__}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AppliedVersion) and other.as_dict() == self.as_dict()

    def __hash__(self) -> int:
        return hash(tuple(self.as_dict().items()))

    def __repr__(self) -> str:
        return f"AppliedVersion({self.ref!r} v{self.version}, {self.backend_id!r})"


class BackendContext:
    """What a backend may need besides its options: the policy repository's root (relative
    paths in options are relative to it), the age recipients values are encrypted to, and
    the identities that open them (text of an age identity file, possibly empty)."""

    __slots__ = ("identities", "recipients", "root")

    def __init__(self, *, root: str, recipients: tuple[str, ...], identities: str) -> None:
        self.root = root
        self.recipients = recipients
        self.identities = identities


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


def idempotency_key(name: str, version: int) -> str:
    """The key of (name, version): the same in every run, on every machine."""
    import hashlib  # ~2.5 ms: the validate hook loads this module, never these keys

    digest = hashlib.sha256(f"gitrot\0{name}\0{version}".encode()).hexdigest()
    return f"gr1-{digest[:40]}"


def delivery_id(key: str, trigger: str) -> str:
    """The delivery id of one trigger for one version: receivers deduplicate on it."""
    import hashlib

    return hashlib.sha256(f"{key}\0{trigger}".encode()).hexdigest()[:32]
