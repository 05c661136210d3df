"""Reading intents out of git objects, shared by both history walks.

Raw tree entries (:func:`_parse_entry`), which files are intents (:func:`_is_intent`), an
intent's ``spec.version`` (:func:`spec_version`, a line scan with the YAML parser behind it)
and :class:`_Reader`, the base of both walks: raw trees and blobs read through pygit2, one
cached tree per folder, and rename detection.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import TypeVar

    from gitrot.git.history import VersionChange
    from gitrot.git.repo import Commit, Repo

    _Path = TypeVar("_Path", str, bytes)

# One raw tree entry: "<octal mode> <name>\0<20-byte id>" (SHA-1 object format).
_ENTRY = re.compile(rb"([0-7]+) ([^\0]*)\0(.{20})", re.S)
_ENTRY_BYTES = re.compile(rb"[0-7]+ [^\0]*\0.{20}", re.S)
_TREE_MODE = b"40000"
_GITLINK_MODE = b"160000"
_EMPTY: frozenset[bytes] = frozenset()


class _Reader:
    """What both :func:`~gitrot.git.history.last_version_changes` walks share.

    The objects under ``prefix`` read raw, the versions read so far and the answer so far.
    """

    def __init__(self, repo: Repo, prefix: str) -> None:
        import pygit2

        self.repo = repo
        self.odb = repo.odb
        self.oid = pygit2.Oid
        self.subdir = "/".join(part for part in prefix.split("/") if part)
        self.base = self.subdir + "/" if self.subdir else ""
        self.current: dict[str, int | None] = {}  # key -> its version at rev, once read
        self.found: dict[str, VersionChange] = {}
        self.by_path: dict[str, tuple[bytes, frozenset[bytes]]] = {}
        from gitrot.core.due import scan_field, scan_int

        self.scan_field, self.scan_int = scan_field, scan_int

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
        found = frozenset(_ENTRY_BYTES.findall(self.odb.read(self.oid(raw=tree))[1]))
        self.by_path[path] = (tree, found)
        return found

    def _blobs(self, tree: bytes, base: str) -> Iterator[tuple[str, bytes]]:
        """Every intent file under ``tree`` with its blob id."""
        for entry in self._entries(tree, base):
            mode, name, oid = _parse_entry(entry)
            path = base + name
            if mode == _TREE_MODE:
                yield from self._blobs(oid, path + "/")
            elif mode != _GITLINK_MODE and _is_intent(path):
                yield path, oid

    def _renamed_from(
        self, added: bytes, deleted: list[tuple[_Path, bytes]]
    ) -> tuple[_Path, bytes] | None:
        """The deleted intent whose text equals ``added`` but for its ``name:`` lines."""
        if not deleted:
            return None
        text = _without_names(self._read(added))
        for candidate in deleted:
            if _without_names(self._read(candidate[1])) == text:
                return candidate
        return None

    def _read(self, blob: bytes) -> bytes:
        return self.odb.read(self.oid(raw=blob))[1]

    def _version(self, blob: bytes) -> int | None:
        data = self._read(blob)
        version = self.scan_int(self.scan_field(data, b"spec", b"version"))
        return version if version is not None else _parse_version(data)


def _parse_entry(entry: bytes) -> tuple[bytes, str, bytes]:
    match = _ENTRY.fullmatch(entry)
    assert match is not None  # noqa: S101 - _ENTRY_BYTES only yields what _ENTRY matches
    mode, name, oid = match.groups()
    return mode, name.decode("utf-8", "surrogateescape"), oid


def _is_intent(path: str) -> bool:
    return path.endswith(".yaml") and not path.endswith(".sealed.yaml")


def _without_names(text: bytes) -> list[bytes]:
    return [line for line in text.splitlines() if not line.lstrip().startswith(b"name:")]


def spec_version(data: bytes) -> int | None:
    """An intent's ``spec.version`` (None when it has none or the file does not parse).

    A line scan (:func:`gitrot.core.due.scan_field`) reads the canonical layout every
    intent gitrot writes has; anything else goes through the real YAML parser.
    """
    from gitrot.core.due import scan_field, scan_int

    version = scan_int(scan_field(data, b"spec", b"version"))
    return version if version is not None else _parse_version(data)


def _parse_version(data: bytes) -> int | None:
    from gitrot.errors import GitrotError
    from gitrot.sops import yaml_parse
    from gitrot.sops.tree import Map

    try:
        docs = yaml_parse.parse(data.decode("utf-8"))
    except (GitrotError, UnicodeDecodeError, ValueError):
        return None
    spec = docs[0].get("spec") if docs else None
    version = spec.get("version") if isinstance(spec, Map) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None
