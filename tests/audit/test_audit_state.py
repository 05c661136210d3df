"""``gitrot audit --verify`` checks the reconciler's signed state: every commit of
refs/gitrot/state signed by gitrot.yaml's reconciler.signing_key; a forged (unsigned) state
commit is a ``state-signature`` problem (exit 1), as the reconciler itself refuses to trust
it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.audit.histories import BOB, History


def test_a_forged_state_commit_fails_verify(tmp_path: Path) -> None:
    history = History.create(tmp_path)
    history.reconcile()
    history.rotate("payments/db", "CHG-1 quarterly rotation", who=BOB)
    history.reconcile()
    clean = history.audit("--verify", "--format", "json")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["problems"] == []

    head = history.git("rev-parse", "refs/gitrot/state").strip()
    tree = history.git("rev-parse", f"{head}^{{tree}}").strip()
    forged = history.git("commit-tree", tree, "-p", head, "-m", "state", who=BOB).strip()
    history.git("update-ref", "refs/gitrot/state", forged, head)
    done = history.audit("--verify", "--format", "json")
    assert done.returncode == 1
    [problem] = json.loads(done.stdout)["problems"]
    assert problem["check"] == "state-signature" and problem["commit"] == forged
    assert f"gitrot: state-signature: refs/gitrot/state commit {forged[:12]}: not signed" in (
        done.stderr
    )


def test_state_problems_without_a_state_without_a_key_and_with_another_key(
    tmp_path: Path,
) -> None:
    from gitrot.audit.state import state_problems
    from gitrot.git import sshsig
    from gitrot.git.repository import open_repo

    history = History.create(tmp_path)
    repo = open_repo(str(history.root))
    assert state_problems(repo, None) == []  # no state yet: nothing to check
    history.reconcile()
    head = history.git("rev-parse", "refs/gitrot/state").strip()
    [unkeyed] = state_problems(repo, None)
    assert (unkeyed.check, unkeyed.commit) == ("state-signature", head)
    assert "names no reconciler.signing_key" in unkeyed.message
    _, other = sshsig.generate()
    [wrong] = state_problems(open_repo(str(history.root)), other)
    assert wrong.commit == head and "another key" in wrong.message
