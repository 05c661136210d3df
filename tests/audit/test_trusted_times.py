"""Which time a commit's signature is judged at (gitrot/audit/ledger.py trusted_times): the
reconciler's note when the version was applied; else, for a branch commit, the time of the
merge someone else made; never the committer date of a commit that is its own merge (a
direct push, a squash merge) and was not applied: the signer sets that date, so such a
commit is checked with no trusted time and its signature's detail says so."""

from __future__ import annotations

from gitrot.audit.ledger import trusted_times
from gitrot.audit.model import LedgerRow


def row(commit: str, merge: str | None, *, merged: int | None, applied: int | None) -> LedgerRow:
    return LedgerRow(
        secret="a/b", version=2, path="secrets/a/b.yaml", commit=commit, author="A <a@x>",
        authored_at=1, reason="r", emergency=False, merge_commit=merge, merged_at=merged,
        applied_at=applied,
    )  # fmt: skip


def test_applied_versions_use_the_note_for_both_commits() -> None:
    commits, trusted = trusted_times([row("c1", "m1", merged=100, applied=200)])
    assert commits == ["c1", "m1"]
    assert trusted == {"c1": 200, "m1": 200}


def test_a_branch_commit_not_applied_uses_its_merge_time_the_merge_itself_none() -> None:
    commits, trusted = trusted_times([row("c1", "m1", merged=100, applied=None)])
    assert commits == ["c1", "m1"]
    assert trusted == {"c1": 100}


def test_a_direct_push_never_applied_has_no_trusted_time_but_is_still_checked() -> None:
    commits, trusted = trusted_times([row("c1", "c1", merged=100, applied=None)])
    assert commits == ["c1"]
    assert trusted == {}


def test_a_row_without_merge_is_checked_too() -> None:
    commits, trusted = trusted_times([row("c1", None, merged=None, applied=None)])
    assert (commits, trusted) == (["c1"], {})
