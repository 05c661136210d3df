"""Write :mod:`gitrot.codec.tree` documents as YAML the way sops does (go-yaml v3, indent 4).

The layout follows go-yaml's encoder: nested collections and block scalars are indented to
the next multiple of ``indent``; a collection inside a sequence item starts on the dash line
(``- k: v``) and its content sits two columns after the dash. Scalars use go-yaml's style
choice (plain when it re-reads as the same string, else single or double quotes; literal
blocks for multi-line text). Comments are whole lines at their container's indentation.

Known, deliberate differences from sops 3.11 (where sops writes YAML that reads back
differently or not at all): a comment after the last item of a container whose last value is
itself a collection stays at the container's indentation (sops indents it into the nested
collection, which changes its AAD); comments leading a collection that is a sequence item are
written after a bare ``-`` line (sops moves them before the item); block scalar indentation
indicators are relative to the real parent indentation (go-yaml always writes the indent width,
which is wrong inside sequences); strings containing U+0085, U+2028 or U+2029 are double-quoted.
"""

from __future__ import annotations

import base64

from gitrot.codec.gotypes import format_float_yaml, has_control_chars, resolve_plain
from gitrot.codec.tree import Comment, Entry, Map, Scalar, Seq, Timestamp, Value
from gitrot.errors import InputError

_OLD_BOOLS = frozenset(
    [
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
    ]  # YAML 1.1 booleans
)
_BREAKS = "\n\r\x85\u2028\u2029"
_NAMED_ESCAPES = {
    "\0": "0",
    "\a": "a",
    "\b": "b",
    "\t": "t",
    "\n": "n",
    "\v": "v",
    "\f": "f",
    "\r": "r",
    "\x1b": "e",
    '"': '"',
    "\\": "\\",
    "\x85": "N",
    "\xa0": "_",
    "\u2028": "L",
    "\u2029": "P",
}
_MAX_SIMPLE_KEY = 128


def _comment(pad: str, text: str) -> str:
    if has_control_chars(text) or any(c in text for c in "\n\r\x85\u2028\u2029"):
        raise InputError(
            "a comment contains a line break or a control character and cannot be written"
        )
    return pad + "#" + text


def emit(docs: list[Map], *, indent: int = 4) -> str:
    """The YAML text of ``docs``, one document each, separated by ``---`` lines."""
    out: list[str] = []
    for i, doc in enumerate(docs):
        if i:
            out.append("---")
        _Emitter(out, indent).root(doc)
    return "\n".join(out) + "\n"


def _printable(ch: str) -> bool:
    """libyaml's is_printable (as go-yaml has it), for one character."""
    o = ord(ch)
    if 0x20 <= o <= 0x7E or o == 0x0A:
        return True
    if o < 0xA0:
        return False
    if o <= 0xD7FF:
        return True
    return 0xE000 <= o <= 0xFFFD and o != 0xFEFF


def _analyze(s: str) -> tuple[bool, bool, bool, bool]:
    """libyaml's analysis: (multiline, plain allowed, single allowed, block allowed)."""
    if not s:
        return False, True, True, False
    block_ind = s.startswith(("---", "..."))
    line_breaks = special = tabs = False
    space_break = break_space = False
    prev_space = prev_break = False
    preceded_ws = True
    n = len(s)
    for i, ch in enumerate(s):
        followed_ws = i + 1 >= n or s[i + 1] in " \t\r\n\x85\u2028\u2029"
        if i == 0:
            if ch in "#,[]{}&*!|>'\"%@`" or (ch in "?:-" and followed_ws):
                block_ind = True
        elif ch == ":":
            if followed_ws:
                block_ind = True
        elif ch == "#" and preceded_ws:
            block_ind = True
        if ch == "\t":
            tabs = True
        elif not _printable(ch) or ch in "\x85\u2028\u2029":
            special = True
        if ch == " ":
            if prev_break:
                break_space = True
            prev_space, prev_break = True, False
        elif ch in _BREAKS:
            line_breaks = True
            if prev_space:
                space_break = True
            prev_space, prev_break = False, True
        else:
            prev_space = prev_break = False
        preceded_ws = ch in " \t\r\n\x85\u2028\u2029"
    leading_space = s[0] == " "
    leading_break = s[0] in _BREAKS
    trailing_space = s[-1] == " "
    trailing_break = s[-1] in _BREAKS
    plain = single = block = True
    if leading_space or leading_break or trailing_space or trailing_break:
        plain = False
    if trailing_space:
        block = False
    if break_space:
        plain = single = False
    if space_break or tabs or special:
        plain = single = False
    if space_break or special:
        block = False
    if line_breaks or block_ind:
        plain = False
    return line_breaks, plain, single, block


