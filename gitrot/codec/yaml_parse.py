"""A small YAML parser with go-yaml v3 semantics, producing :mod:`gitrot.codec.tree` documents.

It reads what sops reads and writes: block and flow collections, every scalar style, tags,
anchors and aliases (expanded, with a budget), and keeps comments as tree items in the
container they belong to, because sops encrypts them with that container's path
(docs/sops-format.md 9.2).

Comment placement: a whole-line comment goes to the deepest open block container whose item
column is <= the comment's column (after the items already read); an inline comment goes just
before the entry or item on whose line it stands; a comment inside a flow collection goes to
the enclosing block container (to the collection itself when it is the document's root).
Every failure is an :class:`InputError` with a line number.
"""

from __future__ import annotations

import binascii

from gitrot.codec.gotypes import has_control_chars, resolve_plain
from gitrot.codec.tree import Comment, Entry, Map, Scalar, Seq, Timestamp, Value, kind_of
from gitrot.errors import InputError

MAX_DEPTH = 200
MAX_NODES = 100_000

_NAME_STOP = frozenset(" \t\n,[]{}")
_FLOW_STOP = frozenset(",[]{}\n")
_COLON_STOP = frozenset(" \t\n,[]{}")
_ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "t": "\t",
    "\t": "\t",
    "n": "\n",
    "v": "\v",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}
_HEX_LEN = {"x": 2, "u": 4, "U": 8}
_CORE_TAGS = frozenset(
    ("str", "int", "float", "bool", "null", "binary", "timestamp", "map", "seq", "merge")
)
_EMPTY: tuple[str, ...] = ()


def parse(text: str, *, filename: str = "", strict: bool = False) -> list[Map]:
    """Parse a YAML stream into one :class:`Map` per document.

    ``strict`` (gitrot's own files: intents, gitrot.yaml) also refuses anchors, aliases,
    merge keys (``<<``) and explicit tags, each an InputError at its line and column.
    """
    try:
        return _Parser(text, filename, strict).stream()
    except InputError as exc:
        if filename:
            exc.at(filename)
        if not exc.hint:
            exc.hint = "fix the YAML at that line; gitrot reads YAML 1.2 as go-yaml (and sops) do"
        raise
    except RecursionError:
        raise InputError(
            "YAML nesting is too deep", where=filename, hint="flatten the document"
        ) from None


def _is_marker(line: str) -> bool:
    return (line.startswith(("---", "...")) and (len(line) == 3 or line[3] in " \t")) or False


