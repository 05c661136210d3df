"""One reconciliation: read git and the backends, plan, apply, record (DESIGN.md section 4).

Crash safety comes from the order and from idempotency, not from a journal: a value is
written under the idempotency key of its (name, version), so a rerun (or a second
reconciler) finds it and never stores another; consumers are told after the write, with a
delivery id derived from the same key, so a rerun tells them again with the same id; the
note and ``refs/gitrot/reconciled`` move last. Killed anywhere, the next run converges to
the state an uninterrupted run would have left.
"""

from __future__ import annotations

from gitrot.errors import GitrotError

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime

    from gitrot.backends.base import AppliedVersion, Backend, BackendError
    from gitrot.core.models import Config
    from gitrot.core.secret import SecretValue
    from gitrot.git.repo import Commit, Repo
    from gitrot.reconcile.ledger import Entry
    from gitrot.reconcile.plan import Item
    from gitrot.triggers.base import Receipt, Trigger

MAX_RACES = 8


class Outcome:
    """What a run did: the commit, its plan, the records of this run (for the note), and
    whether anything failed (refused items, failed deliveries)."""

    __slots__ = ("applied", "commit", "deliveries", "items", "noop", "refused", "unreachable")

    def __init__(self, commit: str, items: list[Item]) -> None:
        self.commit = commit
        self.items = items
        self.applied: list[dict[str, object]] = []
        self.deliveries: list[dict[str, object]] = []
        self.refused: list[dict[str, object]] = []
        self.unreachable: list[str] = []
        self.noop = False

    @property
    def failed(self) -> bool:
        return bool(self.refused) or any(d["ok"] is not True for d in self.deliveries)


class Session:
    """The repository, its policy root and the reconciler's identity, for one command."""

    __slots__ = ("environ", "identities", "prefix", "repo", "root")

    def __init__(self, root: str, environ: Mapping[str, str]) -> None:
        from gitrot.git.repo import open_repo

        self.root = root
        self.environ = environ
        self.repo = open_repo(root)
        self.prefix = _prefix(self.repo, root)
        self.identities = identities(root, environ)


def plan(session: Session, rev: str, *, now: datetime) -> tuple[str, list[Item], Config]:
    """(target commit id, items, config at the target) without changing anything."""
    from gitrot.git.repo import resolve
    from gitrot.git.state import reconciled

    return _plan(
        session, resolve(session.repo, rev), _ledger(session, reconciled(session.repo)), now=now
    )


def _ledger(session: Session, previous: str | None) -> dict[str, Entry]:
    """The ledger of the note on the last reconciled commit (empty without one)."""
    from gitrot.git.state import read_note
    from gitrot.reconcile.ledger import parse_ledger

    return parse_ledger(
        read_note(session.repo, previous) if previous else None, "refs/notes/gitrot"
    )


def _plan(
    session: Session, commit: Commit, ledger: Mapping[str, Entry], *, now: datetime
) -> tuple[str, list[Item], Config]:
    from gitrot.reconcile import desired
    from gitrot.reconcile.plan import make_plan

    config = desired.read_config(commit, session.prefix)
    blobs = desired.intent_blobs(commit, session.prefix)
    paths = desired.candidates(blobs, ledger)
    wanted = desired.load(
        session.repo, commit, session.prefix, paths, blobs, config, session.identities, now=now
    )
    applied = applied_versions(session, config, wanted)
    return str(commit.id), make_plan(wanted, applied, ledger), config


def reconcile(
    session: Session,
    rev: str,
    *,
    jobs: int = 4,
    push: str | None = None,
    now: Callable[[], datetime],
) -> Outcome:
    """Apply the plan at ``rev`` and record it; with ``push``, publish the note and the ref
    to that remote with compare-and-swap, re-reading and retrying after a lost race."""
    from gitrot.git import state

    for _attempt in range(MAX_RACES):
        expected: dict[str, str] = {}
        if push is not None:
            # the lease is read before the fetch: a push in between makes ours fail (and
            # retry), never overwrite what the other reconciler published
            expected = state.remote_refs(session.repo, push)
            state.fetch(session.repo, push)
        try:
            outcome = _once(session, rev, jobs=jobs, now=now)
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

    local = state.reconciled(session.repo)
    if local is not None and expected.get(state.RECONCILED_REF) != local:
        state.push(session.repo, remote, dict(expected))


