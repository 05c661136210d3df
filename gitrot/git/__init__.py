"""The one package that talks to git: small named queries over pygit2 (libgit2).

No module outside it imports pygit2, and its modules import it only inside functions: the
import costs ~90 ms, and most gitrot processes (the pre-commit hook, decrypt) never read
history. Every libgit2 failure leaves as a :class:`GitError` (exit 3) with a hint; a
revision that names no commit leaves as :class:`UnknownRevisionError` (exit 2).

- :mod:`gitrot.git.repo`: open or create a repository, resolve revisions, read one file,
  and :func:`no_git_env` for a ``git`` child process.
- :mod:`gitrot.git.history`: :func:`last_version_changes` (and :class:`VersionChanges`,
  which starts it early), walking ``git log --raw`` from the ``git`` executable.
- :mod:`gitrot.git.walk`: the same walk on pygit2 alone, when there is no ``git`` on
  ``PATH``.
- :mod:`gitrot.git.process`: :class:`_Git`, the only place a ``git`` process is spawned.
- :mod:`gitrot.git.blobs`: what both walks share (raw trees, intent files, the line scan
  behind :func:`spec_version`).

Callers use the names re-exported here (``from gitrot import git``; ``git.open_repo``);
``_git_executable``, ``_Git`` and ``_tokens`` are re-exported for the tests alone. To change
what the history code sees, patch the module that uses a name
(``gitrot.git.history._git_executable``), not this package.
"""

from __future__ import annotations

from gitrot.git.blobs import spec_version
from gitrot.git.history import VersionChange, VersionChanges, last_version_changes
from gitrot.git.history import _git_executable as _git_executable
from gitrot.git.process import _Git as _Git
from gitrot.git.process import _tokens as _tokens
from gitrot.git.repo import (
    commit_time,
    ensure_repo,
    head_commit,
    main_branch,
    no_git_env,
    open_repo,
    read_blob,
    resolve,
)

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from gitrot.git.repo import Commit as Commit
    from gitrot.git.repo import Repo as Repo

__all__ = [
    "VersionChange",
    "VersionChanges",
    "commit_time",
    "ensure_repo",
    "head_commit",
    "last_version_changes",
    "main_branch",
    "no_git_env",
    "open_repo",
    "read_blob",
    "resolve",
    "spec_version",
]
