"""Rotation at the source: the two-phase apply of an intent that names a rotator
(docs/architecture.md, The reconciler).

For one item: the current value (``backend.read(ref)``, None when there is none), a new
value (generated or sealed) made into the pending one by ``rotator.prepare``, stored with
``write_pending``; then ``set`` at the source, marked ``set``; ``test``, marked ``tested``;
``promote`` (the version that was current becomes previous); then ``revoke(previous)`` when
the rotator has it. Each step is recorded in the backend before the next starts, so a run
stopped anywhere resumes at the next step, and always with the pending value the backend
holds (read back by version, never a new one). The consumers are told after promotion
only (:mod:`gitrot.reconcile.apply`).

A rotator that fails leaves the version pending and the current one unchanged: the item is
refused with one line ``NAME: rotator R failed at STEP: WHY`` (:class:`RotationFailed`,
exit 3). What each item did goes to its :class:`Progress`, which the note records: the
steps, the pending versions abandoned, a revoke that failed. Never a value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from gitrot.core.models import Config
from gitrot.core.ports import (
    ABANDONED,
    CURRENT,
    PROMOTED,
    SET,
    TESTED,
    WRITTEN,
    AppliedVersion,
    Backend,
    BackendError,
    Rotator,
    RotatorContext,
    RotatorError,
    StagedBackend,
    VersionConflict,
    idempotency_key,
)
from gitrot.core.secret import SecretValue
from gitrot.errors import GitrotError
from gitrot.reconcile import desired
from gitrot.reconcile.plan import Desired, Item
from gitrot.reconcile.wiring import Reconciler, warn

if TYPE_CHECKING:  # pygit2 is heavy: its types only
    from gitrot.git.repository import Commit

T = TypeVar("T")
REVOKED = "revoked"  # a step the note records after promoted (not a backend step)


class Progress:
    """What one item did in this run, for the note: its ``rotator`` (``""``: none), the
    ``steps`` done in order, the pending versions ``abandoned``, the step a failure stopped
    at (``failed_at``) and why a revoke failed (``revoke_failed``)."""

    __slots__ = ("abandoned", "failed_at", "revoke_failed", "rotator", "steps")

    def __init__(self, rotator: str = "") -> None:
        self.rotator = rotator
        self.steps: list[str] = []
        self.abandoned: list[int] = []
        self.failed_at = ""
        self.revoke_failed = ""

    def as_dict(self) -> dict[str, object]:
        """The fields the note adds to an item's record (none for a plain write)."""
        found: dict[str, object] = {}
        if self.rotator:
            found |= {"rotator": self.rotator, "steps": list(self.steps)}
        if self.abandoned:
            found["abandoned"] = list(self.abandoned)
        if self.failed_at:
            found["step"] = self.failed_at
        if self.revoke_failed:
            found["revoke_failed"] = self.revoke_failed
        return found


class RotationFailed(RotatorError):
    """A rotator failed: the message is the whole reason, ``NAME: rotator R failed at
    STEP: WHY`` (exit 3)."""


class Refused(GitrotError):
    """An item that cannot be rotated; the message is the whole reason (exit 1)."""


def abandon(backend: Backend, want: Desired, version: int, progress: Progress) -> None:
    """Mark the pending ``version`` (below the desired one) abandoned: never current."""
    if not isinstance(backend, StagedBackend):
        raise Refused(f"backend {want.backend} holds a pending version but cannot abandon it")
    backend.mark(want.ref, version, ABANDONED, key=idempotency_key(want.name, version))
    progress.abandoned.append(version)


def rotate(
    reconciler: Reconciler,
    item: Item,
    backend: Backend,
    *,
    commit: Commit,
    config: Config,
    fresh: Callable[[], SecretValue],
    progress: Progress,
) -> tuple[AppliedVersion, bool, list[str]]:
    """Rotate ``item``'s desired version at its source, from the step the backend records;
    ``fresh()`` makes a new value (generated or sealed). ``(record, found, values to hide
    from the consumers' output)``."""
    want = item.desired
    if not isinstance(backend, StagedBackend):
        raise Refused(
            f"backend {want.backend} cannot hold a pending version, so rotator "
            f"{want.rotator} cannot rotate {want.name} at the source"
        )
    if item.abandon is not None:
        abandon(backend, want, item.abandon, progress)
    key = idempotency_key(want.name, want.version)
    record = _mine(backend.get(want.ref, want.version), want, key)
    found = record is not None
    if record is not None and record.step == PROMOTED:
        return finish(backend, want, record), found, []
    if record is not None and record.step == ABANDONED:
        raise Refused(f"version {want.version} was abandoned in backend {want.backend}")
    current = current_value(backend, want, item.applied)
    rotator = open_rotator(reconciler, want, commit=commit, config=config)
    try:
        if record is None:
            generated = fresh()
            prepared = _call(want, "prepare", lambda: rotator.prepare(generated, current), progress)
            record = _mine(
                backend.write_pending(
                    want.ref, want.version, prepared, name=want.name, commit=str(commit.id),
                    key=key,
                ),
                want, key,
            )  # fmt: skip
            assert record is not None  # noqa: S101 - _mine of a record is a record
            progress.steps.append(WRITTEN)
        # the value the backend holds: a rerun (or another reconciler) uses the same one
        pending = backend.read(want.ref, want.version)
        record = advance(backend, rotator, want, record, (pending, current), progress)
    finally:
        rotator.close()
    return record, found, [pending.reveal()]


