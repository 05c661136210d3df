"""Two trees compared folder by folder: :func:`tree_changes`, and :func:`tree_files`.

An entry whose bytes (mode, name, id) are equal on both sides is never looked into, so an
unchanged folder is never read: the cost follows the change, not the repository. A libgit2
tree diff (``Tree.diff_to_tree``) reads every folder of both trees, so it is not used.
Entries are read raw (:mod:`gitrot.git.blobs`), paths decoded as UTF-8 with
``surrogateescape`` like the rest of :mod:`gitrot.git`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from gitrot.git.blobs import TREE_ENTRY, parse_entry
from gitrot.git.renames import Side

if TYPE_CHECKING:  # pygit2 is imported where it is used: ~90 ms
    import pygit2

    from gitrot.git.repository import Repo

Entry = tuple[int, bytes]  # mode, raw id

TREE_MODE = 0o040000
GITLINK_MODE = 0o160000
_NOT_FILE = (TREE_MODE, GITLINK_MODE)  # a folder, a submodule


def tree_changes(
    repo: Repo, old: pygit2.Oid, new: pygit2.Oid
) -> Iterator[tuple[Side | None, Side | None]]:
    """(old, new) for each file that differs between two trees; None on the side without it.

    A side is (path from the top, mode, raw blob id, size from the object header). A file
    (or symlink) that changed is both; a submodule counts as no file, so a file replaced by
    one is deleted. Raises ``pygit2.GitError`` for a missing object.
    """
    for path, before, after in _compare(repo, bytes(old.raw), bytes(new.raw), ""):
        yield (
            (path, *before, _size(repo, before[1])) if before else None,
            (path, *after, _size(repo, after[1])) if after else None,
        )


def tree_files(repo: Repo, tree: pygit2.Oid, base: str) -> list[str]:
    """The files and symlinks under ``tree`` (the folder at ``base``: "" or "a/b/")."""
    paths: list[str] = []
    pending = [(bytes(tree.raw), base)]
    while pending:
        current, folder = pending.pop()
        for entry in _entries(repo, current):
            raw_mode, name, oid = parse_entry(entry)
            mode = int(raw_mode, 8)
            if mode == TREE_MODE:
                pending.append((oid, folder + name + "/"))
            elif mode != GITLINK_MODE:
                paths.append(folder + name)
    return paths


def _compare(
    repo: Repo, old: bytes | None, new: bytes | None, base: str
) -> Iterator[tuple[str, Entry | None, Entry | None]]:
    old_entries, new_entries = _entries(repo, old), _entries(repo, new)
    sides: dict[str, list[Entry | None]] = {}
    for entry in old_entries - new_entries:
        mode, name, oid = parse_entry(entry)
        sides.setdefault(name, [None, None])[0] = (int(mode, 8), oid)
    for entry in new_entries - old_entries:
        mode, name, oid = parse_entry(entry)
        sides.setdefault(name, [None, None])[1] = (int(mode, 8), oid)
    for name, (before, after) in sides.items():
        path = base + name
        old_tree = before[1] if before and before[0] == TREE_MODE else None
        new_tree = after[1] if after and after[0] == TREE_MODE else None
        if old_tree or new_tree:
            yield from _compare(repo, old_tree, new_tree, path + "/")
        old_file = before if before and before[0] not in _NOT_FILE else None
        new_file = after if after and after[0] not in _NOT_FILE else None
        if old_file or new_file:
            yield path, old_file, new_file


def _entries(repo: Repo, tree: bytes | None) -> frozenset[bytes]:
    import pygit2

    if tree is None:
        return frozenset()
    return frozenset(TREE_ENTRY.findall(repo.odb.read(pygit2.Oid(raw=tree))[1]))


def _size(repo: Repo, oid: bytes) -> int:
    import pygit2

    return int(repo.odb.read_header(pygit2.Oid(raw=oid))[1])
