"""Recording a run: the note, then the signed state, then ``refs/gitrot/reconciled``
(docs/architecture.md, What the reconciler writes into git).

The records move last, after every write and delivery: killed before, the next run finds
the versions in the backends (by their idempotency keys) and records them then.
"""

from __future__ import annotations

import getpass
import os
import re
import socket
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from gitrot.core.layout import SIGNING_KEY, name_of_path, relative_to_secrets
from gitrot.core.models import Config
from gitrot.core.ports import idempotency_key
from gitrot.core.timefmt import rfc3339
from gitrot.git import sshsig
from gitrot.git import state as refs
from gitrot.keys import age
from gitrot.reconcile import ledger
from gitrot.reconcile.apply import Done, Outcome
from gitrot.reconcile.ledger import Entry, parse_note, render_note
from gitrot.reconcile.observe import Planned
from gitrot.reconcile.plan import TRIGGER
from gitrot.reconcile.wiring import Reconciler, warn

if TYPE_CHECKING:  # pygit2 is heavy: its types only
    import pygit2

    from gitrot.git.repository import Repo

_OID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
WHO = ("gitrot reconciler", "gitrot@localhost")


def record(  # noqa: PLR0917
    reconciler: Reconciler,
    planned: Planned,
    outcome: Outcome,
    results: Mapping[str, Done],
    previous: str | None,
    started: datetime,
    now: Callable[[], datetime],
    stopped: BaseException | None,
) -> None:
    """The note, then the state, then (a whole run only) ``refs/gitrot/reconciled``."""
    repo = reconciler.repo
    commit_id = outcome.commit
    entries = _entries(planned, results, outcome)
    new_state = _write_state(reconciler, planned, entries, results)
    text = refs.read_note(repo, commit_id)
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
        reconciler=_who(reconciler),
        started_at=started_at or rfc3339(started),
        finished_at=rfc3339(now()),
        applied=_merged(earlier, "applied", outcome.applied),
        deliveries=_merged(earlier, "deliveries", outcome.deliveries),
        refused=outcome.refused,
        interrupted=stopped is not None,
    )
    refs.write_note(repo, commit_id, note, who=WHO)
    if new_state != planned.state.head and new_state is not None:
        refs.move_state(repo, new_state, planned.state.head)
    outcome.state = new_state
    if stopped is None and previous != commit_id:
        refs.advance(repo, commit_id, previous)


def _entries(planned: Planned, results: Mapping[str, Done], outcome: Outcome) -> dict[str, Entry]:
    """The new state entries of the items done; records of this run go to ``outcome``."""
    entries: dict[str, Entry] = {}
    key = planned.state.owner_key
    for item in planned.items:
        want = item.desired
        result = results.get(want.name)
        if result is None:
            continue
        version, receipts, found = result
        if item.action != TRIGGER:
            outcome.applied.append(
                {
                    "name": want.name,
                    "version": want.version,
                    "backend": want.backend,
                    "backend_version_id": version.backend_id,
                    "idempotency_key": version.key,
                    "written_at": version.written_at,
                    "found": found,
                    "superseded": list(item.superseded),
                }
                | progress_of(outcome, want.name)
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
            backend_id=version.backend_id,
            key=version.key,
            deliveries=deliveries,
            owns=(ledger.owner_hash(key, want.backend, want.ref),),
        )
    return entries


def progress_of(outcome: Outcome, name: str) -> dict[str, object]:
    """What a rotation at the source did for ``name`` (its rotator, steps, the versions it
    abandoned), for the note; nothing for a plain write."""
    progress = outcome.progress.get(name)
    return progress.as_dict() if progress is not None else {}


