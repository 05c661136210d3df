"""Finding the policy repository a command works on."""

from __future__ import annotations

import os

from gitrot.core.layout import CONFIG_FILE, SECRETS_DIR
from gitrot.errors import InputError


def find_root(start: str = ".") -> str:
    """The nearest directory at or above ``start`` that holds ``gitrot.yaml``."""
    current = os.path.abspath(start)
    while True:
        if os.path.isfile(os.path.join(current, CONFIG_FILE)):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            raise InputError(
                f"not in a gitrot repository (no {CONFIG_FILE} here or above)",
                where=os.path.abspath(start),
                hint="run 'gitrot init' to create one, or cd into your policy repository",
            )
        current = parent


def nearest_root(start: str = ".") -> str | None:
    """:func:`find_root`, or None when there is no policy repository here or above."""
    try:
        return find_root(start)
    except InputError:
        return None


def git_top(path: str) -> str | None:
    """The top of the git work tree holding ``path``: the nearest folder at or above it
    with a ``.git`` entry (a folder, or the file of a linked work tree or submodule); None
    outside git. No git process: this is on the hook's start-up path."""
    current = os.path.abspath(path)
    while True:
        if os.path.lexists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def root_of(path: str) -> str | None:
    """The policy repository that holds the file ``path``, or None: the nearest folder at
    or above the file's folder with a ``gitrot.yaml``, never above the top of its git work
    tree (pre-commit, run from the top of an application's repository, passes paths from
    there). A ``gitrot.yaml`` under another policy repository's ``secrets/`` is an intent
    (of a secret named ``.../gitrot``), not a policy repository."""
    start = os.path.dirname(os.path.abspath(path))
    top = git_top(start)
    found: list[str] = []  # innermost first
    current = start
    while True:
        if os.path.isfile(os.path.join(current, CONFIG_FILE)):
            found.append(current)
        parent = os.path.dirname(current)
        if current in (top, parent):  # the top of the git tree, or of the file system
            break
        current = parent
    chosen: str | None = None
    for candidate in reversed(found):  # outermost first: an outer one's secrets/ hides
        if chosen is not None and _below(candidate, os.path.join(chosen, SECRETS_DIR)):
            continue
        chosen = candidate
    return chosen


def top_prefix(root: str) -> str:
    """Where the policy repository ``root`` sits in its git work tree, as ``""`` (at the
    top, or outside git) or ``"infra/policy/"``: reports name files from the top of the
    git tree, as pre-commit, code scanning and annotations do."""
    top = git_top(root)
    if top is None:
        return ""
    relative = os.path.relpath(os.path.abspath(root), top)
    return "" if relative == "." else relative.replace(os.sep, "/") + "/"


def _below(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
