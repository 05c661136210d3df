"""``gitrot rotate --commit`` and ``rotate --due --commit``: git's own commit of exactly the
changed files, with the rotation's subject, reason and trailers; the PR check accepts
rotations committed with or without them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.audit.histories import ALICE, BOB, T0, History
from tests.reconcile.helpers import environment, run

DB = "payments/db"
KEY = "search/key"


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History.create(tmp_path)


def _show(history: History, fmt: str, rev: str = "HEAD") -> str:
    return history.git("log", "-1", f"--format={fmt}", rev, when=history.clock)


def _files(history: History, rev: str = "HEAD") -> list[str]:
    out = history.git("show", "--name-only", "--format=", rev, when=history.clock)
    return out.splitlines()


def test_rotate_commit_writes_subject_reason_and_trailers_as_the_user(history: History) -> None:
    commit = history.rotate(DB, "INC-7: leaked in a log", emergency=True, who=BOB)
    assert _show(history, "%B") == (
        "Rotate payments/db to version 2\n\nINC-7: leaked in a log\n\n"
        "Gitrot-Secret: payments/db\nGitrot-Version: 2\nGitrot-Emergency: true"
    )
    assert _show(history, "%an <%ae>|%cn <%ce>") == "Bob Builder <bob@example.com>|" * 1 + (
        "Bob Builder <bob@example.com>"
    )
    assert _files(history) == ["secrets/payments/db.yaml"]
    # an auditor with plain git lists rotations
    listed = history.git("log", "--format=%(trailers:key=Gitrot-Secret,valueonly)", when=1)
    assert listed.split() == [DB]
    assert history.git("status", "--porcelain", when=1) == ""
    assert commit == history.head()


def test_nothing_the_user_staged_or_changed_elsewhere_is_swept_in(history: History) -> None:
    (history.root / "waivers.yaml").write_text("# staged by the user\n")
    history.git("add", "waivers.yaml")
    (history.root / "policies" / "README.md").write_text("unstaged\n")
    before = history.head()
    history.rotate(KEY)
    assert history.head("HEAD~1") == before
    assert _files(history) == ["secrets/search/key.yaml"]
    assert history.git("diff", "--cached", "--name-only", when=1) == "waivers.yaml"
    assert history.git("diff", "--name-only", when=1) == "policies/README.md"


def test_a_sealed_value_is_committed_with_its_intent(history: History) -> None:
    args = ["rotate", DB, "--reason", "DBA issued it", "--value-stdin", "--commit"]
    assert history.gitrot(*args, stdin="issued-by-the-dba\n") == 0
    assert sorted(_files(history)) == [
        "secrets/payments/db.v2.sealed.yaml",
        "secrets/payments/db.yaml",
    ]
    assert "issued-by-the-dba" not in history.git("log", "-p", "--all", when=1)


def test_rotate_due_commit_is_one_commit_with_one_trailer_set_per_secret(
    history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    # both intents were last rotated at T0; the test class allows 90 days
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("time.time", lambda: T0 + 100 * 86400)
        args = ["rotate", "--due", "--reason", "Quarterly rotation", "--commit"]
        assert history.gitrot(*args, who=ALICE, when=T0 + 100 * 86400) == 0
    assert "## Scheduled credential rotation: 2 secrets" in capsys.readouterr().out
    assert _show(history, "%s") == "Rotate 2 secrets"
    trailers = _show(history, "%(trailers:only,unfold)").splitlines()
    assert trailers == [
        "Gitrot-Secret: payments/db",
        "Gitrot-Version: 2",
        "Gitrot-Emergency: false",
        "Gitrot-Secret: search/key",
        "Gitrot-Version: 2",
        "Gitrot-Emergency: false",
    ]
    assert sorted(_files(history)) == ["secrets/payments/db.yaml", "secrets/search/key.yaml"]


def test_commit_outside_a_git_work_tree_with_a_commit_is_refused_before_any_edit(
    tmp_path: Path, gitrot
) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "fresh"
    assert gitrot("init", str(root)).code == 0
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        args = ["new", DB, "--backend", "local", "--ref", "r", "--owner", "t"]
        assert gitrot(*args, "--class", "api-key").code == 0
        before = (root / "secrets/payments/db.yaml").read_text()
        result = gitrot("rotate", DB, "--reason", "x", "--commit")
        assert result.code == 2 and "not a git work tree with a commit" in result.err
        assert (root / "secrets/payments/db.yaml").read_text() == before


def test_a_commit_git_refuses_leaves_the_bump_and_says_so(history: History, gitrot) -> None:  # type: ignore[no-untyped-def]
    hook = history.root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'blocked by policy' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = history.head()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(history.root)
        result = gitrot("rotate", DB, "--reason", "x", "--commit")
    assert result.code == 3
    assert "git commit failed (1): blocked by policy" in result.err
    assert "bumped but not committed" in result.err
    assert history.head() == before
    assert "version: 2" in (history.root / "secrets/payments/db.yaml").read_text()


def test_the_pr_check_accepts_rotations_with_and_without_trailers(history: History) -> None:
    history.branch("mine")
    history.rotate(DB, "CHG-9 quarterly")
    history.branch("theirs", "main")
    assert history.gitrot("rotate", KEY, "--reason", "CHG-10 by hand") == 0
    history.git("commit", "-q", "--no-verify", "-am", "bump the search key, as people do")
    assert "Gitrot-" not in _show(history, "%B")
    env = environment(GITROT_PR_AUTHOR="alice", GITROT_PR_APPROVALS="bob")
    for branch in ("mine", "theirs"):
        args = ["check", "--base", "main", "--head", branch, "--format", "json"]
        done = run(history.root, *args, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout) == []
