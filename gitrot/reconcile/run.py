"""One reconciliation: read git and the backends, plan, apply, record (docs/architecture.md).

Crash safety comes from the order and from idempotency, not from a journal: a value is
written under the idempotency key of its (name, version), so a rerun (or a second
reconciler) finds it and never stores another; consumers are told after the write, with a
delivery id derived from the same key, so a rerun tells them again with the same id; the
records move last: the note (what this run did), then ``refs/gitrot/state`` (the signed
state, :mod:`gitrot.reconcile.ledger`), then ``refs/gitrot/reconciled``. Killed anywhere,
the next run converges to the state an uninterrupted run would have left; interrupted
(SIGINT, SIGTERM), a run records what it finished before it stops.

One failing item never stops the others: a sealed value that does not open, a backend or
trigger that cannot be opened or fails, a location another secret owns: that item is
refused with a reason (the file, ``gitrot.yaml:LINE`` for configuration; never a value),
the rest is applied and recorded.
"""

from __future__ import annotations

import re

from gitrot.core.layout import CONFIG_FILE, RECONCILER_KEY, SIGNING_KEY
from gitrot.errors import GitrotError

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from concurrent.futures import Future
    from datetime import datetime

    import pygit2

    from gitrot.backends.base import AppliedVersion, Backend
    from gitrot.core.models import Config
    from gitrot.core.secret import SecretValue
    from gitrot.git.repository import Commit, Repo
    from gitrot.reconcile.ledger import Entry, State
    from gitrot.reconcile.plan import Desired, Item
    from gitrot.triggers.base import Receipt, Trigger

    Done = tuple[AppliedVersion, list[Receipt], bool]

MAX_RACES = 8
_OID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
GRACE_S = 0.5  # interrupted: how long running items get to finish (the forced exit is at 1.5 s)
WHO = ("gitrot reconciler", "gitrot@localhost")


class Outcome:
    """What a run did: the commit, its plan, the records of this run (for the note), and
    whether anything failed (refused items, failed deliveries)."""

    __slots__ = (
        "applied", "commit", "deliveries", "items", "noop", "refused", "state", "unreachable",
    )  # fmt: skip

    def __init__(self, commit: str, items: list[Item]) -> None:
        self.commit = commit
        self.items = items
        self.applied: list[dict[str, object]] = []
        self.deliveries: list[dict[str, object]] = []
        self.refused: list[dict[str, object]] = []
        self.unreachable: list[str] = []
        self.noop = False
        self.state: str | None = None

    @property
    def failed(self) -> bool:
        return bool(self.refused) or any(d["ok"] is not True for d in self.deliveries)


class Session:
    """The repository, its policy root and the reconciler's identity, for one command, and
    where its backends and triggers come from.

    ``backends`` and ``triggers`` (by name) are handed to the run: a name given there is
    used as it is (and never closed: the caller owns it); any other name is opened from
    gitrot.yaml at the target commit (:meth:`from_config`, what the commands use).
    """

    __slots__ = (
        "backends", "environ", "identities", "owner_key", "prefix", "repo", "root", "triggers",
    )  # fmt: skip

    def __init__(
        self,
        root: str,
        environ: Mapping[str, str],
        *,
        backends: Mapping[str, Backend] | None = None,
        triggers: Mapping[str, Trigger] | None = None,
    ) -> None:
        from gitrot.git.repository import open_repo
        from gitrot.reconcile.ledger import owner_key

        self.root = root
        self.environ = environ
        self.backends: Mapping[str, Backend] = backends or {}
        self.triggers: Mapping[str, Trigger] = triggers or {}
        self.repo = open_repo(root)
        self.prefix = _prefix(self.repo, root)
        self.identities = identities(root, environ)
        self.owner_key = owner_key(_identity_text(root, environ))

    @classmethod
    def from_config(cls, root: str, environ: Mapping[str, str]) -> Session:
        """A session that opens every backend and trigger from gitrot.yaml."""
        return cls(root, environ)

    def close(self, backend: Backend) -> None:
        """Close ``backend`` unless it was handed to the session (its owner closes it)."""
        if self.backends.get(backend.name) is not backend:
            backend.close()


