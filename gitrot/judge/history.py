"""What an intent path held before: the highest version it ever had, and how it got where it is.

``version-reused`` needs the first for intents the change adds at a path whose intent was
deleted earlier: ``git log --diff-filter=D`` (in C) finds the deletions of those paths only;
the deleted versions are read from the deleting commits' first parents. The reconciler's
``version-step`` over several merged commits needs the second (:func:`steps_by_one`). git
runs through :func:`gitrot.git.process.run_git`, the one place gitrot spawns it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitrot.errors import GitError
from gitrot.git.blobs import spec_version
from gitrot.git.process import run_git
from gitrot.git.repository import read_blob, resolve

if TYPE_CHECKING:
    from gitrot.git.repository import Commit, Repo


def highest_versions(repo: Repo, prefix: str, rev: Commit, paths: list[str]) -> dict[str, int]:
    """``{path: highest spec.version a deleted intent at path had}`` in the history of
    ``rev`` (the merge base, or the last reconciled commit), for the paths (relative to the
    policy root ``prefix``) that had one. GitError when ``git log`` fails."""
    if not paths:
        return {}
    full = {prefix + path: path for path in paths}
    args = ["log", "--diff-filter=D", "--format=%x01%H", "--name-only", "--no-renames"]
    done = run_git([*args, str(rev.id), "--", *full], git_dir=repo.path)
    if done.returncode != 0:
        problem = done.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise GitError(f"git log failed: {' '.join(problem)}", where=repo.path)
    highest: dict[str, int] = {}
    commit_id = ""
    for raw in done.stdout.decode("utf-8", "replace").splitlines():
        if raw.startswith("\x01"):
            commit_id = raw[1:]
            continue
        if raw not in full:
            continue
        parent = resolve(repo, commit_id).parents[0]  # a deletion's: it had the file
        version = spec_version(getattr(parent.tree[raw], "data", b""))
        if version is not None:
            path = full[raw]
            highest[path] = max(highest.get(path, 0), version)
    return highest


def steps_by_one(repo: Repo, prefix: str, old: Commit, new: Commit, path: str) -> bool:
    """Whether every first-parent commit from ``old`` (excluded) to ``new`` that changed
    the intent at ``path`` (policy-relative) kept its ``spec.version`` or raised it by one:
    the reconciler's version-step over several merged commits. False when git cannot tell
    (the caller then compares ``new`` with ``old`` directly)."""
    args = ["log", "--first-parent", "--format=%H", f"{old.id}..{new.id}", "--", prefix + path]
    done = run_git(args, git_dir=repo.path)
    if done.returncode != 0:
        return False
    for commit_id in done.stdout.decode("ascii", "replace").split():
        commit = resolve(repo, commit_id)
        now = read_blob(commit, prefix + path)
        if now is None:
            continue
        before = read_blob(commit.parents[0], prefix + path) if commit.parents else None
        if before is None:
            return False
        new_version, old_version = spec_version(now), spec_version(before)
        if new_version is None or old_version is None:
            return False
        if new_version - old_version not in (0, 1):
            return False
    return True
