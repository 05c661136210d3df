"""Reading intents out of git objects, for the history walk.

Raw tree entries (:data:`TREE_ENTRY`, :func:`parse_entry`), which files are intents
(:func:`is_intent_file`), an intent's ``spec.version`` (:func:`spec_version`, a line scan with
the YAML parser behind it) and :class:`TreeReader`, the base of the walk: raw trees and blobs
read through pygit2, one cached tree per folder, the intents a walk answers for, and rename
detection.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, TypeVar

from gitrot.codec import yaml_parse
from gitrot.codec.tree import Map
from gitrot.codec.yaml_scan import scan_field, scan_int
from gitrot.core.layout import INTENT_SUFFIX, SEALED_SUFFIX
from gitrot.errors import GitrotError

if TYPE_CHECKING:  # history imports this module (a cycle); pygit2 is imported where used
    from gitrot.git.history import VersionChange
    from gitrot.git.repository import Commit, Repo

_Path = TypeVar("_Path", str, bytes)

#: one raw tree entry: "<octal mode> <name>\0<20-byte id>" (SHA-1 object format)
TREE_ENTRY = re.compile(rb"[0-7]+ [^\0]*\0.{20}", re.S)
_ENTRY = re.compile(rb"([0-7]+) ([^\0]*)\0(.{20})", re.S)
_TREE_MODE = b"40000"
_GITLINK_MODE = b"160000"
_EMPTY: frozenset[bytes] = frozenset()


class TreeReader:
    """What the :func:`~gitrot.git.history.last_version_changes` walk reads with.

    The objects under ``prefix`` read raw, the intents to answer for (``paths``; None: all),
    the versions read so far and the answer so far.
    """

    def __init__(self, repo: Repo, prefix: str, paths: Collection[str] | None = None) -> None:
        import pygit2

        self.repo = repo
        self.odb = repo.odb
        self.oid = pygit2.Oid
        self.subdir = "/".join(part for part in prefix.split("/") if part)
        self.base = self.subdir + "/" if self.subdir else ""
        self.paths = None if paths is None else frozenset(paths)
        self.current: dict[str, int | None] = {}  # key -> its version at rev, once read
        self.found: dict[str, VersionChange] = {}
        self.by_path: dict[str, tuple[bytes, frozenset[bytes]]] = {}

    def _commit(self, hex_id: bytes) -> Commit:
        import pygit2

        return self.repo[hex_id.decode()].peel(pygit2.Commit)

    def _subtree(self, commit: Commit) -> bytes | None:
        if not self.subdir:
            return bytes(commit.tree_id.raw)
        try:
            entry = commit.tree[self.subdir]
        except KeyError:
            return None
        return bytes(entry.id.raw) if entry.type_str == "tree" else None

    def _entries(self, tree: bytes | None, path: str) -> frozenset[bytes]:
        """The raw entries of ``tree``, the folder at ``path``; one cached tree per folder.

        Walking back, the tree read as a folder's older side is its newer side the next
        time that folder changes, however many commits later: it is read once.
        """
        if tree is None:
            return _EMPTY
        cached = self.by_path.get(path)
        if cached is not None and cached[0] == tree:
            return cached[1]
        found = frozenset(TREE_ENTRY.findall(self.odb.read(self.oid(raw=tree))[1]))
        self.by_path[path] = (tree, found)
        return found

    def _intents_at(self, start: Commit) -> list[tuple[str, bytes]]:
        """The intents to answer for with their blobs at ``start``: all, or those of ``paths``.

        Given ``paths``, each is looked up on its own (no listing of the prefix); a path that
        is no intent file under the prefix at ``start`` is left out.
        """
        import pygit2

        if self.paths is None:
            tree = self._subtree(start)
            return [] if tree is None else list(self._blobs(tree, self.base))
        found = []
        for path in sorted(self.paths):
            if not path.startswith(self.base) or not is_intent_file(path):
                continue
            try:
                entry = start.tree[path]
            except pygit2.GitError:
                raise  # a missing object (a KeyError too), not a missing path
            except (KeyError, ValueError):
                continue
            if entry.type_str == "blob":
                found.append((path, bytes(entry.id.raw)))
        return found

    def _blobs(self, tree: bytes, base: str) -> Iterator[tuple[str, bytes]]:
        """Every intent file under ``tree`` with its blob id."""
        for entry in self._entries(tree, base):
            mode, name, oid = parse_entry(entry)
            path = base + name
            if mode == _TREE_MODE:
                yield from self._blobs(oid, path + "/")
            elif mode != _GITLINK_MODE and is_intent_file(path):
                yield path, oid

    def _changes(
        self, old: bytes | None, new: bytes | None, base: str
    ) -> Iterator[tuple[str, bytes | None, bytes | None]]:
        """(path, old blob, new blob) for every intent file that differs between two trees."""
        new_entries = self._entries(new, base)
        old_entries = self._entries(old, base)
        sides: dict[str, list[tuple[bytes, bytes] | None]] = {}
        for entry in old_entries - new_entries:
            mode, name, oid = parse_entry(entry)
            sides.setdefault(name, [None, None])[0] = (mode, oid)
        for entry in new_entries - old_entries:
            mode, name, oid = parse_entry(entry)
            sides.setdefault(name, [None, None])[1] = (mode, oid)
        for name, (before, after) in sides.items():
            path = base + name
            old_tree = before[1] if before and before[0] == _TREE_MODE else None
            new_tree = after[1] if after and after[0] == _TREE_MODE else None
            if old_tree or new_tree:
                yield from self._changes(old_tree, new_tree, path + "/")
            old_blob = before[1] if before and before[0] != _TREE_MODE else None
            new_blob = after[1] if after and after[0] != _TREE_MODE else None
            if (old_blob or new_blob) and is_intent_file(path):
                yield path, old_blob, new_blob

    def _tree_renames(self, old: bytes, new: bytes | None) -> dict[str, tuple[str, bytes]]:
        """:meth:`_pair_renames` for one commit, from its tree and its parent's (prefix)."""
        added: list[tuple[str, bytes]] = []
        deleted: list[tuple[str, bytes]] = []
        for path, old_blob, new_blob in self._changes(old, new, self.base):
            if old_blob is None and new_blob is not None:
                added.append((path, new_blob))
            elif new_blob is None and old_blob is not None:
                deleted.append((path, old_blob))
        return self._pair_renames(added, deleted)

    def _pair_renames(
        self, added: list[tuple[_Path, bytes]], deleted: list[tuple[_Path, bytes]]
    ) -> dict[_Path, tuple[_Path, bytes]]:
        """Which deleted intent each added intent of one commit was renamed from.

        A rename is an added intent whose text equals a deleted one's but for the ``name:``
        lines. The added intents, in path order, each take the first such deleted intent
        (in path order) that no other took: the pairs depend on the commit alone, not on
        which intents a walk still follows, so a walk restricted to some intents answers
        as the whole walk does.
        """
        pairs: dict[_Path, tuple[_Path, bytes]] = {}
        if not added or not deleted:
            return pairs
        texts: dict[bytes, list[bytes]] = {}

        def text(blob: bytes) -> list[bytes]:
            if blob not in texts:
                texts[blob] = _without_names(self._read(blob))
            return texts[blob]

        left = sorted(deleted, key=_path_order)
        for path, blob in sorted(added, key=_path_order):
            mine = text(blob)
            for candidate in left:
                if text(candidate[1]) == mine:
                    pairs[path] = candidate
                    left.remove(candidate)
                    break
            if not left:
                break
        return pairs

    def _read(self, blob: bytes) -> bytes:
        return self.odb.read(self.oid(raw=blob))[1]

    def _version(self, blob: bytes) -> int | None:
        return spec_version(self._read(blob))