class _Parser:
    __slots__ = (
        "anchors",
        "depth",
        "filename",
        "li",
        "lines",
        "nodes",
        "stack",
        "starts",
        "strict",
        "text",
    )

    def __init__(self, text: str, filename: str, strict: bool = False) -> None:
        if text.startswith("\ufeff"):
            text = text[1:]
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if has_control_chars(text):
            bad = next(i for i, line in enumerate(text.split("\n")) if has_control_chars(line))
            raise InputError(
                "control characters are not allowed in YAML",
                where=filename,
                line=bad + 1,
                hint="escape them inside a double-quoted string",
            )
        self.text = text
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        self.lines = lines
        starts = []
        pos = 0
        for line in lines:
            starts.append(pos)
            pos += len(line) + 1
        starts.append(pos)
        self.starts = starts
        self.filename = filename
        self.strict = strict
        self.li = 0
        self.anchors: dict[str, Value] = {}
        self.nodes = 0
        self.depth = 0
        self.stack: list[tuple[int, Map | Seq]] = []

    # -- errors and positions ---------------------------------------------------------------

    def error(self, message: str, li: int, hint: str | None = None, column: int = 0) -> InputError:
        return InputError(message, where=self.filename, line=li + 1, hint=hint, column=column)

    def forbid(self, ch: str, li: int, col: int) -> None:
        """In strict mode, refuse the anchor, alias or tag that starts with ``ch`` at (li, col)."""
        if not self.strict:
            return
        what = {"&": "anchors", "*": "aliases", "!": "explicit tags"}[ch]
        hint = (
            "remove the tag; quote the value if it must be a string"
            if ch == "!"
            else "write the value out in full; gitrot files use plain YAML only"
        )
        raise self.error(
            f"YAML {what} are not allowed in gitrot files", li, hint=hint, column=col + 1
        )

    def forbid_merge(self, key: str, li: int, col: int) -> None:
        if self.strict and key == "<<":
            raise self.error(
                "YAML merge keys ('<<') are not allowed in gitrot files",
                li,
                hint="write the merged keys out in full",
                column=col + 1,
            )

    def line_of(self, pos: int) -> int:
        """The 0-based line index of an absolute text offset."""
        starts = self.starts
        lo, hi = 0, len(starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) >> 1
            if starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo

    # -- comments ---------------------------------------------------------------------------

    def place(self, col: int, text: str, li: int) -> None:
        stack = self.stack
        if not stack:
            return
        target = stack[0][1]
        for i in range(len(stack) - 1, -1, -1):
            if stack[i][0] <= col:
                target = stack[i][1]
                break
        target.items.append(Comment(text, li + 1))

    def peek(self, li: int) -> int:
        """The next line from ``li`` that is not blank or a comment (or ``len(lines)``)."""
        lines = self.lines
        n = len(lines)
        while li < n:
            body = lines[li].lstrip(" \t")
            if body and body[0] != "#":
                return li
            li += 1
        return n

    def is_content(self, li: int) -> bool:
        return li < len(self.lines) and not _is_marker(self.lines[li])

    def flush(self, start: int, stop: int) -> None:
        """Place the comment lines in [start, stop) (stop -1: to the end)."""
        lines = self.lines
        for li in range(start, stop):
            line = lines[li]
            if "#" in line:  # a comment line: the range holds only those and blank lines
                body = line.lstrip(" \t")
                self.place(len(line) - len(body), body[1:], li)

    def next_content(self) -> int:
        """Place comments up to the next content line and return it (-1 at a doc end)."""
        j = self.peek(self.li)
        self.flush(self.li, j)
        self.li = j
        return j if self.is_content(j) else -1

    def indent_of(self, li: int) -> int:
        line = self.lines[li]
        body = line.lstrip(" ")
        if body[:1] == "\t":
            raise self.error(
                "tab characters must not be used for indentation",
                li,
                hint="indent with spaces",
                column=len(line) - len(body) + 1,
            )
        return len(line) - len(body)

    # -- documents --------------------------------------------------------------------------

    def stream(self) -> list[Map]:
        docs: list[Map] = []
        lines = self.lines
        n = len(lines)
        while True:
            start = self.li
            explicit = False
            j = start
            while j < n:
                line = lines[j]
                if line.startswith("%"):
                    j += 1
                    continue
                if line.startswith("---") and (len(line) == 3 or line[3] in " \t"):
                    explicit = True
                    lines[j] = "   " + line[3:]
                    break
                if line.startswith("...") and (len(line) == 3 or line[3] in " \t"):
                    lines[j] = ""
                body = line.lstrip(" \t")
                if body and body[0] != "#":
                    break
                j += 1
            self.li = start
            doc, empty = self.document(start)
            if explicit or not empty or not docs:
                docs.append(doc)
            if self.li < n and lines[self.li].startswith("..."):
                self.li += 1
            if self.li >= n:
                return docs

    def document(self, start: int) -> tuple[Map, bool]:
        j = self.peek(start)
        if not self.is_content(j):
            doc = Map(line=start + 1)
            self.stack.append((0, doc))
            self.flush(start, j)
            self.stack.pop()
            self.li = j
            return doc, not doc.items
        ind = self.indent_of(j)
        root = self.block_node(j, ind, -1, start, in_seq=True, inline=[])
        if not isinstance(root, Map):
            raise self.error("YAML documents that are sequences/values are not supported", j)
        j = self.peek(self.li)
        if self.is_content(j):
            raise self.error("unexpected content after the document root", j)
        self.stack.append((0, root))
        self.flush(self.li, j)
        self.stack.pop()
        self.li = j
        return root, False

    # -- block structure --------------------------------------------------------------------

    def block_node(
        self,
        li: int,
        col: int,
        parent: int,
        cstart: int,
        *,
        in_seq: bool,
        inline: list[Comment],
        tag: str | None = None,
    ) -> Value:
        """A node whose first character is at (li, col), on a line of its own or compact."""
        line = self.lines[li]
        c = line[col]
        nxt = line[col + 1 : col + 2]
        if c == "-" and nxt in ("", " ", "\t"):
            if not in_seq:
                raise self.error("block sequence entries are not allowed in this context", li)
            return self.block_seq(li, col, cstart)
        if c in "[{":
            container: Map | Seq = Map(line=li + 1) if c == "{" else Seq(line=li + 1)
            nested = bool(self.stack)
            self.stack.append((col, container))
            self.flush(cstart, li)
            if nested:  # comments inside go to the enclosing block container
                self.stack.pop()
            self.li = li
            end = self.flow_node(self.starts[li] + col, container)[1]
            if not nested:  # a document's root keeps the comments inside it, as sops does
                self.stack.pop()
            self.after_node(end, inline)
            return container
        if (c == "?" and nxt in ("", " ", "\t")) or self.key_end(line, col) >= 0:
            if not in_seq:
                raise self.error("mapping values are not allowed in this context", li)
            return self.block_map(li, col, cstart)
        self.flush(cstart, li)
        return self.scalar_at(li, col, parent, inline, tag)

    def key_end(self, line: str, col: int) -> int:
        """Column of the ':' ending a block mapping key that starts at ``col``, or -1."""
        c = line[col]
        if c in "\"'":
            pos = self.quoted_end_in_line(line, col)
            if pos < 0:
                return -1
            rest = line[pos:].lstrip(" \t")
            if rest[:1] == ":" and rest[1:2] in ("", " ", "\t"):
                return len(line) - len(rest)
            return -1
        if c in "[{*|>#%@`" or (c == "-" and line[col + 1 : col + 2] in ("", " ", "\t")):
            return -1
        if c in "&!":
            end = _name_end(line, col)
            rest = line[end:].lstrip(" \t")
            if not rest:
                return -1
            return self.key_end(line, len(line) - len(rest))
        pos = line.find(":", col)
        while pos >= 0:
            if pos + 1 == len(line) or line[pos + 1] in " \t":
                hash_pos = line.find(" #", col, pos)
                if hash_pos < 0:
                    hash_pos = line.find("\t#", col, pos)
                return -1 if hash_pos >= 0 else pos
            pos = line.find(":", pos + 1)
        return -1

    @staticmethod
    def quoted_end_in_line(line: str, col: int) -> int:
        q = line[col]
        i = col + 1
        n = len(line)
        while i < n:
            ch = line[i]
            if q == "'" and ch == "'":
                if line[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            if q == '"':
                if ch == "\\":
                    i += 2
                    continue
                if ch == '"':
                    return i + 1
            i += 1
        return -1

    def enter(self, li: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"YAML nesting deeper than {MAX_DEPTH} levels", li)

    def count(self, li: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.error(f"YAML alias expansion exceeds {MAX_NODES} nodes (a YAML bomb?)", li)

    def block_map(self, li: int, col: int, cstart: int) -> Map:
        self.enter(li)
        mp = Map(line=li + 1)
        stack = self.stack
        stack.append((col, mp))
        self.flush(cstart, li)
        items = mp.items
        seen: dict[str, int] = {}
        first = True
        while True:
            if not first:
                li = self.next_content()
                if li < 0:
                    break
                ind = self.indent_of(li)
                if ind < col:
                    break
                if ind > col:
                    raise self.error("bad indentation of a mapping entry", li)
            first = False
            key, kli, vcol = self.block_key(li, col)
            prev = seen.get(key)
            if prev is not None:
                raise self.error(
                    f"duplicate key {key!r} (first at line {prev})",
                    li,
                    hint="remove or rename one of the two keys",
                    column=col + 1,
                )
            self.forbid_merge(key, li, col)
            seen[key] = li + 1
            self.count(li)
            entry = Entry(key, None, li + 1, col + 1)
            items.append(entry)
            idx = len(items) - 1
            inline: list[Comment] = []
            entry.value = self.value(kli, vcol, col, in_seq=False, inline=inline)
            if inline:
                items[idx:idx] = inline
        stack.pop()
        self.depth -= 1
        return mp

    def block_key(self, li: int, col: int) -> tuple[str, int, int]:
        """Read the key at (li, col); return it, the line and column just after its ':'."""
        line = self.lines[li]
        c = line[col]
        if c == "?" and line[col + 1 : col + 2] in ("", " ", "\t"):
            return self.complex_key(li, col)
        tag = None
        anchor = None
        pos = col
        while c in "&!":
            self.forbid(c, li, pos)
            end = _name_end(line, pos)
            if c == "&":
                anchor = line[pos + 1 : end]
            else:
                tag = self.norm_tag(line[pos:end], li)
            rest = line[end:].lstrip(" \t")
            pos = len(line) - len(rest)
            if not rest:
                raise self.error("a mapping key is missing after its tag or anchor", li)
            c = rest[0]
        if c == "*":
            raise self.error("aliases used as mapping keys are not supported", li)
        end = self.key_end(line, pos)
        if end < 0:
            raise self.error("could not find the ':' after a mapping key", li)
        if c in "\"'":  # key_end found its closing quote on this line
            text = self.quoted(self.starts[li] + pos)[0]
            key = self.typed(text, False, tag, li)
        else:
            text = line[pos:end].rstrip(" \t")
            key = self.typed(text, True, tag, li)
        if not isinstance(key, str):
            raise self.error(
                f"mapping key {text!r} is not a string (YAML reads it as "
                f"{kind_of(key)}); sops requires string keys",
                li,
                hint=f"quote the key: '{text}'",
            )
        if anchor is not None:
            self.anchors[anchor] = key
        return key, li, end + 1

    def complex_key(self, li: int, col: int) -> tuple[str, int, int]:
        inline: list[Comment] = []
        key = self.value(li, col + 1, col, in_seq=True, inline=inline)
        if not isinstance(key, str):
            raise self.error("complex mapping keys ('? ') must be strings", li)
        j = self.next_content()
        if j < 0 or self.indent_of(j) != col or self.lines[j][col] != ":":
            raise self.error("a '? ' key without ': value' is not supported", li)
        line = self.lines[j]
        if line[col + 1 : col + 2] not in ("", " ", "\t"):
            raise self.error("could not find the ':' after a mapping key", j)
        for c in inline:
            self.stack[-1][1].items.append(c)
        return key, j, col + 1

    def block_seq(self, li: int, col: int, cstart: int) -> Seq:
        self.enter(li)
        seq = Seq(line=li + 1)
        self.stack.append((col, seq))
        self.flush(cstart, li)
        items = seq.items
        lines = self.lines
        first = True
        while True:
            if not first:
                li = self.next_content()
                if li < 0:
                    break
                ind = self.indent_of(li)
                if ind != col:
                    if ind > col:
                        raise self.error("bad indentation of a sequence entry", li)
                    break
                line = lines[li]
                if line[col] != "-" or line[col + 1 : col + 2] not in ("", " ", "\t"):
                    break
            first = False
            self.count(li)
            items.append(None)
            idx = len(items) - 1
            inline: list[Comment] = []
            items[idx] = self.value(li, col + 1, col, in_seq=True, inline=inline)
            if inline:
                items[idx:idx] = inline
        self.stack.pop()
        self.depth -= 1
        return seq

    def value(
        self, li: int, col: int, parent: int, *, in_seq: bool, inline: list[Comment]
    ) -> Value:
        """The node after 'key:' or '- ' at (li, col); ``parent`` is the key/dash column."""
        line = self.lines[li]
        n = len(line)
        while col < n and line[col] in " \t":
            col += 1
        tag = None
        anchor = None
        if col < n and line[col] in "&!" and self.key_end(line, col) >= 0:
            n = 0  # the properties belong to a mapping key that starts here
        while col < n and line[col] in "&!":
            self.forbid(line[col], li, col)
            end = _name_end(line, col)
            if line[col] == "&":
                anchor = line[col + 1 : end]
                if not anchor:
                    raise self.error("an anchor needs a name", li)
            else:
                tag = self.norm_tag(line[col:end], li)
            col = end
            while col < n and line[col] in " \t":
                col += 1
        node: Value
        n = len(line)
        if col >= n or line[col] == "#":
            if col < n:
                inline.append(Comment(line[col + 1 :], li + 1))
            j = self.peek(li + 1)
            self.li = li + 1
            if self.is_content(j):
                ind = self.indent_of(j)
                first = self.lines[j][ind]
                if ind > parent or (
                    ind == parent
                    and not in_seq
                    and first == "-"
                    and self.lines[j][ind + 1 : ind + 2] in ("", " ", "\t")
                ):
                    node = self.block_node(
                        j, ind, parent, li + 1, in_seq=True, inline=inline, tag=tag
                    )
                    return self.finish(node, tag, anchor, j)
            self.flush(li + 1, j)
            self.li = j
            node = self.typed("", True, tag, li) if tag else None
            return self.finish(node, None, anchor, li)
        node = self.block_node(li, col, parent, li, in_seq=in_seq, inline=inline, tag=tag)
        return self.finish(node, tag, anchor, li)

    def finish(self, node: Value, tag: str | None, anchor: str | None, li: int) -> Value:
        if tag is not None:
            if tag == "!!map" and not isinstance(node, Map):
                raise self.error("a value tagged !!map is not a mapping", li)
            if tag == "!!seq" and not isinstance(node, Seq):
                raise self.error("a value tagged !!seq is not a sequence", li)
        if anchor is not None:
            self.anchors[anchor] = node
        return node

    def after_node(self, pos: int, inline: list[Comment]) -> None:
        """After a node ending at ``pos``: allow only spaces and a comment to the line end."""
        text = self.text
        li = self.line_of(pos)
        end = self.starts[li + 1] - 1 if li + 1 < len(self.starts) else len(text)
        rest = text[pos:end]
        body = rest.lstrip(" \t")
        if body:
            if body[0] != "#" or len(body) == len(rest):
                raise self.error("unexpected text after a value", li)
            inline.append(Comment(body[1:], li + 1))
        self.li = li + 1

    # -- scalars ----------------------------------------------------------------------------

    def scalar_at(
        self, li: int, col: int, parent: int, inline: list[Comment], tag: str | None
    ) -> Value:
        """A scalar (or alias) starting at (li, col), with its properties already read."""
        line = self.lines[li]
        c = line[col]
        if c == "*":
            self.forbid(c, li, col)
            end = _name_end(line, col + 1)
            node = self.alias(line[col + 1 : end], li)
            self.after_node(self.starts[li] + end, inline)
            return node
        if c in "\"'":
            text, end = self.quoted(self.starts[li] + col)
            self.after_node(end, inline)
            return self.typed(text, False, tag, li) if tag else text
        if c in "|>":
            text = self.block_scalar(li, col, parent, inline)
            return self.typed(text, False, tag, li) if tag else text
        if c in "]}," or c in "%@`":
            raise self.error(f"a plain value cannot start with {c!r}", li)
        text = self.plain(li, col, parent, inline)
        return self.typed(text, True, tag, li)

    def plain(self, li: int, col: int, parent: int, inline: list[Comment]) -> str:
        """A block-context plain scalar, possibly continued on more-indented lines."""
        lines = self.lines
        line = lines[li]
        text = line[col:]
        cut = text.find(" #")
        cut2 = text.find("\t#")
        if cut2 >= 0 and (cut < 0 or cut2 < cut):
            cut = cut2
        if cut >= 0:
            inline.append(Comment(text[cut + 2 :], li + 1))
            self.li = li + 1
            return text[:cut].rstrip(" \t")
        text = text.rstrip(" \t")
        self.li = li + 1
        nxt = li + 1
        n = len(lines)
        if nxt >= n:
            return text
        # fast path: the next line is not a continuation
        follow = lines[nxt]
        body = follow.lstrip(" \t")
        if body and (len(follow) - len(body) <= parent or body[0] == "#"):
            return text
        parts = [text]
        breaks = 0
        while nxt < n:
            follow = lines[nxt]
            body = follow.lstrip(" \t")
            if not body:
                breaks += 1
                nxt += 1
                continue
            if len(follow) - len(body) <= parent or body[0] == "#" or _is_marker(follow):
                break
            if self.key_end(follow, len(follow) - len(body)) >= 0:
                raise self.error("mapping values are not allowed in this context", nxt)
            parts.append("\n" * breaks if breaks else " ")
            breaks = 0
            cut = body.find(" #")
            if cut < 0:
                cut = body.find("\t#")
            if cut >= 0:
                parts.append(body[:cut].rstrip(" \t"))
                inline.append(Comment(body[cut + 2 :], nxt + 1))
                nxt += 1
                self.li = nxt
                break
            parts.append(body.rstrip(" \t"))
            nxt += 1
            self.li = nxt
        return "".join(parts)

    def quoted(self, pos: int) -> tuple[str, int]:
        """A quoted scalar starting at absolute ``pos``; returns its value and end offset."""
        text = self.text
        double = text[pos] == '"'
        quote = '"' if double else "'"
        parts: list[str] = []
        i = pos + 1
        q = b = nl = -1  # cached positions of the next quote, backslash and line break
        while True:
            if q < i:
                q = text.find(quote, i)
                if q < 0:
                    raise self.error("unterminated quoted scalar", self.line_of(pos))
            if nl < i:
                nl = text.find("\n", i)
                if nl < 0:
                    nl = len(text)
            k = q if q < nl else nl
            if double:
                if b < i:
                    b = text.find("\\", i)
                    if b < 0:
                        b = len(text)
                k = min(k, b)
            ch = text[k]
            chunk = text[i:k]
            if ch == "\n":
                parts.append(chunk.rstrip(" \t"))
                i = k + 1
                breaks = 0
                while True:
                    j = i
                    while j < len(text) and text[j] in " \t":
                        j += 1
                    if j < len(text) and text[j] == "\n":
                        breaks += 1
                        i = j + 1
                        continue
                    if text.startswith(("---", "..."), i) and (
                        i + 3 >= len(text) or text[i + 3] in " \t\n"
                    ):
                        raise self.error(
                            "a document marker inside a quoted scalar", self.line_of(i)
                        )
                    i = j
                    break
                parts.append("\n" * breaks if breaks else " ")
                continue
            parts.append(chunk)
            if not double:
                if text[k + 1 : k + 2] == "'":
                    parts.append("'")
                    i = k + 2
                    continue
                return "".join(parts), k + 1
            if ch == '"':
                return "".join(parts), k + 1
            # backslash escape
            e = text[k + 1 : k + 2]
            if e == "\n":
                i = k + 2
                while i < len(text) and text[i] in " \t":
                    i += 1
                continue
            if e in _ESCAPES:
                parts.append(_ESCAPES[e])
                i = k + 2
                continue
            width = _HEX_LEN.get(e)
            digits = text[k + 2 : k + 2 + width] if width else ""
            if not width or len(digits) != width or not _is_hex(digits):
                raise self.error("invalid escape in a double-quoted scalar", self.line_of(k))
            code = int(digits, 16)
            if code > 0x10FFFF:
                raise self.error("invalid Unicode escape", self.line_of(k))
            parts.append(chr(code))
            i = k + 2 + width

    def block_scalar(self, li: int, col: int, parent: int, inline: list[Comment]) -> str:
        lines = self.lines
        line = lines[li]
        folded = line[col] == ">"
        chomp = ""
        explicit = 0
        i = col + 1
        n = len(line)
        while i < n and line[i] not in " \t":
            ch = line[i]
            if ch in "+-" and not chomp:
                chomp = ch
            elif ch in "123456789" and not explicit:
                explicit = int(ch)
            else:
                raise self.error("invalid block scalar header", li)
            i += 1
        rest = line[i:].lstrip(" \t")
        if rest:
            if rest[0] != "#":
                raise self.error("unexpected text after a block scalar indicator", li)
            inline.append(Comment(rest[1:], li + 1))
        base = parent
        j = li + 1
        total = len(lines)
        if explicit:
            indent = max(base, 0) + explicit
        else:
            indent = 0
            k = j
            while k < total:
                body = lines[k].lstrip(" ")
                if body:
                    indent = len(lines[k]) - len(body)
                    break
                k += 1
            if indent <= base:
                indent = base + 1
        chunks: list[str] = []
        breaks: list[str] = []
        leading_non_space = True
        line_break = ""
        started = False
        last_content = li
        while j < total:
            text = lines[j]
            body = text.lstrip(" ")
            ind = len(text) - len(body)
            if not body and ind <= indent:
                breaks.append("\n")
                j += 1
                continue
            if ind < indent:
                if body[:1] == "\t" and not body.lstrip(" \t"):
                    raise self.error(
                        "tab characters must not be used for indentation",
                        j,
                        hint="indent with spaces",
                        column=ind + 1,
                    )
                break
            content = text[indent:]
            if started:
                if (
                    folded
                    and line_break == "\n"
                    and leading_non_space
                    and content[:1] not in (" ", "\t")
                ):
                    if not breaks:
                        chunks.append(" ")
                else:
                    chunks.append(line_break)
            chunks.extend(breaks)
            breaks = []
            leading_non_space = content[:1] not in (" ", "\t")
            chunks.append(content)
            line_break = "\n"
            started = True
            last_content = j
            j += 1
        if chomp != "-":
            chunks.append(line_break)
        if chomp == "+":
            chunks.extend(breaks)
        self.li = last_content + 1
        return "".join(chunks)

    # -- flow collections -------------------------------------------------------------------

    def skip_flow_space(self, pos: int) -> int:
        text = self.text
        n = len(text)
        while pos < n:
            ch = text[pos]
            if ch in " \t\n":
                pos += 1
            elif ch == "#" and (pos == 0 or text[pos - 1] in " \t\n"):
                end = text.find("\n", pos)
                if end < 0:
                    end = n
                li = self.line_of(pos)
                self.stack[-1][1].items.append(Comment(text[pos + 1 : end], li + 1))
                pos = end
            else:
                break
        return pos

    def flow_node(self, pos: int, into: Map | Seq | None = None) -> tuple[Value, int]:
        """A flow node at absolute ``pos``; returns it and the offset after it."""
        text = self.text
        n = len(text)
        pos = self.skip_flow_space(pos)
        if pos >= n:
            raise self.error("unexpected end of a flow collection", self.line_of(pos - 1))
        tag = None
        anchor = None
        while text[pos] in "&!":
            self.forbid(text[pos], self.line_of(pos), pos - self.starts[self.line_of(pos)])
            end = _name_end(text, pos)
            if text[pos] == "&":
                anchor = text[pos + 1 : end]
            else:
                tag = self.norm_tag(text[pos:end], self.line_of(pos))
            pos = self.skip_flow_space(end)
            if pos >= n:
                raise self.error("unexpected end of a flow collection", self.line_of(pos - 1))
        ch = text[pos]
        li = self.line_of(pos)
        node: Value
        if ch in "[{":
            node, pos = self.flow_collection(pos, into)
        elif ch in "\"'":
            node, pos = self.quoted(pos)
            if tag is not None:
                node = self.typed(node, False, tag, li)
        elif ch == "*":
            self.forbid(ch, li, pos - self.starts[li])
            end = _name_end(text, pos + 1)
            node = self.alias(text[pos + 1 : end], li)
            pos = end
        elif ch in ",]}:":
            node = self.typed("", True, tag, li) if tag else None
        else:
            end = _flow_plain_end(text, pos)
            raw = text[pos:end]
            if end < n and text[end] == "\n":
                raw, end = self.flow_plain_multiline(pos)
            node = self.typed(raw.rstrip(" \t"), True, tag, li)
            self.count(li)
            pos = end
        return self.finish(node, tag, anchor, li), pos

    def flow_plain_multiline(self, pos: int) -> tuple[str, int]:
        text = self.text
        parts: list[str] = []
        while True:
            end = _flow_plain_end(text, pos)
            parts.append(text[pos:end].rstrip(" \t"))
            if end >= len(text) or text[end] != "\n":
                return " ".join(p for p in parts if p), end
            nxt = end + 1
            while nxt < len(text) and text[nxt] in " \t\n":
                nxt += 1
            if nxt >= len(text) or text[nxt] in ",[]{}#:":
                return " ".join(p for p in parts if p), nxt
            pos = nxt

    def flow_collection(self, pos: int, into: Map | Seq | None) -> tuple[Value, int]:
        text = self.text
        n = len(text)
        li = self.line_of(pos)
        self.enter(li)
        self.count(li)
        is_map = text[pos] == "{"
        close = "}" if is_map else "]"
        container: Map | Seq
        if into is None:
            into = Map(line=li + 1) if is_map else Seq(line=li + 1)
        container = into
        seen: dict[str, int] = {}
        pos += 1
        while True:
            pos = self.skip_flow_space(pos)
            if pos >= n:
                raise self.error(f"unterminated flow collection (missing {close!r})", li)
            if text[pos] == close:
                pos += 1
                break
            explicit_key = False
            if text[pos] == "?" and text[pos + 1 : pos + 2] in (" ", "\t", "\n"):
                explicit_key = True
                pos += 1
            kli = self.line_of(pos)
            kcol = pos - self.starts[kli]
            key, pos = self.flow_node(pos)
            pos = self.skip_flow_space(pos)
            value: Value = None
            pair = False
            if pos < n and text[pos] == ":":
                pair = True
                pos = self.skip_flow_space(pos + 1)
                if pos < n and text[pos] not in ",}]":
                    value, pos = self.flow_node(pos)
                    pos = self.skip_flow_space(pos)
            if isinstance(container, Seq) and not (pair or explicit_key):
                container.items.append(key)  # a single value in a flow sequence
            else:
                if not isinstance(key, str):
                    raise self.error(
                        f"mapping key {key!r} is not a string; sops requires string keys",
                        kli,
                        hint="quote the key",
                    )
                self.forbid_merge(key, kli, kcol)
                if isinstance(container, Map):
                    if key in seen:
                        raise self.error(
                            f"duplicate key {key!r} (first at line {seen[key]})",
                            kli,
                            hint="remove or rename one of the two keys",
                            column=kcol + 1,
                        )
                    seen[key] = kli + 1
                    container.items.append(Entry(key, value, kli + 1, kcol + 1))
                else:
                    container.items.append(Map([Entry(key, value, kli + 1, kcol + 1)], kli + 1))
            if pos >= n:
                raise self.error(f"unterminated flow collection (missing {close!r})", li)
            if text[pos] == ",":
                pos += 1
            elif text[pos] != close:
                raise self.error(
                    f"expected ',' or {close!r} in a flow collection", self.line_of(pos)
                )
        self.depth -= 1
        return container, pos

    # -- tags, anchors, aliases -------------------------------------------------------------

    def norm_tag(self, tag: str, li: int) -> str | None:
        """``!!x`` for a core tag however written; None for the non-specific ``!``, which
        go-yaml resolves like an untagged value."""
        if tag.startswith("!<"):
            if not tag.endswith(">"):
                raise self.error("a verbatim tag '!<...>' is missing its '>'", li)
            tag = tag[2:-1]
            if tag.startswith("tag:yaml.org,2002:"):
                return "!!" + tag[18:]
            return tag
        return None if tag == "!" else tag

    def typed(self, text: str, plain: bool, tag: str | None, li: int) -> Scalar:
        if tag is None:
            return self.resolve(text, li) if plain else text
        kind = tag[2:] if tag.startswith("!!") else ""
        if kind not in _CORE_TAGS or kind in ("str", "merge"):
            return text  # go-yaml keeps a scalar with an unknown tag as a string
        if kind == "binary":
            return _binary(text, self, li)
        if kind in ("map", "seq"):
            raise self.error(f"a scalar cannot have the tag {tag}", li)
        value = self.resolve(text, li)
        if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if kind == "bool" and isinstance(value, bool):
            return value
        if kind == "null" and value is None:
            return None
        if kind == "timestamp" and isinstance(value, Timestamp):
            return value
        raise self.error(f"cannot read this value as {tag}", li)

    def resolve(self, text: str, li: int) -> Scalar:
        """:func:`resolve_plain`, its refusals (a uint64, a zone sops cannot write) at line li."""
        try:
            return resolve_plain(text)
        except InputError as exc:
            exc.line = li + 1
            raise

    def alias(self, name: str, li: int) -> Value:
        if name not in self.anchors:
            raise self.error(f"unknown anchor {name!r} used by an alias", li)
        return self.copy(self.anchors[name], li)

    def copy(self, node: Value, li: int) -> Value:
        self.count(li)
        if isinstance(node, Map):
            return Map(
                [
                    Entry(it.key, self.copy(it.value, li), it.line, it.column)
                    if isinstance(it, Entry)
                    else Comment(it.text, it.line)
                    for it in node.items
                ],
                node.line,
            )
        if isinstance(node, Seq):
            return Seq(
                [
                    Comment(it.text, it.line) if isinstance(it, Comment) else self.copy(it, li)
                    for it in node.items
                ],
                node.line,
            )
        return node


def _name_end(text: str, pos: int) -> int:
    """End of an anchor, alias or tag name: the next blank, break or flow indicator
    (a verbatim tag ``!<...>`` ends at its ``>``)."""
    n = len(text)
    if text.startswith("!<", pos):
        eol = text.find("\n", pos)
        close = text.find(">", pos, n if eol < 0 else eol)
        if close >= 0:
            return close + 1
    while pos < n and text[pos] not in _NAME_STOP:
        pos += 1
    return pos


def _flow_plain_end(text: str, pos: int) -> int:
    """End of a plain scalar in a flow collection (or of its first line)."""
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch in _FLOW_STOP:
            return pos
        if ch == ":" and (pos + 1 == n or text[pos + 1] in _COLON_STOP):
            return pos
        if ch == "#" and text[pos - 1] in " \t":
            return pos
        pos += 1
    return pos


def _is_hex(digits: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in digits)


def _binary(text: str, parser: _Parser, li: int) -> str | bytes:
    try:
        data = binascii.a2b_base64(text.replace("\n", "").replace("\r", ""), strict_mode=True)
    except (binascii.Error, ValueError):
        raise parser.error("invalid base64 in a !!binary value", li) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data