def _once(session: Session, rev: str, *, jobs: int, now: Callable[[], datetime]) -> Outcome:
    from gitrot.git import state
    from gitrot.git.repo import resolve
    from gitrot.policy.input import rfc3339
    from gitrot.reconcile.ledger import render_note

    started = now()
    previous = state.reconciled(session.repo)
    commit = resolve(session.repo, rev)
    _not_older(session, str(commit.id), previous)
    ledger = _ledger(session, previous)
    commit_id, items, config = _plan(session, commit, ledger, now=started)
    outcome = Outcome(commit_id, items)
    if not items and previous == commit_id:
        outcome.noop = True
        return outcome
    ledger = _apply(session, config, items, ledger, outcome, commit_id, jobs=jobs)
    _forget_deleted(ledger, commit, session.prefix)
    earlier = _earlier_note(session, commit_id)
    before = earlier.get("previous", previous) if earlier else previous
    note = render_note(
        commit=commit_id,
        previous=before if isinstance(before, str) or before is None else previous,
        reconciler=_who(session),
        started_at=str(earlier.get("started_at")) if earlier else rfc3339(started),
        finished_at=rfc3339(now()),
        applied=_merged(earlier, "applied", outcome.applied),
        deliveries=_merged(earlier, "deliveries", outcome.deliveries),
        refused=outcome.refused,
        ledger=ledger,
    )
    state.write_note(session.repo, commit_id, note, who=("gitrot reconciler", "gitrot@localhost"))
    if previous != commit_id:
        state.advance(session.repo, commit_id, previous)
    if outcome.unreachable:
        from gitrot.errors import EnvironmentFailure

        raise EnvironmentFailure(
            outcome.unreachable[0],
            hint="the rest is applied and recorded; run again once the backend is back",
        )
    return outcome


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


def _earlier_note(session: Session, commit_id: str) -> dict[str, object] | None:
    """The note a previous run left on this commit (a rerun adds to it, never drops what
    that run applied)."""
    import json

    from gitrot.git import state

    text = state.read_note(session.repo, commit_id)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _merged(
    earlier: dict[str, object] | None, key: str, new: list[dict[str, object]]
) -> list[dict[str, object]]:
    """The records of the earlier note and this run's, one per (name, version[, trigger]);
    this run's win."""
    old = earlier.get(key) if earlier else None
    records = [r for r in old if isinstance(r, dict)] if isinstance(old, list) else []

    def ident(record: dict[str, object]) -> tuple[object, ...]:
        return (record.get("name"), record.get("version"), record.get("trigger"))

    fresh = {ident(r) for r in new}
    return [r for r in records if ident(r) not in fresh] + new


def _apply(  # noqa: PLR0917
    session: Session,
    config: Config,
    items: list[Item],
    ledger: dict[str, Entry],
    outcome: Outcome,
    commit_id: str,
    *,
    jobs: int,
) -> dict[str, Entry]:
    """Run the items (``jobs`` at a time; each secret is one item) and return the new
    ledger; records go to ``outcome``."""
    from concurrent.futures import ThreadPoolExecutor

    from gitrot.backends.base import BackendError
    from gitrot.reconcile.plan import REFUSE

    backends = _backends(session, config, items)
    triggers = _triggers(session, config, items)
    work = [item for item in items if item.action != REFUSE]
    for item in items:
        if item.action == REFUSE:
            d = item.desired
            outcome.refused.append({"name": d.name, "version": d.version, "reason": item.reason})
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            done = list(
                pool.map(lambda it: _guarded(session, it, backends, triggers, commit_id), work)
            )
    finally:
        for backend in backends.values():
            backend.close()
    for item, result in zip(work, done, strict=True):
        if isinstance(result, BackendError):
            d = item.desired
            reason = f"backend {d.backend}: {result.message}"
            outcome.refused.append({"name": d.name, "version": d.version, "reason": reason})
            if result.unreachable:
                outcome.unreachable.append(reason)
            continue
        record, receipts, found = result
        _note_item(item, record, receipts, found, ledger, outcome)
    return ledger