def parse_entry(entry: bytes) -> tuple[bytes, str, bytes]:
    """(octal mode, name, raw id) of one raw tree entry that :data:`TREE_ENTRY` found."""
    match = _ENTRY.fullmatch(entry)
    assert match is not None  # noqa: S101 - TREE_ENTRY only yields what _ENTRY matches
    mode, name, oid = match.groups()
    return mode, name.decode("utf-8", "surrogateescape"), oid


def _path_order(item: tuple[str | bytes, bytes]) -> bytes:
    """Paths in byte order, whether given as bytes (git log) or text (pygit2)."""
    path = item[0]
    return path if isinstance(path, bytes) else path.encode("utf-8", "surrogateescape")


def is_intent_file(path: str) -> bool:
    """Whether the file at ``path`` (under the intents' folder) is an intent by its name."""
    return path.endswith(INTENT_SUFFIX) and not path.endswith(SEALED_SUFFIX)


def _without_names(text: bytes) -> list[bytes]:
    return [line for line in text.splitlines() if not line.lstrip().startswith(b"name:")]


def spec_version(data: bytes) -> int | None:
    """An intent's ``spec.version`` (None when it has none or the file does not parse).

    A line scan (:func:`gitrot.codec.yaml_scan.scan_field`) reads the canonical layout every
    intent gitrot writes has; anything else goes through the real YAML parser.
    """
    version = scan_int(scan_field(data, b"spec", b"version"))
    return version if version is not None else _parse_version(data)


def _parse_version(data: bytes) -> int | None:
    try:
        docs = yaml_parse.parse(data.decode("utf-8"))
    except (GitrotError, UnicodeDecodeError, ValueError):
        return None
    spec = docs[0].get("spec") if docs else None
    version = spec.get("version") if isinstance(spec, Map) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None
