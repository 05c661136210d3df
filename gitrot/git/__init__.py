"""The one package that talks to git: small named queries over pygit2 (libgit2).

No module outside it imports pygit2, and its modules import it only inside functions: the
import costs ~90 ms, and most gitrot processes (the pre-commit hook, decrypt) never read
history. Every libgit2 failure leaves as a :class:`GitError` (exit 3) with a hint; a
revision that names no commit leaves as :class:`UnknownRevisionError` (exit 2).

- :mod:`gitrot.git.repository`: open or create a repository, resolve revisions, read one file,
  and :func:`no_git_env` for a ``git`` child process.
- :mod:`gitrot.git.change`: :func:`open_change`, the :class:`Change` a pull request makes
  (files against the merge base, commits, blobs on either side), for ``gitrot check``.
- :mod:`gitrot.git.diff` and :mod:`gitrot.git.renames`: the tree comparison that reads
  only the folders that differ, and git's rename rules over the changed files.
- :mod:`gitrot.git.history`: :func:`last_version_changes` (and :class:`VersionChanges`,
  which starts it early), walking ``git log --raw`` from the ``git`` executable; for all
  intents, or for the few ``paths`` a change touches. git is required: without it the
  query is an EnvironmentFailure (exit 3).
- :mod:`gitrot.git.process`: :class:`_Git`, the only place a ``git`` process is spawned.
- :mod:`gitrot.git.blobs`: what the walk reads (raw trees, intent files, the line scan
  behind :func:`spec_version`).

Callers use the names re-exported here (``from gitrot import git``; ``git.open_repo``);
``_git_executable``, ``_Git`` and ``_tokens`` are re-exported for the tests alone. To change
what the history code sees, patch the module that uses a name
(``gitrot.git.history._git_executable``), not this package.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from gitrot.git.blobs import spec_version as spec_version
    from gitrot.git.change import Change as Change
    from gitrot.git.change import ChangedFile as ChangedFile
    from gitrot.git.change import CommitInfo as CommitInfo
    from gitrot.git.change import open_change as open_change
    from gitrot.git.history import VersionChange as VersionChange
    from gitrot.git.history import VersionChanges as VersionChanges
    from gitrot.git.history import _git_executable as _git_executable
    from gitrot.git.history import last_version_changes as last_version_changes
    from gitrot.git.process import _Git as _Git
    from gitrot.git.process import _tokens as _tokens
    from gitrot.git.repository import Commit as Commit
    from gitrot.git.repository import Repo as Repo
    from gitrot.git.repository import commit_time as commit_time
    from gitrot.git.repository import ensure_repo as ensure_repo
    from gitrot.git.repository import head_commit as head_commit
    from gitrot.git.repository import main_branch as main_branch
    from gitrot.git.repository import no_git_env as no_git_env
    from gitrot.git.repository import open_repo as open_repo
    from gitrot.git.repository import read_blob as read_blob
    from gitrot.git.repository import resolve as resolve

#: where each re-exported name lives; loaded on first use, so that importing one module of
#: the package (the hook's ``gitrot.git.worktree``) does not load the others
_LAZY = {
    "spec_version": "blobs",
    "Change": "change",
    "ChangedFile": "change",
    "CommitInfo": "change",
    "open_change": "change",
    "VersionChange": "history",
    "VersionChanges": "history",
    "last_version_changes": "history",
    "_git_executable": "history",
    "_Git": "process",
    "_tokens": "process",
    "commit_time": "repository",
    "ensure_repo": "repository",
    "head_commit": "repository",
    "main_branch": "repository",
    "no_git_env": "repository",
    "open_repo": "repository",
    "read_blob": "repository",
    "resolve": "repository",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gitrot.git' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"gitrot.git.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "Change",
    "ChangedFile",
    "CommitInfo",
    "VersionChange",
    "VersionChanges",
    "commit_time",
    "ensure_repo",
    "head_commit",
    "last_version_changes",
    "main_branch",
    "no_git_env",
    "open_change",
    "open_repo",
    "read_blob",
    "resolve",
    "spec_version",
]
