"""The one package that talks to git: small named queries over pygit2 and the ``git`` executable.

No module outside it imports pygit2, and its modules import it only inside functions: the
import costs ~90 ms, and most gitrot processes (the pre-commit hook, decrypt) never read
history. Every git failure leaves as a :class:`~gitrot.errors.GitError` (exit 3) with a hint;
a revision that names no commit as an :class:`~gitrot.errors.UnknownRevisionError` (exit 2).
git is required, as pre-commit requires it: without it a query is an EnvironmentFailure
(exit 3).

- :mod:`gitrot.git.process`: the only place a ``git`` process is spawned (``run_git``,
  ``git_lines``, ``GitStream``), with the environment of a git child (``git_env``).
- :mod:`gitrot.git.repository`: open or create a repository, resolve revisions, read one file.
- :mod:`gitrot.git.worktree`: what the pre-commit hook asks of ``HEAD``, without pygit2.
- :mod:`gitrot.git.change`: ``open_change``, the ``Change`` a pull request makes (files
  against the merge base, commits, blobs on either side), for ``gitrot check``.
- :mod:`gitrot.git.diff` and :mod:`gitrot.git.renames`: the tree comparison that reads only
  the folders that differ, and git's rename rules over the changed files.
- :mod:`gitrot.git.history`: ``last_version_changes`` (and ``VersionChanges``, which starts
  it early), walking ``git log --raw``; :mod:`gitrot.git.blobs`: what the walk reads.
- :mod:`gitrot.git.state` and :mod:`gitrot.git.sshsig`: the reconciler's signed records.

Import names from the module that defines them (``from gitrot.git.repository import
open_repo``): this package re-exports nothing, so importing one module (the hook's
``gitrot.git.worktree``) loads no other.

Imports: gitrot.files, gitrot.codec, gitrot.core, gitrot.errors.
"""