class Planned:
    """A plan and what it was made from."""

    __slots__ = ("applied", "blobs", "commit", "config", "items", "removed", "state", "target")

    def __init__(  # noqa: PLR0917
        self,
        commit: Commit,
        config: Config,
        state: State,
        target: pygit2.Tree | None,
        blobs: dict[str, str],
        removed: list[str],
        applied: dict[tuple[str, str], AppliedVersion | None],
        items: list[Item],
    ) -> None:
        self.commit = commit
        self.config = config
        self.state = state
        self.target = target
        self.blobs = blobs
        self.removed = removed
        self.applied = applied
        self.items = items


def warn(text: str) -> None:
    from gitrot import output

    output.info(f"gitrot: warning: {text}")


def plan(
    session: Session, rev: str, *, now: datetime, full: bool = False
) -> tuple[str, list[Item], Config]:
    """(target commit id, items, config at the target) without changing anything."""
    from gitrot.git.repository import resolve
    from gitrot.reconcile import desired

    commit = resolve(session.repo, rev)
    config = desired.read_config(commit, session.prefix)
    planned = _plan(session, commit, config, read_state(session, config), now=now, full=full)
    return str(commit.id), planned.items, config


def read_state(session: Session, config: Config) -> State:
    """The state, trusted when it verifies with ``reconciler.signing_key`` at the target;
    otherwise a one-line warning and an untrusted (empty) state: compare everything."""
    from gitrot.reconcile.ledger import load_state

    state, why = load_state(session.repo, config.signing_key, session.owner_key)
    if why:
        warn(f"{why}; comparing every intent with its backend" if not state.trusted else why)
    return state


def _plan(
    session: Session,
    commit: Commit,
    config: Config,
    state: State,
    *,
    now: datetime,
    full: bool,
) -> Planned:
    from gitrot.reconcile import desired
    from gitrot.reconcile.ledger import owner_hash
    from gitrot.reconcile.plan import make_plan

    target = desired.secrets_tree(session.repo, commit, session.prefix)
    settled = state.settled() if state.trusted else None
    # without a trusted state, settled is None and every intent counts as changed
    blobs, removed = desired.changed_intents(session.repo, target, settled)
    if full and state.trusted:
        blobs = desired.intent_blobs(commit, session.prefix)
    wanted = desired.load(
        session.repo,
        commit,
        session.prefix,
        sorted(blobs),
        blobs,
        config,
        session.identities,
        now=now,
        settled=settled,
    )
    ledger: dict[str, Entry] = {}
    for want in wanted:
        entry = state.entry(want.name) if state.trusted else None
        if entry is not None:
            ledger[want.name] = entry
    applied = applied_versions(session, config, wanted, commit)
    owners: dict[tuple[str, str], str] = {}
    for want in wanted:
        if not want.problem:
            owner = state.owner(owner_hash(session.owner_key, want.backend, want.ref))
            if owner is not None:
                owners[(want.backend, want.ref)] = owner
    items = make_plan(wanted, applied, ledger, owners)
    return Planned(commit, config, state, target, blobs, removed, applied, items)


def reconcile(
    session: Session,
    rev: str,
    *,
    jobs: int = 4,
    push: str | None = None,
    full: bool = False,
    now: Callable[[], datetime],
) -> Outcome:
    """Apply the plan at ``rev`` and record it; with ``push``, publish the state, the note
    and the ref to that remote with compare-and-swap, re-reading and retrying after a lost
    race."""
    from gitrot.git import state

    for _attempt in range(MAX_RACES):
        expected: dict[str, str] = {}
        if push is not None:
            # the lease is read before the fetch: a push in between makes ours fail (and
            # retry), never overwrite what the other reconciler published
            expected = state.remote_refs(session.repo, push)
            state.fetch(session.repo, push)
        try:
            outcome = _once(session, rev, jobs=jobs, now=now, full=full)
            if push is not None and not outcome.noop:
                state.push(session.repo, push, expected)
            elif push is not None and outcome.noop:
                _push_if_behind(session, push, expected)
            return outcome
        except state.LostRace:
            continue
    raise GitrotError(
        f"gave up after {MAX_RACES} lost races with other reconcilers",
        hint="run again; the work done so far is kept (writes are idempotent)",
    )


