"""gitrot.git.repository's failures as one GitError (exit 3) against real, damaged
repositories: a repository that cannot be made, a missing tree object, a damaged HEAD."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from gitrot.errors import GitError, InputError
from gitrot.git import repository
from tests.gitrepo import commit_files, make_repo


def _object_file(repo: pygit2.Repository, oid: pygit2.Oid) -> Path:
    text = str(oid)
    return Path(repo.path) / "objects" / text[:2] / text[2:]


def test_ensure_repo_makes_one_once_and_says_when_it_cannot(tmp_path: Path) -> None:
    assert repository.ensure_repo(tmp_path / "new") is True
    assert pygit2.Repository(str(tmp_path / "new")).head_is_unborn
    assert repository.ensure_repo(tmp_path / "new") is False  # already inside one
    (tmp_path / "file").write_text("")
    with pytest.raises(GitError) as caught:
        repository.ensure_repo(tmp_path / "file" / "sub")  # under a file
    assert caught.value.message.startswith("cannot create a git repository: ")
    assert caught.value.where == str(tmp_path / "file" / "sub")
    assert caught.value.exit_code == 3


def test_read_blob_of_a_missing_tree_object_is_a_git_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    commit_files(repo, {"secrets/a.yaml": "a\n"}, message="a", author_time=1_700_000_000)
    commit = repo.head.peel(pygit2.Commit)
    assert repository.read_blob(commit, "secrets/a.yaml") == b"a\n"
    assert repository.read_blob(commit, "secrets") is None  # a folder
    assert repository.read_blob(commit, "secrets/none.yaml") is None
    (Path(repo.workdir) / "link.yaml").symlink_to("secrets/a.yaml")
    repo.index.add("link.yaml")
    linked = repo[
        repo.create_commit(
            None, commit.author, commit.author, "l", repo.index.write_tree(), [commit.id]
        )
    ]
    with pytest.raises(InputError) as refused:
        repository.read_blob(linked, "link.yaml")  # type: ignore[arg-type]
    assert refused.value.where == "link.yaml" and refused.value.exit_code == 2
    _object_file(repo, commit.tree["secrets"].id).unlink()  # a damaged repository
    damaged = pygit2.Repository(repo.workdir).head.peel(pygit2.Commit)
    with pytest.raises(GitError) as caught:
        repository.read_blob(damaged, "secrets/a.yaml")
    assert caught.value.message.startswith(f"cannot read secrets/a.yaml at {commit.short_id}: ")
    assert "object not found" in caught.value.message and caught.value.exit_code == 3


def test_main_branch_and_a_damaged_head(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    assert repository.main_branch(repo) == "refs/heads/main"  # unborn is still a branch
    commit_files(repo, {"a": "a\n"}, message="a", author_time=1_700_000_000)
    repo.set_head(repo.head.target)
    assert repository.main_branch(repo) is None  # detached
    (Path(repo.path) / "HEAD").write_text("garbage\n")
    with pytest.raises(GitError) as caught:
        repository.main_branch(pygit2.Repository(repo.workdir))
    assert caught.value.message == "the repository has no HEAD"
    assert caught.value.where == str(tmp_path / "r")
