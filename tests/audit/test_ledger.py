"""The ledger on a generated history: a ``--no-ff`` merge, a squash merge, a rebased and
fast-forwarded branch, a force-push that drops a merged and applied rotation, notes
written by real ``gitrot reconcile`` runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitrot.audit.history import intent_facts, parse_commit, read_history
from gitrot.audit.ledger import build_ledger
from gitrot.audit.model import UNSIGNED, Approval, LedgerRow
from gitrot.errors import InputError
from gitrot.git.repository import open_repo
from tests.audit.histories import ALICE, BOB, CAROL, T0, History

DB, KEY = "payments/db", "search/key"
LONG = "INC-9: the key leaked in a public build log"


@pytest.fixture
def story(tmp_path: Path) -> dict[str, str]:
    history = History.create(tmp_path)
    ids = {"root": history.head()}
    history.reconcile()
    history.branch("f1")
    ids["db2"] = history.rotate(DB, "CHG-1 quarterly rotation", who=BOB)
    history.git("commit", "--allow-empty", "-q", "-m", "fix\n\nApproved-by: Dana", who=BOB)
    ids["merge1"] = history.merge(
        "f1", "Merge f1\n\nApproved-by: Frank\nReviewed-by: Eve\napproved-by: Frank"
    )
    history.reconcile()
    history.branch("f2")
    history.rotate(KEY, LONG, emergency=True, who=BOB)
    ids["squash"] = history.squash("f2", "Rotate the key (#2)\n\nReviewed-by: Gina")
    history.branch("f3")
    history.rotate(DB, "CHG-3 new replica set", who=BOB)
    ids["rebased"] = history.rebase_ff("f3")
    history.reconcile()
    ids["kept"] = history.head()
    history.branch("f4")
    history.rotate(KEY, "CHG-4 rotation later dropped", who=BOB)
    ids["dropped"] = history.merge("f4", "Merge f4")
    history.reconcile()
    history.force_back(ids["kept"])
    ids["root_path"] = str(history.root)
    return ids


def _rows(story: dict[str, str]) -> tuple[list[LedgerRow], object]:
    history = read_history(open_repo(story["root_path"]), "main")
    return build_ledger(history), history


def test_every_version_on_main_with_its_requester_approvals_merge_and_note(
    story: dict[str, str],
) -> None:
    rows, history = _rows(story)
    assert [(r.secret, r.version) for r in rows] == [
        (DB, 1),
        (KEY, 1),
        (DB, 2),
        (KEY, 2),
        (DB, 3),
    ]
    db1, _, db2, key2, db3 = rows
    assert db1.commit == db1.merge_commit == story["root"]
    assert (db1.author, db1.reason, db1.environment) == (
        "Alice Example <alice@example.com>",
        "Initial version",
        "prod",
    )
    # a --no-ff merge: the side commit asked, the merge's trailers and committer approved
    assert db2.commit == story["db2"] and db2.merge_commit == story["merge1"]
    assert db2.author == "Bob Builder <bob@example.com>" and db2.authored_at > T0
    assert db2.approvals == [
        Approval("Frank", "Approved-by", story["merge1"]),
        Approval("Eve", "Reviewed-by", story["merge1"]),
        Approval("Frank", "Approved-by", story["merge1"]),
        Approval("Carol Lead <carol@example.com>", "merge", story["merge1"]),
    ]
    assert db2.applied_commit == story["merge1"] and db2.backend == "local"
    assert db2.applied_at is not None and db2.merged_at is not None
    assert db2.applied_at > db2.merged_at
    assert [d.trigger for d in db2.deliveries] == ["api"] and db2.deliveries[0].ok
    # a squash merge: one commit on main, its own trailers
    assert key2.commit == key2.merge_commit == story["squash"]
    assert key2.emergency and key2.reason == LONG
    assert key2.approvals == [Approval("Gina", "Reviewed-by", story["squash"])]
    assert key2.applied_commit == story["kept"]
    # rebased and fast-forwarded: the copy on main is the commit
    assert db3.commit == db3.merge_commit == story["rebased"]
    assert db3.author == "Bob Builder <bob@example.com>" and db3.approvals == []
    assert db3.applied_commit == story["kept"]
    # the force-push dropped the merged and applied rotation: no row, its note orphaned
    assert history.orphan_notes == [story["dropped"]]  # type: ignore[attr-defined]
    assert all(s.status == UNSIGNED for r in rows for s in r.signatures.values())
    assert set(db2.signatures) == {story["db2"], story["merge1"]}


def test_an_unknown_main_branch_is_bad_input(story: dict[str, str]) -> None:
    with pytest.raises(InputError, match="--main 'trunk' names no commit"):
        read_history(open_repo(story["root_path"]), "trunk")


def test_raw_commits_and_intents_that_are_not_laid_out_as_gitrot_writes() -> None:
    raw = (
        b"tree 0000\nparent aaaa\nparent bbbb\nauthor A B <a@b> 100 +0000\n"
        b"committer C <c@d> 200 -0100\nencoding ISO-8859-1\ngpgsig -----BEGIN SSH SIGNATURE-----\n"
        b" xyz\n -----END SSH SIGNATURE-----\n\nCaf\xe9\n"
    )
    info = parse_commit("cccc", raw)
    assert info.parents == ("aaaa", "bbbb") and info.signed
    assert (info.author, info.author_time, info.committer_time) == ("A B <a@b>", 100, 200)
    assert info.message == "Café\n"
    odd = parse_commit("dddd", b"tree 0\nauthor nobody\nencoding nope\n\nx")
    assert odd.author == "nobody <>" and odd.message == "x" and not odd.signed
    quoted = (
        b"metadata:\n  name: a\n  class: 'api-key'\n  environment: \"prod\"\n"
        b"spec:\n  version: 2\n  reason: 'CHG-1: colon'\n  emergency: true\n"
    )
    facts = intent_facts(quoted)
    assert (facts.reason, facts.emergency, facts.environment, facts.rotation_class) == (
        "CHG-1: colon",
        True,
        "prod",
        "api-key",
    )
    assert intent_facts(b"\xff: [").reason == ""


def test_who_rotates_with_the_cli_is_the_requester(tmp_path: Path) -> None:
    history = History.create(tmp_path, {DB: "prod"}, who=CAROL)
    commit = history.rotate(DB, "CHG-77 rotation by alice", who=ALICE)
    rows = build_ledger(read_history(open_repo(history.root), "main"))
    assert rows[-1].commit == commit and rows[-1].author.startswith("Alice Example")
    assert rows[0].author.startswith("Carol Lead")