def _push_if_behind(session: Session, remote: str, expected: Mapping[str, str]) -> None:
    from gitrot.git import state

    local = {
        state.RECONCILED_REF: state.reconciled(session.repo),
        state.STATE_REF: state.state_head(session.repo),
    }
    if any(oid is not None and expected.get(ref) != oid for ref, oid in local.items()):
        state.push(session.repo, remote, dict(expected))


def _once(
    session: Session, rev: str, *, jobs: int, now: Callable[[], datetime], full: bool
) -> Outcome:
    from gitrot.git import state as refs
    from gitrot.git.repository import resolve
    from gitrot.reconcile import desired

    started = now()
    previous = refs.reconciled(session.repo)
    commit = resolve(session.repo, rev)
    commit_id = str(commit.id)
    _not_older(session, commit_id, previous)
    config = desired.read_config(commit, session.prefix)
    current = read_state(session, config)
    planned = _plan(session, commit, config, current, now=started, full=full)
    outcome = Outcome(commit_id, planned.items)
    settled = current.settled()
    in_step = current.trusted and _same(settled, planned.target)
    if not planned.items and previous == commit_id and in_step:
        outcome.noop = True
        outcome.state = current.head
        return outcome
    results, stopped = _apply(session, planned, outcome, jobs=jobs)
    _record(session, planned, outcome, results, previous, started, now, stopped)
    if stopped is not None:
        raise stopped
    if outcome.unreachable:
        from gitrot.errors import EnvironmentFailure

        raise EnvironmentFailure(
            outcome.unreachable[0],
            hint="the rest is applied and recorded; run again once the backend is back",
        )
    return outcome


