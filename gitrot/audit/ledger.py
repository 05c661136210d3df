"""The ledger: one :class:`~gitrot.audit.model.LedgerRow` per (secret, version) that reached
the main branch (docs/audit.md, "The ledger").

A version is on the ledger when a first-parent commit of main changed the intent's
``spec.version`` to it (against its first parent): that commit is the ``merge_commit``. The
commit that set it is that commit itself (a direct push, a squash merge, a rebased and
fast-forwarded branch), or, for a merge, the newest commit the merge brought in whose own
change set that version. Approvals are the ``Approved-by:`` and ``Reviewed-by:`` trailers
of that commit, then of the merge commit, then the merge commit's committer (``merge``),
every occurrence in order. The application is the first note at or after the merge that
records the version; deliveries come from every such note (the latest per trigger).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, cast

from gitrot.audit.history import History, IntentChange
from gitrot.audit.model import UNCHECKED, UNSIGNED, Approval, Delivery, LedgerRow, Signature
from gitrot.audit.signatures import check_commits

if TYPE_CHECKING:
    from gitrot.git.repository import Repo

#: ``(repo, commit ids, trusted times) -> {commit: Signature}``
SignatureCheck = Callable[[History, list[str], Mapping[str, int]], dict[str, Signature]]


def build_ledger(history: History, *, signatures: SignatureCheck | None = None) -> list[LedgerRow]:
    """Every version that reached main, in the order it merged (then by path)."""
    index = _Index(history)
    rows: list[LedgerRow] = []
    for position, merge in enumerate(history.first_parent):
        changes = history.changes.get(merge)
        if not changes:
            continue
        renamed = {(c.path, c.old_version) for c in changes if c.new_blob is None}
        for change in sorted(changes, key=lambda c: c.path):
            version = change.new_version
            if version is None or version == change.old_version:
                continue
            if change.old_blob is None and any(v == version for _, v in renamed):
                continue  # a rename keeps its version
            rows.append(index.row(position, merge, change, version))
    if rows:
        check = signatures or unchecked
        commits, trusted = trusted_times(rows)
        found = check(history, commits, trusted)
        for row in rows:
            for commit in {row.commit, row.merge_commit} - {None}:
                assert commit is not None  # noqa: S101 - filtered above
                row.signatures[commit] = found.get(commit, Signature(UNCHECKED))
    return rows


def trusted_times(rows: list[LedgerRow]) -> tuple[list[str], dict[str, int]]:
    """Every commit the rows involve, and for each a time its signer cannot set, where
    there is one: the reconciler's note (``applied_at``); else, for a branch commit, the
    time of the merge that brought it into main (made by someone else). A commit that is
    its own merge (a direct push, a squash merge, the merge commit) and was never applied
    has none: its key is then judged at its own committer date, which the signature's
    ``detail`` says the signer sets."""
    commits: set[str] = set()
    trusted: dict[str, int] = {}
    for row in rows:
        for commit in (row.commit, row.merge_commit):
            if commit is None:
                continue
            commits.add(commit)
            if row.applied_at is not None:
                trusted.setdefault(commit, row.applied_at)
            elif commit != row.merge_commit and row.merged_at is not None:
                trusted.setdefault(commit, row.merged_at)
    return sorted(commits), trusted


def signature_check(allowed_signers: str | None, path: str) -> SignatureCheck:
    """The signatures workstream's check (gitrot/audit/signatures.py) behind one function:
    ``allowed_signers`` is the file's text (None: signers unchecked), ``path`` its name."""

    def check(
        history: History, commits: list[str], trusted: Mapping[str, int]
    ) -> dict[str, Signature]:
        def part(some: list[str]) -> dict[str, Signature]:
            return check_commits(
                cast("Repo", _Commits(history)),  # the raw commits history read already
                some,
                allowed_signers=allowed_signers,
                trusted_times=trusted,
                allowed_signers_path=path,
            )

        # a commit without any signature header is unsigned, as check_commits would say
        signed = [c for c in commits if history.commit(c).signed]
        unsigned = dict.fromkeys(
            set(commits) - set(signed), Signature(UNSIGNED, detail=NO_SIGNATURE)
        )
        if len(signed) < PARALLEL_MIN or any(_PGP in history.raw_commit(c)[1] for c in signed):
            return unsigned | part(signed)  # gpg runs one at a time; a bad file still fails
        # SSH signatures verify without the GIL: half of them in a second thread
        half = len(signed) // 2
        found: list[dict[str, Signature]] = []
        failed: list[BaseException] = []

        def second() -> None:
            try:
                found.append(part(signed[half:]))
            except BaseException as exc:  # raised again below, in the caller
                failed.append(exc)

        thread = threading.Thread(target=second, name="gitrot-signatures")
        thread.start()
        try:
            first = part(signed[:half])
        finally:
            thread.join()
        if failed:
            raise failed[0]
        return unsigned | first | found[0]

    return check


NO_SIGNATURE = "no signature"  # the detail of check_commits' unsigned commits
#: signed commits below which one thread checks every signature
PARALLEL_MIN = 256
_PGP = b"-----BEGIN PGP "


