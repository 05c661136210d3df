"""``gitrot audit --verify``'s checks (gitrot/audit/verify.py, reach.py): each fires on a
crafted input and not on a clean one; then a real repository, reconciled by the real
``gitrot reconcile``, whose main branch is rewritten."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from gitrot.audit import model
from gitrot.audit.compliance import assess
from gitrot.audit.model import LedgerRow, Signature
from gitrot.audit.reach import Reach, reach
from gitrot.audit.verify import CHECKS, GRACE, line, problems
from gitrot.core.durations import DAY, HOUR
from gitrot.core.models import RotationClass
from gitrot.errors import GitError
from gitrot.files.waivers import Waiver
from tests.audit.test_compliance import row
from tests.reconcile.helpers import PolicyRepo, git, logger_trigger, run

if TYPE_CHECKING:
    from pathlib import Path

UNTIL = 10 * DAY
CLASSES = {"k": RotationClass("k", max_age=30 * DAY)}


def good(r: LedgerRow) -> LedgerRow:
    """``r`` with a good signature on its commit and merge commit."""
    commits = [c for c in (r.commit, r.merge_commit) if c]
    return replace(r, signatures={c: Signature(model.GOOD, "ssh", "alice") for c in commits})


CLEAN = [
    good(row(1, 0, 60)),
    good(row(2, 2 * DAY, 2 * DAY + 60)),
    good(row(1, DAY, DAY + 60, secret="svc/api")),
    good(row(2, 9 * DAY, None, secret="svc/api")),  # merged 1 day before until: in grace
]


def verify(rows: list[LedgerRow], **options: object) -> list[model.Problem]:
    compliance = assess({r.secret: [x for x in rows if x.secret == r.secret] for r in rows},
                        CLASSES, since=None, until=UNTIL)  # fmt: skip
    settings: dict[str, object] = {"require_signatures": True, "compliance": compliance}
    settings.update(options)
    return problems(rows, until=UNTIL, **settings)  # type: ignore[arg-type]


def test_a_clean_ledger_has_no_problem() -> None:
    assert verify(CLEAN) == []
    assert verify(CLEAN, notes_unreachable=[], reconciled="a" * 40, reconciled_ok=True) == []


def test_applied_without_a_merged_commit() -> None:
    found = verify([*CLEAN, good(row(3, None, 3 * DAY))])
    assert [(p.check, p.secret, p.version, p.commit) for p in found] == [
        ("applied-not-merged", "svc/db", 3, f"a{3:039d}")
    ]
    assert found[0].message == (
        f"svc/db v3 was applied (note on a{0:011d}) but no commit of the main branch sets it"
    )


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([row(1, 0, 0), row(2, DAY), row(3, 3 * DAY, 3 * DAY)], [2]),  # waited 2 days
        ([row(1, 0, 0), row(2, DAY), row(3, DAY + HOUR, 2 * DAY)], []),  # replaced in time
        ([row(1, 0, 0), row(2, UNTIL - GRACE - 1)], [2]),  # the last, past the grace
        ([row(1, 0, 0), row(2, UNTIL - GRACE)], []),  # the last, just within it
        ([row(1, 0)], [1]),  # never applied at all
        ([row(1, 0, 0), row(2, UNTIL + DAY)], []),  # merged after until
        ([row(1, None, None)], []),  # never merged: nothing to apply
    ],
)
def test_merged_and_never_applied(rows: list[LedgerRow], expected: list[int]) -> None:
    found = problems(rows, until=UNTIL)
    assert [p.version for p in found if p.check == "merged-not-applied"] == expected
    assert {p.check for p in found} <= {"merged-not-applied"}
    if expected:
        assert found[0].message.endswith("and no note says it was applied within 1d")
        assert found[0].commit == f"m{expected[0]:039d}"


def test_notes_on_commits_off_main() -> None:
    found = verify(CLEAN, notes_unreachable=["b" * 40, "a" * 40, "b" * 40])
    assert [(p.check, p.commit) for p in found] == [
        ("note-unreachable", "a" * 40),
        ("note-unreachable", "b" * 40),
    ]
    assert "aaaaaaaaaaaa is on no commit of the main branch" in found[0].message


def test_reconciled_not_an_ancestor() -> None:
    found = verify(CLEAN, reconciled="c" * 40, reconciled_ok=False)
    assert [(p.check, p.commit) for p in found] == [("reconciled-not-ancestor", "c" * 40)]
    assert line(found[0]) == (
        "reconciled-not-ancestor: refs/gitrot/reconciled (cccccccccccc) is not an ancestor "
        "of the main branch: the main branch was rewritten after the reconciler ran"
    )


@pytest.mark.parametrize("status", [s for s in model.STATUSES if s != model.GOOD])
def test_every_status_but_good_fails_when_signatures_are_required(status: str) -> None:
    bad = Signature(status, "ssh", detail="why not" if status != model.UNSIGNED else "")
    first = good(row(3, 3 * DAY, 3 * DAY + 1))
    first.signatures[first.commit] = bad
    second = good(row(4, 4 * DAY, 4 * DAY + 1))
    assert first.merge_commit is not None
    second.signatures[first.merge_commit] = bad  # the same merge commit: reported once
    first.signatures[first.merge_commit] = bad
    rows = [*CLEAN, first, second]
    found = verify(rows)
    assert [(p.check, p.commit, p.version) for p in found] == [
        ("signature", first.commit, 3),
        ("signature", first.merge_commit, 3),
    ]
    detail = ": why not" if status != model.UNSIGNED else ""
    assert found[0].message == f"commit {first.commit[:12]} (svc/db v3) is {status}{detail}"
    assert verify(rows, require_signatures=False) == []


def test_over_max_age_unless_waived() -> None:
    rows = [row(1, 0, 0, secret="old"), row(2, 40 * DAY, 40 * DAY, secret="old")]
    rows += [row(1, 0, 0, secret="still")]
    compliance = assess({"old": rows[:2], "still": rows[2:]}, CLASSES, since=None, until=50 * DAY)
    found = problems(rows, until=50 * DAY, compliance=compliance)
    assert [(p.check, p.secret, p.version) for p in found] == [
        ("over-max-age", "old", 1),
        ("over-max-age", "still", 1),
    ]
    assert found[0].message == (
        "old v1 was over its max age (30d) for 10d from 1970-01-31 00:00 UTC"
    )
    assert found[1].message.endswith("for 20d from 1970-01-31 00:00 UTC and still is")
    reason = "CHG-9: the vendor migrates in March"
    waiver = Waiver("max-age", ("still",), reason, "bob@example.com", "1970-03-01")
    waived = assess({"old": rows[:2], "still": rows[2:]}, CLASSES, [waiver], since=None,
                    until=50 * DAY)  # fmt: skip
    assert [p.secret for p in problems(rows, until=50 * DAY, compliance=waived)] == ["old"]
    assert problems(rows, until=50 * DAY) == []  # no compliance given: not judged


def test_problems_come_in_check_order() -> None:
    unsigned = row(3, 3 * DAY, None)  # merged, never applied, unsigned
    unsigned.signatures[unsigned.commit] = Signature(model.UNSIGNED)
    rows = [*CLEAN, unsigned, good(row(4, None, 4 * DAY)), row(1, 0, 0, secret="z")]
    found = problems(
        rows,
        until=60 * DAY,
        notes_unreachable=["d" * 40],
        reconciled_ok=False,
        require_signatures=True,
        compliance=assess({"z": rows[-1:]}, CLASSES, since=None, until=60 * DAY),
    )
    assert list(dict.fromkeys(p.check for p in found)) == list(CHECKS)
    assert [p.secret for p in found if p.check == "merged-not-applied"] == ["svc/api", "svc/db"]
    ancestor = next(p for p in found if p.check == "reconciled-not-ancestor")
    assert ancestor.message.startswith("refs/gitrot/reconciled (?) is not")
    assert ancestor.as_dict() == {"check": "reconciled-not-ancestor", "secret": "",
                                  "version": 0, "commit": "", "message": ancestor.message}  # fmt: skip


# -- a real repository ---------------------------------------------------------------------


def test_reach_on_a_fresh_repository_and_a_missing_branch(tmp_path: Path) -> None:
    git(tmp_path, "init", "--quiet", "--initial-branch=main")
    git(tmp_path, "commit", "--quiet", "--allow-empty", "--no-gpg-sign", "-m", "first")
    assert reach("main", cwd=str(tmp_path)) == Reach(None, True, [])
    with pytest.raises(GitError, match=r"git rev-list failed: .*nope"):
        reach("nope", cwd=str(tmp_path))


def test_a_rewritten_main_branch_fails_verify(tmp_path: Path) -> None:
    repo = PolicyRepo.create(
        tmp_path / "policy", triggers={"api": logger_trigger(tmp_path / "log")}
    )
    repo.new("svc/db")
    repo.commit("Add svc/db")
    assert run(repo.root, "reconcile").returncode == 0
    branch = git(repo.root, "symbolic-ref", "--short", "HEAD").strip()
    reconciled = repo.head()
    assert repo.reconciled() == reconciled and repo.note() is not None
    clean = reach(branch, cwd=str(repo.root))
    assert clean == Reach(reconciled, True, [])
    assert problems([], until=0, notes_unreachable=clean.notes_unreachable,
                    reconciled_ok=clean.reconciled_ok) == []  # fmt: skip

    # history rewritten: the reconciled commit is replaced by another with the same tree
    git(repo.root, "commit", "--quiet", "--amend", "--no-gpg-sign", "-m", "Add svc/db again")
    assert repo.head() != reconciled
    moved = reach(branch, cwd=str(repo.root))
    assert moved == Reach(reconciled, False, [reconciled])
    found = problems(
        [],
        until=0,
        notes_unreachable=moved.notes_unreachable,
        reconciled=moved.reconciled,
        reconciled_ok=moved.reconciled_ok,
    )
    assert [(p.check, p.commit) for p in found] == [
        ("note-unreachable", reconciled),
        ("reconciled-not-ancestor", reconciled),
    ]

    # refs/gitrot/reconciled moved back onto main by hand: only the stray note remains
    git(repo.root, "update-ref", "refs/gitrot/reconciled", repo.head())
    assert reach(branch, cwd=str(repo.root)) == Reach(repo.head(), True, [reconciled])