def _is_base60(s: str) -> bool:
    """YAML 1.1 sexagesimal ``[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?``: go-yaml quotes it."""
    if s[:1] in ("+", "-"):
        s = s[1:]
    parts = s.split(":")
    if len(parts) < 2:
        return False
    head = parts[0]
    if not head[:1].isdigit() or not head.isascii() or not head.replace("_", "").isdigit():
        return False
    last, _, frac = parts[-1].partition(".")
    if frac and frac.strip("_") and not (frac.isascii() and frac.replace("_", "").isdigit()):
        return False
    for part in (*parts[1:-1], last):
        if not (part.isascii() and part.isdigit() and len(part) <= 2):
            return False
        if len(part) == 2 and part[0] > "5":
            return False
    return True


def _simple_word(s: str) -> bool:
    """Letters, digits and ``_-./`` not starting with ``-`` or ``.``: plain if it resolves."""
    if not s or s[0] in "-.":
        return False
    t = s.replace("_", "").replace("-", "").replace(".", "").replace("/", "")
    return not t or (t.isascii() and t.isalnum())


def _can_be_plain(s: str) -> bool:
    """go-yaml: a string may be plain when it re-resolves as the same string."""
    if s in _OLD_BOOLS or _is_base60(s):
        return False
    try:
        return isinstance(resolve_plain(s), str)
    except InputError:
        return False