def _write_state(
    reconciler: Reconciler,
    planned: Planned,
    entries: Mapping[str, Entry],
    results: Mapping[str, Done],
) -> str | None:
    """A new state commit (not yet on the ref) with ``entries`` and the settled intents; the
    current one when nothing changed. Signed with ``.gitrot/signing.key`` when there is one."""
    import pygit2

    repo = reconciler.repo
    current = planned.state
    base = current.tree if current.trusted else None
    changes: dict[str, str | None] = {}
    for name, entry in entries.items():
        changes[ledger.entry_path(name)] = refs.write_blob(repo, ledger.entry_text(name, entry))
    for path in planned.removed:
        gone = name_of_path(path)
        if gone and gone not in entries:
            changes[ledger.entry_path(gone)] = None
    for shard, owners in _owner_shards(planned, results).items():
        changes[shard] = refs.write_blob(repo, ledger.owners_text(owners))
    meta = ledger.meta_text(current.owner_key)
    if current.blob_at(ledger.META) != str(pygit2.hash(meta)):
        changes[ledger.META] = refs.write_blob(repo, meta)
    if base is not None and not current.owners_ok:
        base = _without(repo, base, ledger.OWNERS)
    root = (
        refs.update_tree(repo, base, changes)
        if changes
        else (str(base.id) if base is not None else None)
    )
    root = _with_subtree(repo, root, ledger.SETTLED, _settled_intents(reconciler, planned, results))
    if current.trusted and current.tree is not None and root == str(current.tree.id):
        return current.head
    parent = current.head if _is_commit(repo, current.head) else None
    sign = _signer(reconciler, planned.config)
    message = f"gitrot state: reconciled {planned.commit.id}\n"
    return refs.commit_state(repo, root, parent, message, WHO, sign)


def _settled_intents(
    reconciler: Reconciler, planned: Planned, results: Mapping[str, Done]
) -> str | None:
    """The state's ``intents/`` tree: the target's ``secrets/`` tree, but for the intents
    this run did not settle (applied and delivered), whose settled blobs are kept."""
    current = planned.state
    done = {name for name, (_, receipts, _) in results.items() if all(r.ok for r in receipts)}
    open_items = {i.desired.name for i in planned.items if i.desired.name not in done}
    unsettled: dict[str, str | None] = {}
    for path in planned.blobs:
        if (name_of_path(path) or path) in open_items:
            inner = relative_to_secrets(path)
            unsettled[inner] = current.blob_at(f"{ledger.SETTLED}/{inner}")
    target = planned.target
    if unsettled:
        return refs.update_tree(reconciler.repo, target, unsettled)
    return str(target.id) if target is not None else None


def _owner_shards(planned: Planned, results: Mapping[str, Done]) -> dict[str, dict[str, str]]:
    """The owner shards that gain a location: those of the items done, and those whose
    backend holds a version this secret wrote (by its idempotency key)."""
    current = planned.state
    shards: dict[str, dict[str, str]] = {}

    def own(backend: str, ref: str, name: str) -> None:
        digest = ledger.owner_hash(current.owner_key, backend, ref)
        if current.owner(digest) is None:
            shard = ledger.owner_shard(digest)
            if shard not in shards:
                shards[shard] = current.load_map(shard) if current.owners_ok else {}
            shards[shard].setdefault(digest, name)

    for item in planned.items:
        if item.desired.name in results:
            own(item.desired.backend, item.desired.ref, item.desired.name)
    for (backend, ref), have in planned.applied.items():
        if have is not None and have.key == idempotency_key(have.name, have.version):
            own(backend, ref, have.name)
    return shards


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


def _signer(reconciler: Reconciler, config: Config) -> Callable[[bytes], str] | None:
    """Sign with ``.gitrot/signing.key``; None (and a warning) without a usable key."""
    path = os.path.join(reconciler.root, SIGNING_KEY)
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


def _who(reconciler: Reconciler) -> dict[str, str]:
    recipients = [age.recipient_of(i) for i in reconciler.identities]
    return {
        "host": socket.gethostname(),
        "user": getpass.getuser(),
        "recipient": next((r for r in recipients if r), ""),
    }
