"""What the pre-commit hook needs from git, through the ``git`` executable alone.

``import pygit2`` costs ~110 ms, more than the whole hook may take; two short ``git``
processes answer the hook's questions in a few milliseconds:

- :func:`head_blobs`: the files as they are at ``HEAD`` (the base a commit is judged
  against), by one ``git cat-file --batch``;
- :func:`version_times`: when each intent's ``spec.version`` line last changed on the
  first-parent history of ``HEAD``, by one ``git log -G`` (git's pickaxe, in C), stopped as
  soon as every path has its answer.

Both return None when there is no answer to give: not a git work tree, or no commit yet.
git is required (:func:`gitrot.git.process.require_git`: an EnvironmentFailure, exit 3,
without it), so a missing git never passes for "nothing to compare with". Paths are
relative to ``root`` (the policy repository, which may be a folder inside the git work tree).
"""

from __future__ import annotations

import os
from collections.abc import Collection

from gitrot.core.layout import SECRETS_PREFIX
from gitrot.errors import GitError
from gitrot.git.process import git_lines, run_git

#: a ``version: N`` line indented under a mapping (``spec:``), in basic and extended syntax
VERSION_LINE = r"^[[:space:]][[:space:]]*version:[[:space:]]*[0-9][0-9]*[[:space:]]*$"
_MAX_BLOB = 8 * 1024 * 1024
#: more paths than this (a whole-repository run): the history walk of ``gitrot due``, which
#: reads each commit's tree diff once, instead of the pickaxe's content diffs per path
MAX_PICKAXE_PATHS = 50


#: paths as they are (no octal escapes) in what git prints
_RAW_PATHS = ["-c", "core.quotepath=off"]


def has_head(root: str) -> bool:
    """Whether ``root`` is inside a git work tree whose ``HEAD`` names a commit."""
    result = run_git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], cwd=root)
    return result.returncode == 0


def at_head(
    root: str, paths: Collection[str]
) -> tuple[dict[str, bytes | None], dict[str, int]] | None:
    """:func:`head_blobs` and :func:`version_times` of ``paths`` with one check of HEAD;
    None when there is no HEAD to compare with."""
    if not paths or not has_head(root):
        return None
    return _blobs(root, paths), _times(root, paths)


def head_blobs(root: str, paths: Collection[str]) -> dict[str, bytes | None] | None:
    """``{path: bytes at HEAD, or None when HEAD lacks it}``; None without a HEAD."""
    if not paths:
        return {}
    return _blobs(root, paths) if has_head(root) else None


def version_times(root: str, paths: Collection[str]) -> dict[str, int] | None:
    """``{path: committer time}`` of the newest first-parent commit of ``HEAD`` whose diff of
    ``path`` adds or removes a ``version: N`` line: when the version the path has at HEAD
    took effect. Paths never changed that way are absent; None without a HEAD.

    A rename starts the clock again (the pickaxe sees an added file); ``gitrot due`` follows
    renames, at the cost of a full history walk the hook cannot afford.
    """
    if not paths:
        return {}
    return _times(root, paths) if has_head(root) else None


def _blobs(root: str, paths: Collection[str]) -> dict[str, bytes | None]:
    """:func:`head_blobs` once HEAD is known to exist: one ``git cat-file --batch``."""
    ordered = list(paths)
    request = "".join(f"HEAD:./{path}\n" for path in ordered).encode()
    result = run_git([*_RAW_PATHS, "cat-file", "--batch"], cwd=root, input=request)
    if result.returncode != 0:
        problem = result.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise GitError(f"git cat-file failed: {' '.join(problem)}", where=root)
    found: dict[str, bytes | None] = {}
    data = result.stdout
    offset = 0
    for path in ordered:
        end = data.index(b"\n", offset)
        header = data[offset:end].split()
        offset = end + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            found[path] = data[offset : offset + size] if size <= _MAX_BLOB else None
            offset += size + 1
        else:  # "<object> missing", or a tree/submodule where a file was expected
            found[path] = None
    return found


def _times(root: str, paths: Collection[str]) -> dict[str, int]:
    """:func:`version_times` once HEAD is known to exist: one ``git log -G``, stopped as soon
    as every path has its answer (many paths: :func:`_walked_times`)."""
    if len(paths) > MAX_PICKAXE_PATHS:
        return _walked_times(root, paths)
    args = [*_RAW_PATHS, "log", "--first-parent", "--relative", "--format=%x01%ct"]
    args += ["--name-only", f"-G{VERSION_LINE}", "HEAD", "--", *paths]
    wanted = set(paths)
    found: dict[str, int] = {}
    with git_lines(args, cwd=root) as lines:
        time = 0
        for raw in lines:
            line = raw.rstrip(b"\n").decode("utf-8", "replace")
            if line.startswith("\x01"):
                time = int(line[1:])
            elif line in wanted and line not in found:
                found[line] = time
                if len(found) == len(wanted):
                    break  # leaving the block stops git
    return found


def _walked_times(root: str, paths: Collection[str]) -> dict[str, int]:
    """:func:`version_times` of many paths through
    :func:`gitrot.git.history.last_version_changes` (one ``git log --raw`` walk; renames
    followed). Imported here: the hook, with few paths, never loads the walk."""
    from gitrot.git.history import last_version_changes
    from gitrot.git.repository import open_repo

    repo = open_repo(root)
    workdir = repo.workdir or root
    relative = os.path.relpath(os.path.realpath(root), os.path.realpath(workdir))
    base = "" if relative == "." else relative.replace(os.sep, "/") + "/"
    changes = last_version_changes(repo, prefix=base + SECRETS_PREFIX)
    wanted = set(paths)
    return {
        key[len(base) :]: change.time
        for key, change in changes.items()
        if key[len(base) :] in wanted
    }
