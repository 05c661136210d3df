"""Applying a plan: write each version once, then tell its consumers (docs/architecture.md).

A value is written under the idempotency key of its (name, version), so a rerun (or a
second reconciler) finds it and never stores another; consumers are told after the write,
with a delivery id derived from the same key, so a rerun tells them again with the same
id. An intent with a rotator is rotated at its source first, in two phases
(:mod:`gitrot.reconcile.rotation`), and its consumers are told after promotion only. Items
run ``jobs`` at a time; one that fails is refused with a reason that names the file and
never holds a value, and the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait

from gitrot.core.models import GeneratedValue, SealedValue
from gitrot.core.ports import (
    AppliedVersion,
    Backend,
    BackendError,
    Delivery,
    Receipt,
    Trigger,
    VersionConflict,
    delivery_id,
    idempotency_key,
)
from gitrot.core.secret import SecretValue
from gitrot.errors import GitrotError, InputError
from gitrot.git.repository import read_blob, resolve
from gitrot.reconcile import rotation, values
from gitrot.reconcile.observe import Planned
from gitrot.reconcile.plan import RECORD, REFUSE, RESUME, WRITE, Desired, Item
from gitrot.reconcile.rotation import Progress, Refused, RotationFailed
from gitrot.reconcile.wiring import Reconciler
from gitrot.triggers.redact import redact_receipt

#: what an item done returns: the version's record, the receipts, whether it was found
Done = tuple[AppliedVersion, list[Receipt], bool]
GRACE_S = 0.5  # interrupted: how long running items get to finish (the forced exit is at 1.5 s)


class Outcome:
    """What a run did: the commit, its plan, the records of this run (for the note), and
    whether anything failed (refused items, failed deliveries)."""

    __slots__ = (
        "applied", "commit", "deliveries", "items", "noop", "progress", "refused",
        "rotator_failed", "state", "unreachable",
    )  # fmt: skip

    def __init__(self, commit: str, items: list[Item]) -> None:
        self.commit = commit
        self.items = items
        self.applied: list[dict[str, object]] = []
        self.deliveries: list[dict[str, object]] = []
        self.refused: list[dict[str, object]] = []
        self.unreachable: list[str] = []
        self.rotator_failed = False  # the first unreachable reason is a rotator's
        self.progress: dict[str, Progress] = {}
        self.noop = False
        self.state: str | None = None

    @property
    def failed(self) -> bool:
        return bool(self.refused) or any(d["ok"] is not True for d in self.deliveries)

    def refuse(self, want: Desired, reason: str) -> None:
        refused: dict[str, object] = {"name": want.name, "version": want.version}
        refused["reason"] = reason
        progress = self.progress.get(want.name)
        if progress is not None:
            refused |= progress.as_dict()
        self.refused.append(refused)

    def failure(self, want: Desired, exc: BaseException) -> None:
        """An item that raised: refused with a reason that names the file and carries no
        value (GitrotError messages never hold one; others are named by type)."""
        if isinstance(exc, BackendError):
            reason = f"backend {want.backend}: {exc.message}"
            if exc.unreachable:
                self.unreachable.append(reason)
        elif isinstance(exc, RotationFailed):
            reason = exc.message  # NAME: rotator R failed at STEP: WHY
            self.rotator_failed = self.rotator_failed or not self.unreachable
            self.unreachable.append(reason)
        elif isinstance(exc, Refused):
            reason = exc.message
        elif isinstance(exc, GitrotError):
            reason = f"{exc.message} ({exc.location() or want.path})"
        else:
            reason = f"unexpected {type(exc).__name__} (a bug in gitrot; {want.path})"
        self.refuse(want, reason)


def apply(
    reconciler: Reconciler,
    planned: Planned,
    outcome: Outcome,
    *,
    jobs: int,
    on_done: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Done], BaseException | None]:
    """Run the items (``jobs`` at a time; each secret is one item): ``({name: result of an
    item done}, the interruption that stopped the run or None)``; refusals go to
    ``outcome``. Interrupted, the items not started are dropped, the running ones get
    :data:`GRACE_S` to finish, and what finished is returned for the records.
    ``on_done(done, total)`` is called as each item finishes (a progress bar's callback,
    :func:`gitrot.ui.progress`)."""
    runnable, backends, triggers = _runnable(reconciler, planned, outcome)
    for item in runnable:
        outcome.progress[item.desired.name] = Progress(item.desired.rotator)
    results: dict[str, Done] = {}
    failures: dict[str, BaseException] = {}
    stopped: BaseException | None = None
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    futures: dict[Future[Done], Item] = {}
    try:
        for item in runnable:
            progress = outcome.progress[item.desired.name]
            job = pool.submit(one, reconciler, item, backends, triggers, planned, progress)
            futures[job] = item
        for future in as_completed(futures):
            _collect(future, futures[future], results, failures)
            if on_done is not None:
                on_done(len(results) + len(failures), len(runnable))
    except BaseException as exc:  # an interruption (SIGINT/SIGTERM raise in this thread)
        stopped = exc
        pool.shutdown(wait=False, cancel_futures=True)
        finished, _running = wait(list(futures), timeout=GRACE_S)
        for future in finished:
            if not future.cancelled():
                _collect(future, futures[future], results, failures)
    finally:
        pool.shutdown(wait=stopped is None, cancel_futures=True)
        if stopped is None:
            for backend in backends.values():
                reconciler.close(backend)
    for item in runnable:
        failure = failures.get(item.desired.name)
        if failure is not None:
            outcome.failure(item.desired, failure)
    return results, stopped


def _runnable(
    reconciler: Reconciler, planned: Planned, outcome: Outcome
) -> tuple[list[Item], dict[str, Backend], dict[str, Trigger]]:
    """The items to run, with the backends and triggers they use; the refused ones, and
    those whose backend or trigger cannot be opened, go to ``outcome``."""
    work: list[Item] = []
    for item in planned.items:
        if item.action == REFUSE:
            outcome.refuse(item.desired, item.reason)
        else:
            work.append(item)
    commit, config = planned.commit, planned.config
    backends, broken = reconciler.open_backends(commit, config, {i.desired.backend for i in work})
    triggers, broken_triggers = reconciler.open_triggers(commit, config, work)
    runnable = []
    for item in work:
        why = broken.get(item.desired.backend) or next(
            (broken_triggers[t] for t in item.triggers if t in broken_triggers), ""
        )
        if why:
            outcome.refuse(item.desired, why)
        else:
            runnable.append(item)
    return runnable, backends, triggers


def _collect(
    future: Future[Done],
    item: Item,
    results: dict[str, Done],
    failures: dict[str, BaseException],
) -> None:
    exc = future.exception()
    if exc is None:
        results[item.desired.name] = future.result()
    else:
        failures[item.desired.name] = exc


def one(  # noqa: PLR0917 - one item and what it needs of the run
    reconciler: Reconciler,
    item: Item,
    backends: Mapping[str, Backend],
    triggers: Mapping[str, Trigger],
    planned: Planned,
    progress: Progress | None = None,
) -> Done:
    """Write (unless the version is there already: then ``found``), or rotate at the source
    (an intent with a rotator), and tell consumers."""
    want = item.desired
    backend = backends[want.backend]
    commit_id = str(planned.commit.id)
    progress = progress if progress is not None else Progress(want.rotator)
    key = idempotency_key(want.name, want.version)
    hidden: list[str] = []  # the value written: no receipt's detail may show it
    if want.rotator and item.action in (WRITE, RESUME):

        def fresh() -> SecretValue:
            if item.applied is not None:
                check_location(backend, want)
            return new_value(reconciler, want, commit_id)

        rotated, found, hidden = rotation.rotate(
            reconciler, item, backend, commit=planned.commit, config=planned.config,
            fresh=fresh, progress=progress,
        )  # fmt: skip
        return rotated, fire(item, rotated, backend, triggers, commit_id, hidden), found
    if item.abandon is not None:
        rotation.abandon(backend, want, item.abandon, progress)
    record = backend.get(want.ref, want.version) if item.action == WRITE else item.applied
    found = record is not None
    if record is None:
        if item.applied is not None:
            check_location(backend, want)
        value = new_value(reconciler, want, commit_id)
        hidden.append(value.reveal())
        record = backend.write(
            want.ref, want.version, value, name=want.name, commit=commit_id, key=key
        )
    if record is None or record.key != key:
        other = record.name if record is not None else "?"
        raise VersionConflict(
            f"version {want.version} of its ref in {want.backend} was written for another "
            f"secret ({other}); a backend location belongs to one secret"
        )
    if want.rotator and item.action == RECORD:  # promoted by a run that may have died in it
        record = rotation.finish(backend, want, record)
    return record, fire(item, record, backend, triggers, commit_id, hidden), found


def fire(  # noqa: PLR0917 - the item, its record and where to tell
    item: Item,
    record: AppliedVersion,
    backend: Backend,
    triggers: Mapping[str, Trigger],
    commit_id: str,
    hidden: list[str],
) -> list[Receipt]:
    """Tell the item's consumers about its version; their output redacted of ``hidden``
    (and of the stored value, read again for a retried delivery)."""
    want = item.desired
    key = idempotency_key(want.name, want.version)
    receipts = []
    for name in item.triggers:
        delivery = Delivery(
            name=want.name,
            version=want.version,
            commit=commit_id,
            delivery_id=delivery_id(key, name),
            backend=want.backend,
            backend_id=record.backend_id,
        )
        receipt = triggers[name].fire(delivery)
        if not receipt.ok and not hidden:  # a retried delivery: redact the stored value
            hidden.extend(_stored_value(backend, want.ref, want.version))
        receipts.append(redact_receipt(receipt, hidden))
    return receipts


def _stored_value(backend: Backend, ref: str, version: int) -> list[str]:
    """The value of ``version`` for redacting a consumer's output (none if unreadable)."""
    try:
        return [backend.read(ref, version).reveal()]
    except BackendError:
        return []


