"""What an intent path held before the change: the highest version it ever had.

``version-reused`` needs it for intents the change adds at a path whose intent was deleted
earlier. ``git log --diff-filter=D`` (in C) finds the deletions of those paths only; the
deleted versions are read from the deleting commits' first parents with pygit2.
"""

from __future__ import annotations

import subprocess

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from gitrot.git.repository import Commit, Repo


def highest_versions(repo: Repo, prefix: str, rev: Commit, paths: list[str]) -> dict[str, int]:
    """``{path: highest spec.version a deleted intent at path had}`` in the history of
    ``rev`` (the merge base, or the last reconciled commit), for the paths (relative to the
    policy root ``prefix``) that had one. Without a ``git`` executable the answer is empty
    (nothing is known to have been reused)."""
    import shutil

    from gitrot.errors import GitError
    from gitrot.git.blobs import spec_version
    from gitrot.git.process import no_git_env

    executable = shutil.which("git")
    if executable is None or not paths:
        return {}
    full = {prefix + path: path for path in paths}
    argv = [
        executable,
        f"--git-dir={repo.path}",
        "log",
        "--diff-filter=D",
        "--format=%x01%H",
        "--name-only",
        "--no-renames",
        str(rev.id),
        "--",
        *full,
    ]
    done = subprocess.run(argv, env=no_git_env(), capture_output=True, check=False)
    if done.returncode != 0:
        problem = done.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise GitError(f"git log failed: {' '.join(problem)}", where=repo.path)
    highest: dict[str, int] = {}
    commit_id = ""
    for raw in done.stdout.decode("utf-8", "replace").splitlines():
        if raw.startswith("\x01"):
            commit_id = raw[1:]
            continue
        if raw not in full or not commit_id:
            continue
        commit = repo.get(commit_id)
        parents = getattr(commit, "parents", [])
        if not parents:
            continue
        try:
            blob = parents[0].tree[raw]
        except KeyError:
            continue
        version = spec_version(blob.data)
        if version is not None:
            path = full[raw]
            highest[path] = max(highest.get(path, 0), version)
    return highest


def steps_by_one(repo: Repo, prefix: str, old: Commit, new: Commit, path: str) -> bool:
    """Whether every first-parent commit from ``old`` (excluded) to ``new`` that changed
    the intent at ``path`` (policy-relative) kept its ``spec.version`` or raised it by one:
    the reconciler's version-step over several merged commits. Without a ``git``
    executable, False (the caller then compares ``new`` with ``old`` directly)."""
    import shutil

    from gitrot.git.blobs import spec_version
    from gitrot.git.process import no_git_env
    from gitrot.git.repository import read_blob

    executable = shutil.which("git")
    if executable is None:
        return False
    argv = [
        executable,
        f"--git-dir={repo.path}",
        "log",
        "--first-parent",
        "--format=%H",
        f"{old.id}..{new.id}",
        "--",
        prefix + path,
    ]
    done = subprocess.run(argv, env=no_git_env(), capture_output=True, check=False)
    if done.returncode != 0:
        return False
    for commit_id in done.stdout.decode("ascii", "replace").split():
        commit = repo.get(commit_id)
        parents = getattr(commit, "parents", [])
        if commit is None or not parents:
            return False
        now = read_blob(commit, prefix + path)  # type: ignore[arg-type]
        before = read_blob(parents[0], prefix + path)
        if now is None:
            continue
        if before is None:
            return False
        new_version, old_version = spec_version(now), spec_version(before)
        if new_version is None or old_version is None:
            return False
        if new_version - old_version not in (0, 1):
            return False
    return True
