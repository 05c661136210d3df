""":mod:`gitrot.judge.history` on real git repositories (git spawned through
``gitrot.git.process``): the highest version a deleted intent had, and whether a path's
version went up by at most one per first-parent commit."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from gitrot.errors import GitError
from gitrot.judge.history import highest_versions, steps_by_one
from tests.gitrepo import commit_files, make_repo

PATH = "secrets/svc/db.yaml"
T0 = 1_700_000_000


def intent(version: int) -> str:
    return f"apiVersion: gitrot/v1\nkind: RotationIntent\nspec:\n  version: {version}\n"


class History:
    """A repository whose commits each set the intent at PATH (None deletes it)."""

    def __init__(self, root: Path) -> None:
        self.repo = make_repo(root)
        self.count = 0

    def step(self, text: str | None, path: str = PATH) -> pygit2.Commit:
        self.count += 1
        oid = commit_files(
            self.repo, {path: text}, message=f"step {self.count}", author_time=T0 + self.count
        )
        return self.repo.get(oid).peel(pygit2.Commit)


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path / "repo")


def test_steps_of_one_and_repeats_pass(history: History) -> None:
    old = history.step(intent(1))
    history.step(intent(2))
    history.step(intent(2) + "# a comment\n")  # kept: 0 is a step too
    new = history.step(intent(3))
    assert steps_by_one(history.repo, "", old, new, PATH)


def test_a_jump_fails(history: History) -> None:
    old = history.step(intent(1))
    new = history.step(intent(3))
    assert not steps_by_one(history.repo, "", old, new, PATH)


def test_a_deletion_on_the_way_fails(history: History) -> None:
    old = history.step(intent(1))
    history.step(None)  # deleted: nothing to compare at this commit
    new = history.step(intent(2))  # re-created: no version before it
    assert not steps_by_one(history.repo, "", old, new, PATH)


def test_a_version_that_does_not_parse_fails(history: History) -> None:
    old = history.step(intent(1))
    new = history.step("spec: [not, a, mapping\n")
    assert not steps_by_one(history.repo, "", old, new, PATH)


def test_an_unknown_base_fails(history: History, tmp_path: Path) -> None:
    other = History(tmp_path / "other")
    stranger = other.step(intent(9))  # a commit of another repository: git log refuses it
    new = history.step(intent(1))
    assert not steps_by_one(history.repo, "", stranger, new, PATH)


def test_highest_versions_of_deleted_intents(history: History) -> None:
    history.step(intent(4), "policy/" + PATH)
    history.step(None, "policy/" + PATH)
    history.step(intent(2), "policy/secrets/other.yaml")
    rev = history.step(None, "policy/secrets/other.yaml")
    found = highest_versions(history.repo, "policy/", rev, [PATH, "secrets/other.yaml", "x.yaml"])
    assert found == {PATH: 4, "secrets/other.yaml": 2}
    assert highest_versions(history.repo, "policy/", rev, []) == {}


def test_highest_versions_names_a_failing_git_log(history: History, tmp_path: Path) -> None:
    history.step(intent(1))
    stranger = History(tmp_path / "other").step(intent(9))
    with pytest.raises(GitError) as info:
        highest_versions(history.repo, "", stranger, [PATH])
    assert info.value.message.startswith("git log failed: fatal:")
    assert info.value.where == history.repo.path