def _same(a: pygit2.Tree | None, b: pygit2.Tree | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(a.id == b.id)


def _not_older(session: Session, target: str, previous: str | None) -> None:
    """Refuse a target older than the reconciled commit: its desired versions are behind
    what was applied (a rollback is a new version), and the ref never moves back."""
    from gitrot.errors import InputError

    if previous is None or previous == target:
        return
    if session.repo.descendant_of(previous, target):
        raise InputError(
            f"{target[:12]} is older than the reconciled commit {previous[:12]}",
            where="refs/gitrot/reconciled",
            hint="reconcile the branch's head; to roll a secret back, rotate it to a new "
            "version with the old value",
        )


# --- applying ------------------------------------------------------------------------------


def _apply(
    session: Session, planned: Planned, outcome: Outcome, *, jobs: int
) -> tuple[dict[str, Done], BaseException | None]:
    """Run the items (``jobs`` at a time; each secret is one item): ``({name: result of an
    item done}, the interruption that stopped the run or None)``; refusals go to
    ``outcome``. Interrupted, the items not started are dropped, the running ones get
    :data:`GRACE_S` to finish, and what finished is returned for the records."""
    from concurrent.futures import ThreadPoolExecutor, wait

    from gitrot.reconcile.plan import REFUSE

    items = planned.items
    commit_id = str(planned.commit.id)
    for item in items:
        if item.action == REFUSE:
            _refuse(outcome, item.desired, item.reason)
    work = [item for item in items if item.action != REFUSE]
    backends, broken_backends = _open_backends(session, planned, {i.desired.backend for i in work})
    triggers, broken_triggers = _open_triggers(session, planned, work)
    runnable = []
    for item in work:
        d = item.desired
        why = broken_backends.get(d.backend) or next(
            (broken_triggers[t] for t in item.triggers if t in broken_triggers), ""
        )
        if why:
            _refuse(outcome, d, why)
        else:
            runnable.append(item)
    results: dict[str, Done] = {}
    failures: dict[str, BaseException] = {}
    stopped: BaseException | None = None
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    futures: dict[Future[Done], Item] = {}
    try:
        for item in runnable:
            futures[pool.submit(_one, session, item, backends, triggers, commit_id)] = item
        for future in _completed(futures):
            _collect(future, futures[future], results, failures)
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
                session.close(backend)
    for item in runnable:
        failure = failures.get(item.desired.name)
        if failure is not None:
            _failed(outcome, item.desired, failure)
    return results, stopped


def _completed(futures: Mapping[Future[Done], Item]) -> list[Future[Done]]:
    """The futures in the order they finish (an interruption raises out of the wait)."""
    from concurrent.futures import as_completed

    return list(as_completed(futures))


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


def _refuse(outcome: Outcome, want: Desired, reason: str) -> None:
    outcome.refused.append({"name": want.name, "version": want.version, "reason": reason})


def _failed(outcome: Outcome, want: Desired, exc: BaseException) -> None:
    """An item that raised: refused with a reason that names the file and carries no value
    (GitrotError and BackendError messages never hold one; others are named by type)."""
    from gitrot.backends.base import BackendError

    if isinstance(exc, BackendError):
        reason = f"backend {want.backend}: {exc.message}"
        if exc.unreachable:
            outcome.unreachable.append(reason)
    elif isinstance(exc, GitrotError):
        where = exc.location() or want.path
        reason = f"{exc.message} ({where})"
    else:
        reason = f"unexpected {type(exc).__name__} (a bug in gitrot; {want.path})"
    _refuse(outcome, want, reason)


def _one(
    session: Session,
    item: Item,
    backends: Mapping[str, Backend],
    triggers: Mapping[str, Trigger],
    commit_id: str,
) -> Done:
    """Write (unless the version is there already: then ``found``) and tell consumers."""
    from gitrot.backends.base import VersionConflict, delivery_id, idempotency_key
    from gitrot.reconcile.plan import WRITE
    from gitrot.triggers.base import Delivery

    want = item.desired
    backend = backends[want.backend]
    key = idempotency_key(want.name, want.version)
    record = backend.get(want.ref, want.version) if item.action == WRITE else item.applied
    found = record is not None
    hidden: list[str] = []  # the value written: no receipt's detail may show it
    if record is None:
        if item.applied is not None:
            _check_location(backend, want)
        value = _value(session, want, commit_id)
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
        receipts.append(receipt.redacted(hidden))
    return record, receipts, found


def _stored_value(backend: Backend, ref: str, version: int) -> list[str]:
    """The value of ``version`` for redacting a consumer's output (none if unreadable)."""
    from gitrot.backends.base import BackendError

    try:
        return [backend.read(ref, version).reveal()]
    except BackendError:
        return []


def _check_location(backend: Backend, want: Desired) -> None:
    """VersionConflict when any version of the ref was written for another secret."""
    from gitrot.backends.base import VersionConflict

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


def _value(session: Session, want: Desired, commit_id: str) -> SecretValue:
    """A new value: generated, or opened from the sealed document at the commit."""
    from gitrot.core.models import GeneratedValue, SealedValue
    from gitrot.errors import InputError
    from gitrot.git.repository import read_blob, resolve
    from gitrot.reconcile import values

    settings = want.value
    if isinstance(settings, GeneratedValue):
        return values.generate(settings)
    if isinstance(settings, SealedValue):
        commit: Commit = resolve(session.repo, commit_id)
        data = read_blob(commit, session.prefix + settings.path)
        if data is None:
            raise InputError("the sealed value document is missing", where=settings.path)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(
                "the sealed value document is not UTF-8", where=settings.path
            ) from None
        try:
            return values.open_sealed(text, settings.path, session.identities)
        except GitrotError as exc:
            raise exc.at(settings.path) from None
    raise InputError("an intent without a value setting cannot be applied", where=want.path)


def _open_backends(
    session: Session, planned: Planned, names: set[str]
) -> tuple[dict[str, Backend], dict[str, str]]:
    """The backends by name, and why each one that cannot be opened cannot."""
    from gitrot.backends.base import BackendError

    opened: dict[str, Backend] = {}
    broken: dict[str, str] = {}
    for name in sorted(names):
        try:
            opened[name] = backend_for(session, planned.config, name)
        except (GitrotError, BackendError) as exc:
            broken[name] = _config_problem(session, planned.commit, "backends", name, exc)
    return opened, broken


def _open_triggers(
    session: Session, planned: Planned, items: list[Item]
) -> tuple[dict[str, Trigger], dict[str, str]]:
    """The triggers the items fire, and why each one that cannot be opened cannot."""
    from gitrot.triggers.registry import open_trigger

    found: dict[str, Trigger] = {}
    broken: dict[str, str] = {}
    for item in items:
        for name in item.triggers:
            if name in found or name in broken:
                continue
            given = session.triggers.get(name)
            if given is not None:
                found[name] = given
                continue
            spec = planned.config.triggers.get(name)
            if spec is None:
                broken[name] = (
                    f"no trigger {name!r} in gitrot.yaml (a consumer of {item.desired.path})"
                )
                continue
            try:
                found[name] = open_trigger(
                    name, spec.type, spec.options, session.environ, root=session.root
                )
            except GitrotError as exc:
                broken[name] = _config_problem(session, planned.commit, "triggers", name, exc)
    return found, broken


def _config_problem(
    session: Session, commit: Commit, section: str, name: str, exc: Exception
) -> str:
    """``<section> NAME cannot be used: WHY (gitrot.yaml:LINE)``."""
    message = getattr(exc, "message", "") or type(exc).__name__
    line = config_line(commit, session.prefix, section, name)
    where = f"{CONFIG_FILE}:{line}" if line else CONFIG_FILE
    kind = section.removesuffix("s")
    return f"{kind} {name} cannot be used: {message} ({where})"


def config_line(commit: Commit, prefix: str, section: str, name: str) -> int:
    """The line of ``section.name`` in gitrot.yaml at ``commit`` (0: not found)."""
    import re

    from gitrot.git.repository import read_blob

    data = read_blob(commit, prefix + CONFIG_FILE) or b""
    inside = False
    key = re.compile(rf"""\s+["']?{re.escape(name)}["']?\s*:""")
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if line[:1] not in ("", " ", "\t", "#"):
            inside = line.split(":", 1)[0].strip() == section
            continue
        if inside and key.match(line):
            return number
    return 0


# --- recording -----------------------------------------------------------------------------


def _record(  # noqa: PLR0917
    session: Session,
    planned: Planned,
    outcome: Outcome,
    results: Mapping[str, Done],
    previous: str | None,
    started: datetime,
    now: Callable[[], datetime],
    stopped: BaseException | None,
) -> None:
    """The note, then the state, then (a whole run only) ``refs/gitrot/reconciled``."""
    from gitrot.git import state as refs
    from gitrot.policy.input import rfc3339
    from gitrot.reconcile.ledger import parse_note, render_note

    commit_id = outcome.commit
    entries = _entries(planned, results, outcome)
    new_state = _write_state(session, planned, entries, results)
    text = refs.read_note(session.repo, commit_id)
    earlier = parse_note(text)
    if earlier is None and text is not None:
        warn(
            f"the note on {commit_id[:12]} in {refs.NOTES_REF} is not one gitrot wrote; "
            "replacing it"
        )
    # an earlier run's note on this commit: its start and the commit before it are kept
    # when they look like what gitrot writes (a note is never trusted, only kept)
    before = earlier.get("previous", previous) if earlier else previous
    started_at = earlier.get("started_at") if earlier else None
    if before is not None and not (isinstance(before, str) and _OID.fullmatch(before)):
        before = previous
    if not (isinstance(started_at, str) and _TIME.fullmatch(started_at)):
        started_at = None
    note = render_note(
        commit=commit_id,
        previous=before,
        state=new_state,
        reconciler=_who(session),
        started_at=started_at or rfc3339(started),
        finished_at=rfc3339(now()),
        applied=_merged(earlier, "applied", outcome.applied),
        deliveries=_merged(earlier, "deliveries", outcome.deliveries),
        refused=outcome.refused,
        interrupted=stopped is not None,
    )
    refs.write_note(session.repo, commit_id, note, who=WHO)
    if new_state != planned.state.head and new_state is not None:
        refs.move_state(session.repo, new_state, planned.state.head)
    outcome.state = new_state
    if stopped is None and previous != commit_id:
        refs.advance(session.repo, commit_id, previous)


def _entries(planned: Planned, results: Mapping[str, Done], outcome: Outcome) -> dict[str, Entry]:
    """The new state entries of the items done; records of this run go to ``outcome``."""
    from gitrot.reconcile.ledger import Entry, owner_hash
    from gitrot.reconcile.plan import TRIGGER

    entries: dict[str, Entry] = {}
    key = planned.state.owner_key
    for item in planned.items:
        want = item.desired
        result = results.get(want.name)
        if result is None:
            continue
        record, receipts, found = result
        if item.action != TRIGGER:
            outcome.applied.append(
                {
                    "name": want.name,
                    "version": want.version,
                    "backend": want.backend,
                    "backend_version_id": record.backend_id,
                    "idempotency_key": record.key,
                    "written_at": record.written_at,
                    "found": found,
                    "superseded": list(item.superseded),
                }
            )
        old = planned.state.entry(want.name) if planned.state.trusted else None
        deliveries: dict[str, dict[str, object]] = {}
        if old is not None and old.version == want.version:
            deliveries = {k: v for k, v in old.deliveries.items() if k in want.consumers}
        for receipt in receipts:
            deliveries[receipt.trigger] = {
                "delivery_id": receipt.delivery_id,
                "ok": receipt.ok,
                "at": receipt.at,
                "attempts": receipt.attempts,
            }
            outcome.deliveries.append(
                {"name": want.name, "version": want.version, **receipt.as_dict()}
            )
        entries[want.name] = Entry(
            blob=want.blob,
            version=want.version,
            backend=want.backend,
            backend_id=record.backend_id,
            key=record.key,
            deliveries=deliveries,
            owns=(owner_hash(key, want.backend, want.ref),),
        )
    return entries


def _write_state(
    session: Session, planned: Planned, entries: Mapping[str, Entry], results: Mapping[str, Done]
) -> str | None:
    """A new state commit (not yet on the ref) with ``entries`` and the settled intents; the
    current one when nothing changed. Signed with ``.gitrot/signing.key`` when there is one."""
    from gitrot.backends.base import idempotency_key
    from gitrot.core.layout import name_of_path, relative_to_secrets
    from gitrot.git import state as refs
    from gitrot.reconcile import ledger

    repo = session.repo
    current = planned.state
    key = current.owner_key
    base = current.tree if current.trusted else None
    # intents/: the target's secrets/ tree, but for the candidates not settled by this run
    done = {name for name, (_, receipts, _) in results.items() if all(r.ok for r in receipts)}
    open_items = {i.desired.name for i in planned.items if i.desired.name not in done}
    unsettled: dict[str, str | None] = {}
    for path in planned.blobs:
        if (name_of_path(path) or path) in open_items:
            inner = relative_to_secrets(path)
            unsettled[inner] = current.blob_at(f"{ledger.SETTLED}/{inner}")
    target = planned.target
    intents = (
        refs.update_tree(repo, target, unsettled)
        if unsettled
        else (str(target.id) if target is not None else None)
    )
    changes: dict[str, str | None] = {}
    for name, entry in entries.items():
        changes[ledger.entry_path(name)] = refs.write_blob(repo, ledger.entry_text(name, entry))
    for path in planned.removed:
        gone = name_of_path(path)
        if gone and gone not in entries:
            changes[ledger.entry_path(gone)] = None
    shards: dict[str, dict[str, str]] = {}

    def own(backend: str, ref: str, name: str) -> None:
        digest = ledger.owner_hash(key, backend, ref)
        if current.owner(digest) is None:
            shard = ledger.owner_shard(digest)
            if shard not in shards:
                shards[shard] = _shard(current, shard)
            shards[shard].setdefault(digest, name)

    for item in planned.items:
        if item.desired.name in results:
            own(item.desired.backend, item.desired.ref, item.desired.name)
    for (backend, ref), have in planned.applied.items():
        if have is not None and have.key == idempotency_key(have.name, have.version):
            own(backend, ref, have.name)
    for shard, owners in shards.items():
        changes[shard] = refs.write_blob(repo, ledger.owners_text(owners))
    import pygit2

    meta = ledger.meta_text(key)
    if current.blob_at(ledger.META) != str(pygit2.hash(meta)):
        changes[ledger.META] = refs.write_blob(repo, meta)
    if base is not None and not current.owners_ok:
        base = _without(repo, base, ledger.OWNERS)
    root = (
        refs.update_tree(repo, base, changes)
        if changes
        else (str(base.id) if base is not None else None)
    )
    root = _with_subtree(repo, root, ledger.SETTLED, intents)
    if current.trusted and current.tree is not None and root == str(current.tree.id):
        return current.head
    parent = current.head if _is_commit(repo, current.head) else None
    sign = _signer(session, planned.config)
    message = f"gitrot state: reconciled {planned.commit.id}\n"
    return refs.commit_state(repo, root, parent, message, WHO, sign)


def _shard(current: State, shard: str) -> dict[str, str]:
    return current.load_map(shard) if current.owners_ok else {}


def _without(repo: Repo, tree: pygit2.Tree, name: str) -> pygit2.Tree:
    builder = repo.TreeBuilder(tree)
    if builder.get(name) is not None:
        builder.remove(name)
    return repo[builder.write()]  # type: ignore[return-value]


def _with_subtree(repo: Repo, root: str | None, name: str, subtree: str | None) -> str:
    import pygit2

    builder = repo.TreeBuilder(repo[root]) if root is not None else repo.TreeBuilder()  # type: ignore[arg-type]
    if subtree is None:
        if builder.get(name) is not None:
            builder.remove(name)
    else:
        builder.insert(name, subtree, pygit2.GIT_FILEMODE_TREE)
    return str(builder.write())


def _is_commit(repo: Repo, oid: str | None) -> bool:
    import pygit2

    if oid is None:
        return False
    try:
        return isinstance(repo[oid], pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError):
        return False


def _signer(session: Session, config: Config) -> Callable[[bytes], str] | None:
    """Sign with ``.gitrot/signing.key``; None (and a warning) without a usable key."""
    import os

    from gitrot.git import sshsig

    path = os.path.join(session.root, SIGNING_KEY)
    if not os.path.isfile(path):
        if config.signing_key:
            warn(
                f"no {SIGNING_KEY}: the state is written unsigned and the next run compares "
                "every intent with its backend"
            )
        return None
    try:
        with open(path, "rb") as stream:
            key = sshsig.load_private(stream.read())
    except (OSError, ValueError, TypeError):
        warn(f"{SIGNING_KEY} is not an unencrypted Ed25519 OpenSSH key; the state is unsigned")
        return None
    if config.signing_key and sshsig.public_line(key).split()[:2] != config.signing_key.split()[:2]:
        warn(
            f"{SIGNING_KEY} is not the key reconciler.signing_key in gitrot.yaml names; "
            "the next run will not trust the state it writes"
        )
    return lambda data: sshsig.sign(key, data)


def _merged(
    earlier: dict[str, object] | None, key: str, new: list[dict[str, object]]
) -> list[dict[str, object]]:
    """The records of the earlier note and this run's, one per (name, version[, trigger]);
    this run's win. Records of the earlier note that are not what gitrot writes are
    dropped (a note is never trusted, only kept)."""
    old = earlier.get(key) if earlier else None
    records = [
        r
        for r in (old if isinstance(old, list) else [])
        if isinstance(r, dict) and isinstance(r.get("name"), str) and type(r.get("version")) is int
    ]

    def ident(record: dict[str, object]) -> tuple[object, ...]:
        return (record.get("name"), record.get("version"), record.get("trigger"))

    fresh = {ident(r) for r in new}
    return [r for r in records if ident(r) not in fresh] + new


# --- backends, identities ------------------------------------------------------------------


def applied_versions(
    session: Session, config: Config, wanted: Sequence[Desired], commit: Commit | None = None
) -> dict[tuple[str, str], AppliedVersion | None]:
    """``{(backend, ref): newest version}`` of the wanted intents; an intent whose backend
    cannot be opened or refuses its ref gets that as its ``problem`` (refused alone)."""
    from gitrot.backends.base import BackendError

    by_backend: dict[str, list[str]] = {}
    for want in wanted:
        if not want.problem:
            by_backend.setdefault(want.backend, []).append(want.ref)
    found: dict[tuple[str, str], AppliedVersion | None] = {}
    for name, refs in by_backend.items():
        try:
            backend = backend_for(session, config, name)
        except (GitrotError, BackendError) as exc:
            if commit is not None:
                why = _config_problem(session, commit, "backends", name, exc)
            else:
                why = f"backend {name} cannot be used: {getattr(exc, 'message', exc)}"
            for want in wanted:
                if want.backend == name and not want.problem:
                    want.problem = why
            continue
        try:
            current = _current(backend, refs, wanted)
        finally:
            session.close(backend)
        for ref in refs:
            found[(name, ref)] = current.get(ref)
    return found


def backend_for(session: Session, config: Config, name: str) -> Backend:
    """The backend ``name``: the one handed to the session, else opened from ``config``."""
    given = session.backends.get(name)
    if given is not None:
        return given
    from gitrot.backends.base import BackendContext
    from gitrot.backends.registry import open_backend
    from gitrot.errors import ConfigError

    spec = config.backends.get(name)
    if spec is None:
        raise ConfigError(f"no backend {name!r} in {CONFIG_FILE}", where=CONFIG_FILE)
    context = BackendContext(
        root=session.root,
        recipients=tuple(config.recipients.values()),
        identities=_identity_text(session.root, session.environ),
    )
    return open_backend(name, spec.type, spec.options, context)


def _identity_text(root: str, environ: Mapping[str, str]) -> str:
    """The reconciler's identity file text: ``.gitrot/reconciler.key`` (``gitrot init``
    puts it there), else the file ``SOPS_AGE_KEY_FILE`` names, else ``SOPS_AGE_KEY``."""
    import os

    for path in (os.path.join(root, RECONCILER_KEY), environ.get("SOPS_AGE_KEY_FILE")):
        if path and os.path.isfile(path):
            with open(path, encoding="utf-8") as stream:
                return stream.read()
    return environ.get("SOPS_AGE_KEY", "")


def identities(root: str, environ: Mapping[str, str]) -> list[object]:
    import os

    from gitrot.keys import age
    from gitrot.keys.identities import load_identities

    found = age.parse_identities(_identity_text(root, environ), source="reconciler identity")
    found.extend(load_identities(environ, home=os.path.expanduser("~")))
    return found


def _who(session: Session) -> dict[str, str]:
    import getpass
    import socket

    from gitrot.keys import age

    recipients = [age.recipient_of(i) for i in session.identities]
    return {
        "host": socket.gethostname(),
        "user": getpass.getuser(),
        "recipient": next((r for r in recipients if r), ""),
    }


def _prefix(repo: Repo, root: str) -> str:
    import os

    workdir = repo.workdir
    if not workdir:
        return ""
    relative = os.path.relpath(os.path.realpath(root), os.path.realpath(workdir))
    return "" if relative == "." else relative.replace(os.sep, "/") + "/"


def _current(
    backend: Backend, refs: list[str], wanted: Sequence[Desired]
) -> dict[str, AppliedVersion]:
    """``backend.current(refs)``; when it refuses, ref by ref: an intent whose ref the
    backend refuses gets that as its ``problem`` (refused alone); an unreachable backend
    is an EnvironmentFailure (exit 3)."""
    from gitrot.backends.base import BackendError
    from gitrot.errors import EnvironmentFailure

    try:
        return backend.current(refs)
    except BackendError as exc:
        if exc.unreachable:
            raise EnvironmentFailure(exc.message, where=f"backend {backend.name}") from None
    found: dict[str, AppliedVersion] = {}
    for ref in refs:
        try:
            found.update(backend.current([ref]))
        except BackendError as exc:
            if exc.unreachable:
                raise EnvironmentFailure(exc.message, where=f"backend {backend.name}") from None
            for want in wanted:
                if want.ref == ref and want.backend == backend.name:
                    want.problem = f"backend {backend.name}: {exc.message}"
    return found
