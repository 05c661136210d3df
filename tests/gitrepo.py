"""Real git repositories for tests, built with pygit2: backdated commits, branches, merges."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pygit2

AUTHOR = ("Alice Example", "alice@example.com")


def make_repo(path: Path, *, branch: str = "main") -> pygit2.Repository:
    """A new repository with a work tree at ``path`` whose HEAD is the unborn ``branch``."""
    path.mkdir(parents=True, exist_ok=True)
    repo = pygit2.init_repository(str(path), initial_head=branch)
    repo.config["user.name"], repo.config["user.email"] = AUTHOR
    return repo


def commit_files(
    repo: pygit2.Repository,
    files: Mapping[str, str | None],
    *,
    message: str,
    author_time: int,
    parents: list[pygit2.Oid] | None = None,
    author: tuple[str, str] = AUTHOR,
) -> pygit2.Oid:
    """Write (text) or delete (None) work-tree files, stage them and commit on HEAD's branch.

    Author and committer both get ``author_time`` (epoch seconds, UTC), so history can be
    backdated. ``parents`` defaults to HEAD (none on an unborn branch).
    """
    workdir = Path(repo.workdir)
    for path, text in files.items():
        target = workdir / path
        if text is None:
            target.unlink()
            repo.index.remove(path)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            repo.index.add(path)
    repo.index.write()
    tree = repo.index.write_tree()
    if parents is None:
        parents = [] if repo.head_is_unborn else [repo.head.target]
    signature = pygit2.Signature(*author, author_time, 0)
    return repo.create_commit("HEAD", signature, signature, message, tree, parents)


def create_branch(repo: pygit2.Repository, name: str) -> None:
    """A branch at HEAD, checked out (work tree and index follow)."""
    repo.branches.local.create(name, repo.head.peel(pygit2.Commit))
    checkout(repo, name)


def checkout(repo: pygit2.Repository, name: str) -> None:
    repo.checkout(f"refs/heads/{name}", strategy=pygit2.enums.CheckoutStrategy.FORCE)


def merge(repo: pygit2.Repository, branch: str, *, message: str, author_time: int) -> pygit2.Oid:
    """A merge commit on HEAD's branch (``--no-ff``) with ``branch`` as its second parent."""
    other = repo.branches.local[branch].target
    repo.merge(other)
    if repo.index.conflicts is not None:
        raise AssertionError(f"merging {branch} conflicts")
    tree = repo.index.write_tree()
    signature = pygit2.Signature(*AUTHOR, author_time, 0)
    oid = repo.create_commit("HEAD", signature, signature, message, tree, [repo.head.target, other])
    repo.state_cleanup()
    return oid
