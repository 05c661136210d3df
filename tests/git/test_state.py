"""gitrot.git.state's refusals against real repositories: locks, lost races, bad remotes."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from gitrot.errors import GitError
from gitrot.git import state
from tests.gitrepo import AUTHOR, commit_files, make_repo


@pytest.fixture
def repo(tmp_path: Path) -> pygit2.Repository:
    made = make_repo(tmp_path / "policy")
    commit_files(made, {"secrets/a.yaml": "a\n", "secrets/deep/b.yaml": "b\n", "top.txt": "t\n"},
                 message="a", author_time=1_700_000_000)  # fmt: skip
    return made


def _head(repo: pygit2.Repository) -> pygit2.Commit:
    return repo.head.peel(pygit2.Commit)


def test_list_blobs_reads_files_of_a_folder_only(repo: pygit2.Repository) -> None:
    head = _head(repo)
    blobs = state.list_blobs(head, "secrets")
    assert sorted(blobs) == ["secrets/a.yaml", "secrets/deep/b.yaml"]
    assert state.read_object(repo, blobs["secrets/a.yaml"]) == b"a\n"
    assert state.list_blobs(head, "missing") == {}
    assert state.list_blobs(head, "top.txt") == {}  # a file, not a folder
    # a submodule entry (a commit id in the tree) is neither a file nor a folder
    builder = repo.TreeBuilder(head.tree["secrets"])  # type: ignore[arg-type]
    builder.insert("module", head.id, pygit2.GIT_FILEMODE_COMMIT)
    top = repo.TreeBuilder(head.tree)
    top.insert("secrets", builder.write(), pygit2.GIT_FILEMODE_TREE)
    commit = state.commit_state(repo, str(top.write()), None, "m\n", AUTHOR, None)
    assert sorted(state.list_blobs(repo[commit], "secrets")) == sorted(blobs)  # type: ignore[arg-type]


def test_a_held_lock_and_a_lost_race_are_told_apart(repo: pygit2.Repository) -> None:
    head = str(_head(repo).id)
    state.advance(repo, head, None)
    assert state.reconciled(repo) == head
    with pytest.raises(state.LostRace, match="moved while reconciling") as lost:
        state.advance(repo, head, None)  # it is no longer absent
    assert lost.value.exit_code == 3
    lock = Path(repo.path) / "refs" / "gitrot" / "reconciled.lock"
    lock.write_text("")
    with pytest.raises(GitError) as caught:
        state.advance(repo, head, head)
    assert not isinstance(caught.value, state.LostRace)
    assert caught.value.message.startswith("cannot move refs/gitrot/reconciled: its lock file ")
    assert "remove the .lock file" in caught.value.hint


def test_a_remote_that_is_not_there_is_a_git_error(repo: pygit2.Repository, tmp_path: Path) -> None:
    nowhere = str(tmp_path / "no-such-remote")
    state.advance(repo, str(_head(repo).id), None)  # a ref to push
    for call, verb in (
        (lambda: state.fetch(repo, nowhere), "fetch"),
        (lambda: state.remote_refs(repo, nowhere), "ls-remote"),
        (lambda: state.push(repo, nowhere, {}), "push"),
    ):
        with pytest.raises(GitError) as caught:
            call()
        assert not isinstance(caught.value, state.LostRace)
        assert caught.value.message.startswith(f"git {verb} {nowhere} failed: ")
        assert caught.value.exit_code == 3


def test_a_push_sends_only_the_refs_that_exist(repo: pygit2.Repository, tmp_path: Path) -> None:
    remote = pygit2.init_repository(str(tmp_path / "remote.git"), bare=True)
    state.push(repo, remote.path, {})  # no gitrot ref yet: nothing to send, no error
    assert state.remote_refs(repo, remote.path) == {}
    head = str(_head(repo).id)
    state.advance(repo, head, None)
    state.push(repo, remote.path, {})
    assert state.remote_refs(repo, remote.path) == {state.RECONCILED_REF: head}