class _Commits:
    """What :func:`~gitrot.audit.signatures.check_commits` reads of a repository
    (``repo.odb.read``), served from :meth:`History.raw_commit`."""

    def __init__(self, history: History) -> None:
        self.odb = self
        self.read = history.raw_commit


def unchecked(
    history: History, commits: list[str], trusted: Mapping[str, int]
) -> dict[str, Signature]:
    """Signatures when nobody checks them: unsigned, or unchecked."""
    del trusted
    return {
        c: Signature(UNCHECKED, detail="not checked")
        if history.commit(c).signed
        else Signature(UNSIGNED, detail=NO_SIGNATURE)
        for c in commits
    }


def name_of(history: History, path: str) -> str:
    return path[len(history.secrets) :].removesuffix(".yaml")


class _Index:
    """What the rows are looked up in: the notes by (name, version) and the commits each
    merge brought in, each built once."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.applied = _note_index(history, "applied")
        self.delivered = _note_index(history, "deliveries")
        self.brought: dict[str, list[str]] = {}
        for commit in history.order:
            merge = history.introduced_by.get(commit)
            if merge is not None and merge != commit:
                self.brought.setdefault(merge, []).append(commit)

    def row(self, position: int, merge: str, change: IntentChange, version: int) -> LedgerRow:
        history = self.history
        name = name_of(history, change.path)
        merge_info = history.commit(merge)
        setter, blob = merge, change.new_blob
        if len(merge_info.parents) > 1:
            setter, blob = self.setter(merge, change.path, version) or (merge, blob)
        info = history.commit(setter)
        facts = history.facts(blob or change.new_blob or "")
        approvals = [Approval(v, k, setter) for k, v in history.reviews(setter)]
        if setter != merge:
            approvals += [Approval(v, k, merge) for k, v in history.reviews(merge)]
        if len(merge_info.parents) > 1:
            approvals.append(Approval(merge_info.committer, "merge", merge))
        row = LedgerRow(
            secret=name,
            version=version,
            path=change.path,
            commit=setter,
            author=info.author,
            authored_at=info.author_time,
            reason=facts.reason,
            emergency=facts.emergency,
            environment=facts.environment,
            rotation_class=facts.rotation_class,
            approvals=approvals,
            merge_commit=merge,
            merged_at=merge_info.committer_time,
        )
        records = self.applied.get((name, version), [])
        found = bisect.bisect_left(records, position, key=lambda r: r[0])
        if found < len(records):
            _, commit, note, record = records[found]
            row.applied_commit = commit
            row.applied_at = _int(record.get("written_at")) or _time(note.get("finished_at"))
            row.backend = _str(record.get("backend"))
            row.backend_id = _str(record.get("backend_version_id"))
        row.deliveries = _deliveries(self.delivered.get((name, version), []), position)
        return row

    def setter(self, merge: str, path: str, version: int) -> tuple[str, str | None] | None:
        """The newest commit ``merge`` brought in whose own change set ``path`` to
        ``version`` (one that is no merge preferred), with its blob."""
        history = self.history
        fallback = None
        for commit in self.brought.get(merge, ()):
            for change in history.changes[commit]:
                if change.path == path and change.new_version == version != change.old_version:
                    if len(history.parents.get(commit, ())) <= 1:
                        return commit, change.new_blob
                    fallback = fallback or (commit, change.new_blob)
        return fallback


_Noted = tuple[int, str, dict[str, object], dict[str, object]]


def _note_index(history: History, key: str) -> dict[tuple[str, int], list[_Noted]]:
    """(name, version) -> (position, commit, note, record) of the records ``key`` of the
    notes on main's first-parent commits, in first-parent order."""
    index: dict[tuple[str, int], list[_Noted]] = {}
    for commit, note in history.notes.items():
        position = history.position.get(commit)
        if position is None:
            continue
        for record in _records(note, key):
            name, version = record["name"], record["version"]
            assert isinstance(name, str) and isinstance(version, int)  # noqa: S101 - _records
            index.setdefault((name, version), []).append((position, commit, note, record))
    for records in index.values():
        records.sort(key=lambda r: r[0])
    return index


def _deliveries(records: Sequence[_Noted], position: int) -> list[Delivery]:
    """The deliveries recorded at or after ``position``: the latest per trigger."""
    latest: dict[str, Delivery] = {}
    for at, _, _, record in records:
        if at < position:
            continue
        trigger = _str(record.get("trigger")) or ""
        latest[trigger] = Delivery(
            trigger=trigger,
            ok=record.get("ok") is True,
            at=_int(record.get("at")) or 0,
            delivery_id=_str(record.get("delivery_id")) or "",
        )
    return [latest[t] for t in sorted(latest)]


def _records(note: Mapping[str, object], key: str) -> list[dict[str, object]]:
    found = note.get(key)
    return [
        r
        for r in (found if isinstance(found, list) else [])
        if isinstance(r, dict) and isinstance(r.get("name"), str) and type(r.get("version")) is int
    ]


def _int(value: object) -> int | None:
    return value if type(value) is int else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _time(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def by_secret(rows: Sequence[LedgerRow]) -> dict[str, list[LedgerRow]]:
    found: dict[str, list[LedgerRow]] = {}
    for row in rows:
        found.setdefault(row.secret, []).append(row)
    return found
