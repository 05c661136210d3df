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

from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from gitrot.core.secret import SecretValue
from gitrot.errors import BackendError, RotatorError, VersionConflict

__all__ = [
    "ABANDONED",
    "CURRENT",
    "PENDING",
    "PREVIOUS",
    "PROMOTED",
    "SET",
    "TESTED",
    "WRITTEN",
    "AppliedVersion",
    "Backend",
    "BackendContext",
    "BackendError",
    "Delivery",
    "Receipt",
    "Rotator",
    "RotatorContext",
    "RotatorError",
    "StagedBackend",
    "Trigger",
    "VersionConflict",
    "delivery_id",
    "idempotency_key",
]

# The stages of a version (AppliedVersion.stage), as AWS names them AWSPENDING,
# AWSCURRENT, AWSPREVIOUS: a version written for a rotation at the source is ``pending``
# until its rotator has set and tested it, then promoted to ``current``; the version that
# was current becomes ``previous``. A version written without a rotator is current at once.
PENDING, CURRENT, PREVIOUS = "pending", "current", "previous"
# The steps of a rotation at the source (AppliedVersion.step), in order: the pending value
# is ``written``, the rotator ``set`` it at the source, it ``tested`` it, the version was
# ``promoted``; or a newer version in git ``abandoned`` it while it was pending. A version
# written without a rotator has the step ``promoted``. Each step is recorded in the backend
# (StagedBackend.mark) before the next starts, so a killed run resumes at the next step with
# the same pending value.
WRITTEN, SET, TESTED, PROMOTED, ABANDONED = "written", "set", "tested", "promoted", "abandoned"


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
class StagedBackend(Backend, Protocol):
    """A backend that can hold a version as ``pending`` before it is ``current``: needed by
    intents whose ``spec.source`` names a rotator (two-phase apply). gitrot's own backends
    all are; an intent with a rotator on a backend that is not is refused.

    With pending versions, :meth:`Backend.current` still answers the newest version gitrot
    wrote (its ``stage`` and ``step`` say whether it is pending), while
    :meth:`Backend.read` without a version reads the current (promoted) one: consumers never
    see a pending value unless they ask for its version.
    """

    def write_pending(
        self, ref: str, version: int, value: SecretValue, *, name: str, commit: str, key: str
    ) -> AppliedVersion:
        """Store ``value`` as ``version`` of ``ref`` with stage ``pending`` and step
        ``written``; the current version stays current. Idempotent on ``key`` exactly as
        :meth:`Backend.write` (same key: the stored record, the new value discarded; another
        key: VersionConflict; below the newest: VersionConflict)."""
        ...

    def mark(self, ref: str, version: int, step: str, *, key: str) -> AppliedVersion:
        """Record that the pending ``version`` reached ``step`` (:data:`SET`,
        :data:`TESTED` or :data:`ABANDONED`); idempotent; a step never goes back (marking
        ``set`` on a ``tested`` version keeps ``tested``). VersionConflict when the version
        was written with another key; BackendError when it is not pending."""
        ...

    def promote(self, ref: str, version: int, *, key: str) -> AppliedVersion:
        """Make the pending ``version`` current (step ``promoted``) and the version that was
        current ``previous``, atomically where the manager can (AWS moves AWSCURRENT with one
        call); idempotent (a promoted version returns its record)."""
        ...


class RotatorContext:
    """What a rotator is told besides its options: the secret (``name``) and ``version``
    being rotated, the policy repository's ``root`` (relative paths in options are relative
    to it), and ``read_secret(name)``: the current value of another gitrot secret (an admin
    credential kept as a secret of its own, AWS's "master secret"); it raises
    :class:`RotatorError` when that secret has no current value."""

    __slots__ = ("name", "read_secret", "root", "version")

    def __init__(
        self,
        *,
        name: str,
        version: int,
        root: str,
        read_secret: Callable[[str], SecretValue],
    ) -> None:
        self.name = name
        self.version = version
        self.root = root
        self.read_secret = read_secret


@runtime_checkable
class Rotator(Protocol):
    """One configured rotator (``rotators.<name>`` in gitrot.yaml), opened for one item as
    ``factory(name, options, context)``: it changes a credential at its source.

    The reconciler calls, each at most once per run and each again on a rerun until its step
    is recorded: :meth:`prepare` (before the pending version is written), :meth:`set`,
    :meth:`test`, and, after promotion, ``revoke(previous)`` when the rotator has it (for
    strategies that must disable the credential that just stopped being current-or-previous;
    the optional method is found with ``getattr``). ``set`` and ``test`` are idempotent: a
    rerun after a kill calls them again with the same pending value. A failure raises
    :class:`RotatorError` whose message never holds a value.
    """

    name: str

    def prepare(self, generated: SecretValue, current: SecretValue | None) -> SecretValue:
        """The value to store as pending, made from the ``generated`` (or sealed) value and
        the current one: e.g. the alternating-users strategy returns JSON naming the role not
        in use. Most rotators return ``generated``."""
        ...

    def set(self, pending: SecretValue, current: SecretValue | None) -> None:
        """Make the source accept ``pending`` (``current`` keeps working where the strategy
        allows)."""
        ...

    def test(self, pending: SecretValue) -> None:
        """Prove the source accepts ``pending`` (log in with it); RotatorError if not."""
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
    number, an AWS VersionId); ``written_at`` epoch seconds; ``stage`` :data:`CURRENT`,
    :data:`PREVIOUS` or :data:`PENDING` (a rotation at the source not promoted yet);
    ``step`` how far that rotation went (:data:`WRITTEN` ... :data:`PROMOTED`, or
    :data:`ABANDONED`); a version written without a rotator is :data:`PROMOTED`.
    """

    __slots__ = (
        "backend_id", "commit", "key", "name", "ref", "stage", "step", "version", "written_at",
    )  # fmt: skip

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
        stage: str = CURRENT,
        step: str = PROMOTED,
    ) -> None:
        self.ref = ref
        self.version = version
        self.name = name
        self.commit = commit
        self.key = key
        self.backend_id = backend_id
        self.written_at = written_at
        self.stage = stage
        self.step = step

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
