"""In-place edits of a YAML document's text that touch only the lines they must.

A rotation's pull request must show exactly the bump: comments, key order, quoting and
indentation elsewhere stay byte for byte. Edits work on the source text, located through
the parsed tree's line numbers, and every edit is checked by parsing the result again: the
edited document must equal the original with only the intended change, or the edit is
refused (never a silently different file). An edit is all or nothing: a refused edit leaves
the document as it was.
"""

from __future__ import annotations

from gitrot.codec import yaml_parse
from gitrot.codec.tree import Entry, Map, Scalar, Timestamp, Value, to_plain
from gitrot.codec.yaml_emit import inline_scalar
from gitrot.errors import InputError


class Document:
    """The text of a one-document YAML file and its parsed tree, kept in step."""

    __slots__ = ("lines", "root", "where")

    def __init__(self, text: str, *, where: str) -> None:
        docs = yaml_parse.parse(text, filename=where)
        if len(docs) != 1:
            raise InputError("expected exactly one YAML document", where=where)
        self.root: Map = docs[0]
        self.lines = text.splitlines(keepends=True)
        self.where = where

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def entry(self, path: tuple[str, ...]) -> Entry:
        node: Value = self.root
        found: Entry | None = None
        for key in path:
            found = node.entry(key) if isinstance(node, Map) else None
            if found is None:
                raise InputError(f"'{'.'.join(path)}' is missing", where=self.where)
            node = found.value
        assert found is not None  # noqa: S101 - path is never empty
        return found

    def set(self, path: tuple[str, ...], value: Scalar) -> None:
        """Replace the scalar at ``path`` on its own line, keeping any trailing comment."""
        entry = self.entry(path)
        index = entry.line - 1
        line = self.lines[index]
        start, end, tail = self._value_span(line, path, entry.line)
        stop = self._block_end(index, _indent(line))
        if stop != index + 1 and not line[start:end].startswith(("|", ">")):
            raise self._refuse(path, entry.line, "its value continues on the next lines")
        eol = "\n" if line.endswith("\n") else ""
        quote = line[start] if line[start : start + 1] in ("'", '"') else ""
        rendered = inline_scalar(value, quote=quote)
        lines = list(self.lines)
        lines[index:stop] = [line[:start] + rendered + tail + eol]
        self._check(lines, path, value)

    def insert_after(self, sibling: tuple[str, ...], key: str, value: Scalar) -> None:
        """Add ``key: value`` right after the entry ``sibling``, at its indentation."""
        entry = self.entry(sibling)
        index = entry.line - 1
        indent = _indent(self.lines[index])
        stop = self._block_end(index, indent)
        lines = list(self.lines)
        lines.insert(stop, " " * indent + f"{key}: {inline_scalar(value)}\n")
        self._check(lines, (*sibling[:-1], key), value)

    def replace_block(self, path: tuple[str, ...], key: str, value: Scalar) -> None:
        """Make the mapping at ``path`` hold just ``key: value`` (e.g. generate -> sealed)."""
        entry = self.entry(path)
        index = entry.line - 1
        line = self.lines[index]
        indent = _indent(line)
        start, _, _ = self._value_span(line, path, entry.line)
        stop = self._block_end(index, indent)
        child = next((_indent(x) for x in self.lines[index + 1 : stop] if x.strip()), indent + 2)
        head = line[:start].rstrip() + "\n"
        lines = list(self.lines)
        lines[index:stop] = [head, " " * child + f"{key}: {inline_scalar(value)}\n"]
        expected = to_plain(self.root)
        node = expected
        for part in path[:-1]:
            node = node[part]  # type: ignore[index]
        node[path[-1]] = {key: value}  # type: ignore[index]
        after = self._reparse(lines)
        if to_plain(after) != expected:
            raise self._refuse(path, entry.line, "the result does not read back as intended")
        self.lines, self.root = lines, after

    def _value_span(self, line: str, path: tuple[str, ...], number: int) -> tuple[int, int, str]:
        """Where the value starts and ends on the key's line, and what follows it."""
        colon = _key_end(line, _indent(line))
        if colon < 0:
            raise self._refuse(path, number, "its key is not at the start of the line")
        start = colon + 1
        while start < len(line) and line[start] == " ":
            start += 1
        body = line[start:].rstrip("\r\n")
        if body[:1] in ("{", "[", "&", "*", "!"):
            raise self._refuse(path, number, "it is written in flow style or with a tag")
        end = start + _scalar_length(body)
        if end < 0 or end < start:
            raise self._refuse(path, number, "its quoted value spans several lines")
        rest = line[end:].rstrip("\r\n")
        return start, end, rest if rest.strip().startswith("#") else ""

    def _block_end(self, index: int, indent: int) -> int:
        """The index after the last line that belongs to the entry starting at ``index``."""
        stop = index + 1
        last = index + 1
        while stop < len(self.lines):
            text = self.lines[stop]
            if text.strip() and not text.lstrip().startswith("#"):
                if _indent(text) <= indent:
                    break
                last = stop + 1
            stop += 1
        return last

    def _reparse(self, lines: list[str]) -> Map:
        return Document("".join(lines), where=self.where).root

    def _check(self, lines: list[str], path: tuple[str, ...], value: Scalar) -> None:
        """The edited ``lines`` must read back as the old document with only ``path`` changed;
        only then do they become the document's."""
        after = self._reparse(lines)
        expected = to_plain(self.root)
        node = expected
        for key in path[:-1]:
            node = node[key]  # type: ignore[index]
        node[path[-1]] = value.text if isinstance(value, Timestamp) else value  # type: ignore[index]
        got = _lookup(after, path)
        if to_plain(after) != expected or type(got) is not type(value):
            raise self._refuse(path, 0, "the result does not read back as intended")
        self.lines, self.root = lines, after

    def _refuse(self, path: tuple[str, ...], line: int, why: str) -> InputError:
        return InputError(
            f"cannot edit '{'.'.join(path)}' in place: {why}",
            where=self.where,
            line=line,
            hint="write that field as a plain 'key: value' line and try again",
        )


def _lookup(root: Map, path: tuple[str, ...]) -> Value:
    node: Value = root
    for key in path:
        node = node.get(key) if isinstance(node, Map) else None
    return node


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _key_end(line: str, start: int) -> int:
    """Index of the ``:`` that ends the key starting at ``start``; -1 if there is none."""
    if start < len(line) and line[start] in "\"'":
        quote = line[start]
        close = line.find(quote, start + 1)
        while quote == "'" and close >= 0 and line[close + 1 : close + 2] == "'":
            close = line.find(quote, close + 2)
        if close < 0 or line[close + 1 : close + 2] != ":":
            return -1
        return close + 1
    pos = start
    while True:
        pos = line.find(":", pos)
        if pos < 0:
            return -1
        if pos + 1 >= len(line) or line[pos + 1] in " \r\n":
            return pos
        pos += 1


def _scalar_length(body: str) -> int:
    """Length of the scalar at the start of ``body`` (up to a comment); -1 if unclosed."""
    if body[:1] == "'":
        pos = 1
        while True:
            close = body.find("'", pos)
            if close < 0:
                return -1
            if body[close + 1 : close + 2] == "'":
                pos = close + 2
                continue
            return close + 1
    if body[:1] == '"':
        pos = 1
        while pos < len(body):
            if body[pos] == "\\":
                pos += 2
                continue
            if body[pos] == '"':
                return pos + 1
            pos += 1
        return -1
    comment = body.find(" #")
    value = body if comment < 0 else body[:comment]
    return len(value.rstrip())