def advance(  # noqa: PLR0917 - the item, its record and both values
    backend: StagedBackend,
    rotator: Rotator,
    want: Desired,
    record: AppliedVersion,
    values: tuple[SecretValue, SecretValue | None],
    progress: Progress,
) -> AppliedVersion:
    """From ``record``'s step: set, test, promote (each recorded before the next), then
    revoke the value that was current."""
    pending, current = values
    key = idempotency_key(want.name, want.version)
    if record.step == WRITTEN:
        _call(want, SET, lambda: rotator.set(pending, current), progress)
        record = backend.mark(want.ref, want.version, SET, key=key)
        progress.steps.append(SET)
    if record.step == SET:
        _call(want, "test", lambda: rotator.test(pending), progress)
        record = backend.mark(want.ref, want.version, TESTED, key=key)
        progress.steps.append(TESTED)
    if record.step == TESTED:
        record = backend.promote(want.ref, want.version, key=key)
        progress.steps.append(PROMOTED)
        _revoke(rotator, want, current, progress)
    if record.step != PROMOTED:  # abandoned by a newer version meanwhile
        raise Refused(
            f"version {want.version} is {record.step} in backend {want.backend}, not promoted"
        )
    return record


def finish(backend: Backend, want: Desired, record: AppliedVersion) -> AppliedVersion:
    """A promoted version this run did not promote: promote it again (idempotent), which
    finishes what a run killed inside ``promote`` left (vault's ``gitrot-pending/`` copy,
    the ``AWSPENDING`` label, GCP's sibling versions: the value stays at the pending place
    until then)."""
    if not isinstance(backend, StagedBackend) or record.step != PROMOTED:
        return record
    return backend.promote(want.ref, want.version, key=idempotency_key(want.name, want.version))


def _revoke(
    rotator: Rotator, want: Desired, previous: SecretValue | None, progress: Progress
) -> None:
    """``rotator.revoke(previous)`` when it has one; a failure is a warning and recorded
    (the version is promoted: the consumers are told all the same)."""
    revoke = getattr(rotator, "revoke", None)
    if not callable(revoke) or previous is None:
        return
    try:
        _call(want, "revoke", lambda: revoke(previous), progress)
        progress.steps.append(REVOKED)
    except RotatorError as exc:
        progress.failed_at = ""
        progress.revoke_failed = exc.message
        warn(exc.message)


def current_value(
    backend: Backend, want: Desired, have: AppliedVersion | None
) -> SecretValue | None:
    """The value consumers read now (``read(ref)``: never a pending one); None when no
    version was promoted yet."""
    if have is None:
        return None
    try:
        return backend.read(want.ref)
    except BackendError as exc:
        if exc.unreachable or have.stage == CURRENT:
            raise
        return None  # only pending (or abandoned) versions: nothing is current yet


def open_rotator(
    reconciler: Reconciler, want: Desired, *, commit: Commit, config: Config
) -> Rotator:
    """The item's rotator, told the secret, its version, the root and how to read another
    secret's current value; a rotator that cannot be opened refuses the item with a reason
    located in gitrot.yaml."""
    context = RotatorContext(
        name=want.name,
        version=want.version,
        root=reconciler.root,
        read_secret=lambda name: read_secret(reconciler, want.rotator, name, commit, config),
    )
    try:
        return reconciler.rotator(config, want.rotator, context)
    except RotatorError as exc:
        raise RotationFailed(reason(want, "open", exc.message), hint=exc.hint) from None
    except GitrotError as exc:
        raise Refused(reconciler.config_problem(commit, "rotators", want.rotator, exc)) from None


def read_secret(
    reconciler: Reconciler, rotator: str, name: str, commit: Commit, config: Config
) -> SecretValue:
    """The current value of the secret ``name`` at ``commit`` (an admin credential kept
    as a secret of its own); RotatorError when it cannot be read or has none."""
    try:
        intent, ref = desired.open_intent(commit, reconciler.prefix, name, reconciler.identities)
        backend = reconciler.backend(config, intent.backend)
        try:
            return backend.read(ref)
        finally:
            reconciler.close(backend)
    except GitrotError as exc:
        raise RotatorError(
            f"rotator {rotator} cannot read the secret {name!r}: {exc.message}",
            hint="reconcile that secret first: a rotator reads its current value",
        ) from None


def reason(want: Desired, step: str, why: str) -> str:
    """``NAME: rotator R failed at STEP: WHY`` (a rotator's own message that names itself
    and the step is kept as it is)."""
    if why.startswith(f"rotator {want.rotator}") and f"failed at {step}" in why:
        return f"{want.name}: {why}"
    return f"{want.name}: rotator {want.rotator} failed at {step}: {why}"


def _call(want: Desired, step: str, call: Callable[[], T], progress: Progress) -> T:
    """``call()``, a rotator's step; any failure becomes :class:`RotationFailed` (the
    message of an error that is not gitrot's is never shown: it might hold a value)."""
    try:
        return call()
    except RotationFailed:
        progress.failed_at = step
        raise
    except GitrotError as exc:
        progress.failed_at = step
        raise RotationFailed(reason(want, step, exc.message), step=step, hint=exc.hint) from None
    except Exception as exc:
        progress.failed_at = step
        why = f"unexpected {type(exc).__name__} (a bug in the rotator)"
        raise RotationFailed(reason(want, step, why), step=step) from None


def _mine(record: AppliedVersion | None, want: Desired, key: str) -> AppliedVersion | None:
    if record is not None and record.key != key:
        raise VersionConflict(
            f"version {want.version} of its ref in {want.backend} was written for another "
            f"secret ({record.name}); a backend location belongs to one secret"
        )
    return record