def _guarded(
    session: Session,
    item: Item,
    backends: Mapping[str, Backend],
    triggers: Mapping[str, Trigger],
    commit_id: str,
) -> tuple[AppliedVersion, list[Receipt], bool] | BackendError:
    """:func:`_one`, a backend's failure returned: one secret's failure never stops the
    others (it is recorded as refused; an unreachable backend ends the run with exit 3
    once the note is written)."""
    from gitrot.backends.base import BackendError

    try:
        return _one(session, item, backends, triggers, commit_id)
    except BackendError as exc:
        return exc


def _one(
    session: Session,
    item: Item,
    backends: Mapping[str, Backend],
    triggers: Mapping[str, Trigger],
    commit_id: str,
) -> tuple[AppliedVersion, list[Receipt], bool]:
    """Write (unless the version is there already: then ``found``) and tell consumers."""
    from gitrot.backends.base import VersionConflict, delivery_id, idempotency_key
    from gitrot.reconcile.plan import WRITE
    from gitrot.triggers.base import Delivery

    want = item.desired
    backend = backends[want.backend]
    key = idempotency_key(want.name, want.version)
    record = backend.get(want.ref, want.version) if item.action == WRITE else item.applied
    found = record is not None
    if record is None:
        value = _value(session, want, commit_id)
        record = backend.write(
            want.ref, want.version, value, name=want.name, commit=commit_id, key=key
        )
    if record is None or record.key != key:
        other = record.name if record is not None else "?"
        raise VersionConflict(
            f"version {want.version} of its ref in {want.backend} was written for another "
            f"secret ({other}); two intents must not share a ref"
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
        receipts.append(triggers[name].fire(delivery))
    return record, receipts, found


def _value(session: Session, want: object, commit_id: str) -> SecretValue:
    """A new value: generated, or opened from the sealed document at the commit."""
    from gitrot.core.models import GeneratedValue, SealedValue
    from gitrot.git.repo import read_blob, resolve
    from gitrot.reconcile import values

    settings = getattr(want, "value", None)
    if isinstance(settings, GeneratedValue):
        return values.generate(settings)
    if isinstance(settings, SealedValue):
        commit: Commit = resolve(session.repo, commit_id)
        data = read_blob(commit, session.prefix + settings.path)
        if data is None:
            from gitrot.errors import InputError

            raise InputError("the sealed value document is missing", where=settings.path)
        return values.open_sealed(data.decode("utf-8"), settings.path, session.identities)
    raise ValueError("an intent without a value setting cannot be applied")


def _note_item(  # noqa: PLR0917
    item: Item,
    record: AppliedVersion,
    receipts: list[Receipt],
    found: bool,
    ledger: dict[str, Entry],
    outcome: Outcome,
) -> None:
    from gitrot.reconcile.ledger import Entry
    from gitrot.reconcile.plan import TRIGGER

    want = item.desired
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
    previous = ledger.get(want.name)
    deliveries: dict[str, dict[str, object]] = {}
    if previous is not None and previous.version == want.version:
        deliveries = {k: v for k, v in previous.deliveries.items() if k in want.consumers}
    for receipt in receipts:
        deliveries[receipt.trigger] = {
            "delivery_id": receipt.delivery_id,
            "ok": receipt.ok,
            "at": receipt.at,
            "attempts": receipt.attempts,
        }
        outcome.deliveries.append({"name": want.name, "version": want.version, **receipt.as_dict()})
    ledger[want.name] = Entry(
        blob=want.blob,
        version=want.version,
        backend=want.backend,
        backend_id=record.backend_id,
        key=record.key,
        deliveries=deliveries,
    )


def _forget_deleted(ledger: dict[str, Entry], commit: Commit, prefix: str) -> None:
    from gitrot.core.models import name_of_path
    from gitrot.reconcile.desired import intent_blobs

    present = {name_of_path(path) for path in intent_blobs(commit, prefix)}
    for name in [n for n in ledger if n not in present]:
        del ledger[name]


def applied_versions(
    session: Session, config: Config, wanted: Sequence[object]
) -> dict[tuple[str, str], AppliedVersion | None]:
    from gitrot.reconcile.plan import Desired

    by_backend: dict[str, list[str]] = {}
    for want in wanted:
        assert isinstance(want, Desired)  # noqa: S101 - the list holds Desired
        if not want.problem:
            by_backend.setdefault(want.backend, []).append(want.ref)
    found: dict[tuple[str, str], AppliedVersion | None] = {}
    for name, refs in by_backend.items():
        backend = backend_for(session, config, name)
        try:
            current = _current(backend, refs, wanted)
        finally:
            backend.close()
        for ref in refs:
            found[(name, ref)] = current.get(ref)
    return found


def _backends(session: Session, config: Config, items: list[Item]) -> dict[str, Backend]:
    from gitrot.reconcile.plan import REFUSE

    names = {i.desired.backend for i in items if i.action != REFUSE}
    return {name: backend_for(session, config, name) for name in sorted(names)}


def backend_for(session: Session, config: Config, name: str) -> Backend:
    from gitrot.backends.base import BackendContext
    from gitrot.backends.registry import open_backend
    from gitrot.errors import ConfigError

    spec = config.backends.get(name)
    if spec is None:
        raise ConfigError(f"no backend {name!r} in gitrot.yaml", where="gitrot.yaml")
    context = BackendContext(
        root=session.root,
        recipients=tuple(config.recipients.values()),
        identities=_identity_text(session.root, session.environ),
    )
    return open_backend(name, spec.type, spec.options, context)


def _triggers(session: Session, config: Config, items: list[Item]) -> dict[str, Trigger]:
    from gitrot.errors import ConfigError
    from gitrot.triggers.registry import open_trigger

    found: dict[str, Trigger] = {}
    for item in items:
        for name in item.triggers:
            if name in found:
                continue
            spec = config.triggers.get(name)
            if spec is None:
                raise ConfigError(f"no trigger {name!r} in gitrot.yaml", where="gitrot.yaml")
            found[name] = open_trigger(
                name, spec.type, spec.options, session.environ, root=session.root
            )
    return found


def _identity_text(root: str, environ: Mapping[str, str]) -> str:
    """The reconciler's identity file text: ``.gitrot/reconciler.key`` (``gitrot init``
    puts it there), else the file ``SOPS_AGE_KEY_FILE`` names, else ``SOPS_AGE_KEY``."""
    import os

    for path in (os.path.join(root, ".gitrot", "reconciler.key"), environ.get("SOPS_AGE_KEY_FILE")):
        if path and os.path.isfile(path):
            with open(path, encoding="utf-8") as stream:
                return stream.read()
    return environ.get("SOPS_AGE_KEY", "")


def identities(root: str, environ: Mapping[str, str]) -> list[object]:
    import os

    from gitrot.sops import age

    found = age.parse_identities(_identity_text(root, environ), source="reconciler identity")
    found.extend(age.load_identities(environ, home=os.path.expanduser("~")))
    return found


def _who(session: Session) -> dict[str, str]:
    import getpass
    import socket

    from gitrot.sops import age

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
    backend: Backend, refs: list[str], wanted: Sequence[object]
) -> dict[str, AppliedVersion]:
    """``backend.current(refs)``; when it refuses, ref by ref: an intent whose ref the
    backend refuses gets that as its ``problem`` (refused alone); an unreachable backend
    is an EnvironmentFailure (exit 3)."""
    from gitrot.backends.base import BackendError
    from gitrot.errors import EnvironmentFailure
    from gitrot.reconcile.plan import Desired

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
                if isinstance(want, Desired) and want.ref == ref and want.backend == backend.name:
                    want.problem = f"backend {backend.name}: {exc.message}"
    return found
