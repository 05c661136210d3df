"""The backend interface: what the reconciler needs of a secret manager.

A backend stores versions of secrets. The reconciler writes version N of a secret exactly
once: :meth:`Backend.write` is idempotent on the ``key`` derived from (name, version) by
:func:`idempotency_key`, so a reconciler killed after a write and run again (or four run at
once) never stores a second value for the same version. A value never leaves a backend
except through :meth:`Backend.read`, as a :class:`~gitrot.core.secret.SecretValue`.

Backend types are registered under the entry-point group ``gitrot.backends``: the entry
point names a class (or callable) taking ``(name, options, context)`` and returning a
:class:`Backend`; ``options`` is the backend's mapping in gitrot.yaml (without ``type``),
``context`` a :class:`BackendContext`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Protocol

    from gitrot.core.secret import SecretValue

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


class BackendError(Exception):
    """A backend cannot do what was asked; ``unreachable`` for a service that is down
    (exit 3 at the command line), otherwise a refusal (exit 1)."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unreachable = unreachable


class VersionConflict(BackendError):
    """The version exists with another idempotency key, or is below the newest."""


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


def idempotency_key(name: str, version: int) -> str:
    """The key of (name, version): the same in every run, on every machine."""
    import hashlib

    digest = hashlib.sha256(f"gitrot\0{name}\0{version}".encode()).hexdigest()
    return f"gr1-{digest[:40]}"


def delivery_id(key: str, trigger: str) -> str:
    """The delivery id of one trigger for one version: receivers deduplicate on it."""
    import hashlib

    return hashlib.sha256(f"{key}\0{trigger}".encode()).hexdigest()[:32]