def check_location(backend: Backend, want: Desired) -> None:
    """VersionConflict when any version of the ref was written for another secret."""
    listing = getattr(backend, "versions", None)
    if callable(listing):
        records = list(listing(want.ref))
    else:
        newest = backend.current([want.ref]).get(want.ref)
        top = newest.version if newest is not None else 0
        records = [r for v in range(1, top + 1) if (r := backend.get(want.ref, v)) is not None]
    for record in records:
        if record.name != want.name:
            raise VersionConflict(
                f"its ref in {want.backend} holds version {record.version} written for another "
                f"secret ({record.name}); a backend location belongs to one secret"
            )


def new_value(reconciler: Reconciler, want: Desired, commit_id: str) -> SecretValue:
    """A new value: generated, or opened from the sealed document at the commit."""
    settings = want.value
    if isinstance(settings, GeneratedValue):
        return values.generate(settings)
    if isinstance(settings, SealedValue):
        data = read_blob(resolve(reconciler.repo, commit_id), reconciler.prefix + settings.path)
        if data is None:
            raise InputError("the sealed value document is missing", where=settings.path)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(
                "the sealed value document is not UTF-8", where=settings.path
            ) from None
        try:
            return values.open_sealed(text, settings.path, reconciler.identities)
        except GitrotError as exc:
            raise exc.at(settings.path) from None
    raise InputError("an intent without a value setting cannot be applied", where=want.path)