def _double_quoted(s: str) -> str:
    escape_all = s.startswith("\ufeff")  # libyaml's is_bom looks at the first character
    out = ['"']
    for ch in s:
        if escape_all or ch in _BREAKS or ch in '"\\' or not _printable(ch):
            named = _NAMED_ESCAPES.get(ch)
            if named is not None:
                out.append("\\" + named)
            else:
                o = ord(ch)
                if o <= 0xFF:
                    out.append(f"\\x{o:02X}")
                elif o <= 0xFFFF:
                    out.append(f"\\u{o:04X}")
                else:
                    out.append(f"\\U{o:08X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _style(s: str, key: bool) -> str:
    """The style go-yaml would write: 'plain', 'single', 'double' or 'literal'."""
    if _simple_word(s) and _can_be_plain(s):
        return "plain"
    multiline, plain_ok, single_ok, block_ok = _analyze(s)
    if "\n" in s:
        style = "literal"
    elif _can_be_plain(s):
        style = "plain"
    else:
        style = "double"
    if key and multiline:
        style = "double"
    if style == "plain" and not plain_ok:
        style = "single"
    if style == "single" and not single_ok:
        style = "double"
    if style == "literal" and (not block_ok or key):
        style = "double"
    return style


class _Emitter:
    __slots__ = ("indent", "out")

    def __init__(self, out: list[str], indent: int) -> None:
        self.out = out
        self.indent = indent

    def align(self, col: int) -> int:
        step = self.indent
        return step * ((col + step) // step)

    def root(self, doc: Map) -> None:
        if not any(isinstance(it, Entry) for it in doc.items):
            for it in doc.items:
                self.out.append(_comment("", it.text))  # type: ignore[union-attr]
            self.out.append("{}")
            return
        self.block_map(doc, 0, "")

    # -- collections ------------------------------------------------------------------------

    def comments_first(self, items: list[Entry | Comment] | list[Value | Comment]) -> bool:
        return bool(items) and isinstance(items[0], Comment)

    def block_map(self, mp: Map, col: int, lead: str) -> None:
        """Write a non-empty map with keys at ``col``; ``lead`` prefixes its first line."""
        out = self.out
        pad = " " * col
        if lead and self.comments_first(mp.items):
            out.append(lead.rstrip())
            lead = ""
        for it in mp.items:
            if isinstance(it, Comment):
                out.append(_comment(pad, it.text))
                continue
            prefix = lead or pad
            lead = ""
            key = it.key
            simple = "\n" not in key and len(key.encode("utf-8", "surrogatepass")) <= (
                _MAX_SIMPLE_KEY
            )
            if simple:
                style = _style(key, True)
                if style == "double" and _analyze(key)[0]:
                    simple = False
            if simple:
                self.value(it.value, col, prefix + self.key_text(key) + ":")
            else:
                self.scalar(key, col, prefix + "?", self.align(col))
                self.value(it.value, col, pad + ":")

    def key_text(self, key: str) -> str:
        style = _style(key, True)
        if style == "plain":
            return "!!merge <<" if key == "<<" else key
        if style == "single":
            return "'" + key.replace("'", "''") + "'"
        return _double_quoted(key)

    def block_seq(self, seq: Seq, col: int, lead: str) -> None:
        out = self.out
        pad = " " * col
        if lead and self.comments_first(seq.items):
            out.append(lead.rstrip())
            lead = ""
        for it in seq.items:
            if isinstance(it, Comment):
                out.append(_comment(pad, it.text))
                continue
            prefix = (lead or pad) + "-"
            lead = ""
            if isinstance(it, Map) and any(isinstance(x, Entry) for x in it.items):
                self.block_map(it, col + 2, prefix + " ")
            elif isinstance(it, Seq) and any(not isinstance(x, Comment) for x in it.items):
                self.block_seq(it, col + 2, prefix + " ")
            else:
                self.value(it, col, prefix, seq_item=True)

    def value(self, value: Value, col: int, head: str, *, seq_item: bool = False) -> None:
        """Write ``value`` after ``head`` (``key:`` or ``-``) whose owner is at ``col``."""
        out = self.out
        inner = col + 2 if seq_item else self.align(col)
        if isinstance(value, Map):
            if any(isinstance(it, Entry) for it in value.items):
                out.append(head)
                self.block_map(value, inner, "")
            else:
                self.empty(value, head, inner, "{}")
            return
        if isinstance(value, Seq):
            if any(not isinstance(it, Comment) for it in value.items):
                out.append(head)
                self.block_seq(value, inner, "")
            else:
                self.empty(value, head, inner, "[]")
            return
        self.scalar(value, col, head, inner)

    def empty(self, value: Map | Seq, head: str, inner: int, text: str) -> None:
        if not value.items:
            self.out.append(head + " " + text)
            return
        self.out.append(head)
        pad = " " * inner
        for it in value.items:
            self.out.append(_comment(pad, it.text))  # type: ignore[union-attr]
        self.out.append(pad + text)

    # -- scalars ----------------------------------------------------------------------------

    def scalar(self, value: Value, col: int, head: str, inner: int) -> None:
        out = self.out
        if value is None:
            out.append(head + " null")
        elif value is True:
            out.append(head + " true")
        elif value is False:
            out.append(head + " false")
        elif isinstance(value, int):
            out.append(f"{head} {value}")
        elif isinstance(value, float):
            out.append(head + " " + format_float_yaml(value))
        elif isinstance(value, Timestamp):
            out.append(head + " " + value.text)
        elif isinstance(value, bytes):
            out.append(head + " !!binary " + base64.b64encode(value).decode("ascii"))
        elif isinstance(value, str):
            self.string(value, col, head, inner)
        else:  # pragma: no cover - not a tree value
            raise TypeError(f"cannot write {type(value).__name__} as YAML")

    def string(self, s: str, col: int, head: str, inner: int) -> None:
        out = self.out
        style = _style(s, False)
        if style == "plain":
            out.append(head + (" !!merge <<" if s == "<<" else " " + s))
        elif style == "single":
            out.append(head + " '" + s.replace("'", "''") + "'")
        elif style == "double":
            out.append(head + " " + _double_quoted(s))
        else:
            self.literal(s, col, head, inner)

    def literal(self, s: str, col: int, head: str, inner: int) -> None:
        hint = str(inner - col) if s[0] in " \n" else ""
        if s[-1] != "\n":
            chomp = "-"
        elif len(s) == 1 or s[-2] == "\n":
            chomp = "+"
        else:
            chomp = ""
        out = self.out
        out.append(f"{head} |{hint}{chomp}")
        pad = " " * inner
        body = s[:-1] if s.endswith("\n") else s
        for line in body.split("\n"):
            out.append(pad + line if line else "")


def inline_scalar(value: Scalar, *, quote: str = "") -> str:
    """One scalar as go-yaml would write it on a single line (a string with a line break
    becomes double-quoted); for in-place edits that must not touch neighbouring lines.

    ``quote`` (``'`` or ``"``) keeps the quoting style of the text being replaced when the
    string can be written that way.
    """
    if isinstance(value, str):
        style = _style(value, key=False)
        if quote == '"':
            return _double_quoted(value)
        if quote == "'" and style in ("plain", "single"):
            style = "single"
        if style == "plain":
            return value
        if style == "single":
            return "'" + value.replace("'", "''") + "'"
        return _double_quoted(value)
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float_yaml(value)
    if isinstance(value, Timestamp):
        return value.text
    raise InputError("binary values cannot be written inline")
