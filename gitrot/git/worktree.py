"""What the pre-commit hook needs from git, through the ``git`` executable alone.

``import pygit2`` costs ~110 ms, more than the whole hook may take; two short ``git``
processes answer the hook's questions in a few milliseconds:

- :func:`head_blobs`: the files as they are at ``HEAD`` (the base a commit is judged
  against), by one ``git cat-file --batch``;
- :func:`version_times`: when each intent's ``spec.version`` line last changed on the
  first-parent history of ``HEAD``, by one ``git log -G`` (git's pickaxe, in C), stopped as
  soon as every path has its answer.

Both return None when there is no answer to give: no ``git`` on ``PATH``, not a git work
tree, or no commit yet. Paths are relative to ``root`` (the policy repository, which may
be a folder inside the git work tree).
"""

from __future__ import annotations

import subprocess

from gitrot.core.layout import SECRETS_PREFIX

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Collection

#: a ``version: N`` line indented under a mapping (``spec:``), in basic and extended syntax
VERSION_LINE = r"^[[:space:]][[:space:]]*version:[[:space:]]*[0-9][0-9]*[[:space:]]*$"
_MAX_BLOB = 8 * 1024 * 1024
#: more paths than this (a whole-repository run): the history walk of ``gitrot due``, which
#: reads each commit's tree diff once, instead of the pickaxe's content diffs per path
MAX_PICKAXE_PATHS = 50


def _git(root: str, args: list[str]) -> tuple[list[str], dict[str, str]] | None:
    """The argv and environment of a ``git`` command in ``root``; None without git."""
    import shutil

    from gitrot.git.repository import no_git_env

    executable = shutil.which("git")
    if executable is None:
        return None
    env = no_git_env()
    env["GIT_OPTIONAL_LOCKS"] = "0"
    env["LC_ALL"] = "C"
    return [executable, "-C", root, "-c", "core.quotepath=off", *args], env


def has_head(root: str) -> bool:
    """Whether ``root`` is inside a git work tree whose ``HEAD`` names a commit."""
    command = _git(root, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
    if command is None:
        return False
    argv, env = command
    result = subprocess.run(argv, env=env, capture_output=True, check=False)
    return result.returncode == 0


def at_head(
    root: str, paths: Collection[str]
) -> tuple[dict[str, bytes | None], dict[str, int]] | None:
    """:func:`head_blobs` and :func:`version_times` of ``paths`` with one check of HEAD;
    None when there is no HEAD to compare with."""
    if not paths or not has_head(root):
        return None
    blobs = head_blobs(root, paths, checked=True)
    times = version_times(root, paths, checked=True)
    return (blobs or {}, times or {}) if blobs is not None and times is not None else None


def head_blobs(
    root: str, paths: Collection[str], *, checked: bool = False
) -> dict[str, bytes | None] | None:
    """``{path: bytes at HEAD, or None when HEAD lacks it}``; None without a HEAD."""
    if not paths:
        return {}
    if not checked and not has_head(root):
        return None
    command = _git(root, ["cat-file", "--batch"])
    assert command is not None  # noqa: S101 - has_head found git
    argv, env = command
    ordered = list(paths)
    request = "".join(f"HEAD:./{path}\n" for path in ordered).encode()
    result = subprocess.run(argv, env=env, input=request, capture_output=True, check=False)
    if result.returncode != 0:
        from gitrot.errors import GitError

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


def version_times(
    root: str, paths: Collection[str], *, checked: bool = False
) -> dict[str, int] | None:
    """``{path: committer time}`` of the newest first-parent commit of ``HEAD`` whose diff of
    ``path`` adds or removes a ``version: N`` line: when the version the path has at HEAD
    took effect. Paths never changed that way are absent; None without a HEAD.

    A rename starts the clock again (the pickaxe sees an added file); ``gitrot due`` follows
    renames, at the cost of a full history walk the hook cannot afford.
    """
    if not paths:
        return {}
    if not checked and not has_head(root):
        return None
    if len(paths) > MAX_PICKAXE_PATHS:
        return _walked_times(root, paths)
    command = _git(
        root,
        [
            "log",
            "--first-parent",
            "--relative",
            "--format=%x01%ct",
            "--name-only",
            f"-G{VERSION_LINE}",
            "HEAD",
            "--",
            *paths,
        ],
    )
    assert command is not None  # noqa: S101 - has_head found git
    argv, env = command
    wanted = set(paths)
    found: dict[str, int] = {}
    with subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as process:
        assert process.stdout is not None  # noqa: S101 - stdout=PIPE
        time = 0
        for raw in process.stdout:
            line = raw.rstrip(b"\n").decode("utf-8", "replace")
            if line.startswith("\x01"):
                time = int(line[1:])
            elif line in wanted and line not in found:
                found[line] = time
                if len(found) == len(wanted):
                    process.kill()
                    break
        process.stdout.close()
    return found


def _walked_times(root: str, paths: Collection[str]) -> dict[str, int]:
    """:func:`version_times` of many paths through :func:`gitrot.git.last_version_changes`
    (one ``git log --raw`` walk; renames followed)."""
    import os

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
