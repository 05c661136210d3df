"""Repository basics: open or create a repository, resolve revisions, read one file.

Repositories are opened without libgit2's "from environment" mode, so the ``GIT_DIR`` and
``GIT_INDEX_FILE`` that pre-commit sets for the repository a hook runs in never redirect
gitrot to another one; :func:`gitrot.git.process.no_git_env` gives the same guarantee to a
``git`` child process.
Every libgit2 failure leaves as a :class:`GitError` (exit 3) with a hint; a revision that
names no commit leaves as :class:`UnknownRevisionError` (exit 2).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gitrot.errors import GitError, InputError, UnknownRevisionError
from gitrot.files.repo import LINK_HINT, LINK_MESSAGE

if TYPE_CHECKING:  # pygit2 is imported where it is used: ~90 ms
    import pygit2

    Repo = pygit2.Repository
    Commit = pygit2.Commit


def open_repo(path: str | os.PathLike[str] = ".") -> Repo:
    """The repository containing ``path`` (searching upwards, like git does)."""
    import pygit2

    try:
        return pygit2.Repository(os.fspath(path))
    except pygit2.GitError as exc:
        where = os.fspath(path)
        raise GitError(
            "not a git repository",
            where=where,
            hint=f"is {where} a git repository? run gitrot inside the policy repository",
        ) from exc


def ensure_repo(path: str | os.PathLike[str]) -> bool:
    """Make ``path`` a git work tree (branch ``main``) unless it is inside one; True if made."""
    import pygit2

    where = os.fspath(path)
    if pygit2.discover_repository(where) is not None:
        return False
    try:
        pygit2.init_repository(where, initial_head="main")
    except pygit2.GitError as exc:
        raise GitError(f"cannot create a git repository: {exc}", where=where) from exc
    return True


def head_commit(repo: Repo) -> Commit:
    import pygit2

    try:
        return repo.head.peel(pygit2.Commit)
    except pygit2.GitError as exc:
        raise GitError(
            "the repository has no commits yet",
            where=repo_location(repo),
            hint="commit the policy files first",
        ) from exc


def resolve(repo: Repo, rev: str) -> Commit:
    """The commit ``rev`` names (a branch, tag, commit id or any git revision expression)."""
    import pygit2

    try:
        found = repo.revparse_single(rev)
    except (KeyError, ValueError, pygit2.GitError) as exc:
        raise UnknownRevisionError(f"unknown revision {rev!r}", where=repo_location(repo)) from exc
    try:
        return found.peel(pygit2.Commit)
    except (ValueError, pygit2.GitError) as exc:
        raise UnknownRevisionError(
            f"revision {rev!r} is not a commit", where=repo_location(repo)
        ) from exc


def read_blob(commit: Commit, path: str) -> bytes | None:
    """The file ``path`` at ``commit``, or None when it is missing there (or a folder)."""
    import pygit2

    try:
        found = commit.tree[path]
    except KeyError:
        return None
    except pygit2.GitError as exc:
        raise GitError(f"cannot read {path} at {commit.short_id}: {exc}") from exc
    if not isinstance(found, pygit2.Blob):
        return None
    refuse_link(found, path)
    return found.data


#: a symbolic link's mode in a git tree: its blob holds the path it points to
LINK_MODE = 0o120000


def refuse_link(blob: pygit2.Blob, path: str) -> None:
    """InputError (exit 2) when ``blob`` (found in a tree at ``path``) is a symbolic link:
    its data is the path it points to, never the content of the file gitrot reads there."""
    if getattr(blob, "filemode", None) == LINK_MODE:
        raise InputError(LINK_MESSAGE + " (in git)", where=path, hint=LINK_HINT)


def main_branch(repo: Repo) -> str | None:
    """The branch HEAD points to (``refs/heads/main``); None when HEAD is detached.

    Its first-parent history is "what merged"; it may be unborn (no commits yet).
    """
    import pygit2

    try:
        head = repo.lookup_reference("HEAD")
    except (KeyError, pygit2.GitError) as exc:
        raise GitError("the repository has no HEAD", where=repo_location(repo)) from exc
    target = head.target
    return target if isinstance(target, str) else None


def commit_time(commit: Commit) -> int:
    """When the commit landed: its committer time, in epoch seconds."""
    return int(commit.commit_time)


def repo_location(repo: Repo) -> str:
    """Where ``repo`` is, for the ``where=`` of an error: its work tree, else its git folder."""
    return str(repo.workdir or repo.path).rstrip("/")
