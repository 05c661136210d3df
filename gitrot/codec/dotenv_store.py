"""The dotenv store: sops 3.11 semantics for ``.env`` files (docs/sops-format.md 8, "Other stores").

sops reads a ``.env`` file line by line, split at ``\\n`` only (a ``\\r`` stays part of the
value): an empty line is skipped, a line starting with ``#`` is a comment (the text after
the ``#``, untrimmed), any other line is ``KEY=VALUE`` split at the first ``=``. Nothing is
trimmed, unquoted or unescaped except that ``\\n`` in a value becomes a newline; a line
without ``=`` is an error. Every value is a string.

In an encrypted file the metadata is flattened into ``sops_``-prefixed keys (nested map
keys joined with ``__map_``, list indexes with ``__list_``), sorted bytewise and appended
after the data; ``shamir_threshold`` and ``mac_only_encrypted`` are written as text.
"""

from __future__ import annotations

import math
import re

from gitrot.codec.gotypes import format_float_yaml
from gitrot.codec.tree import Comment, Entry, Map, Seq, Timestamp, Value
from gitrot.errors import InputError

PREFIX = "sops_"
_MAP = "__map_"
_LIST = "__list_"
_TOKEN = re.compile(r"__map_|__list_")
_GO_ATOI = re.compile(r"[+-]?[0-9]+")
_FRACTION = re.compile(r"\.[0-9]+(?=Z|[+-][0-9]{2}:[0-9]{2}$)")
_HINT = "the file's sops metadata is damaged; restore it from git history"


def parse(text: str, *, filename: str = "") -> list[Map]:
    """One document; ``sops_*`` keys, if any, become a ``sops`` entry at the end."""
    items: list[Entry | Comment] = []
    flat: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        if line[0] == "#":
            items.append(Comment(line[1:], number))
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise InputError(
                "invalid dotenv line: it has no '='",
                where=filename,
                line=number,
                hint="write KEY=VALUE, or start a comment with '#' in the first column",
            )
        if key.startswith(PREFIX):
            flat[key[len(PREFIX) :]] = (value.replace("\\n", "\n"), number)  # last one wins
            continue
        if key == "sops":
            raise InputError(
                "a dotenv key named 'sops' is not supported",
                where=filename,
                line=number,
                hint="rename the key",
            )
        items.append(Entry(key, value.replace("\\n", "\n"), number))
    if flat:
        first = min(number for _, number in flat.values())
        items.append(Entry("sops", _unflatten(flat, filename), first))
    return [Map(items, 1)]


def _unflatten(flat: dict[str, tuple[str, int]], where: str) -> Map:
    """Rebuild the nested ``sops`` block; typed fields are decoded as sops does."""
    root = Map(line=min(number for _, number in flat.values()))
    for path, (text, number) in flat.items():
        value: Value = text
        if path == "mac_only_encrypted":
            value = text == "true"
        elif path == "shamir_threshold":
            if not _GO_ATOI.fullmatch(text):
                raise InputError(
                    "sops metadata 'shamir_threshold' is not an integer",
                    where=where,
                    line=number,
                    hint=_HINT,
                )
            value = int(text)
        tokens = _tokenize(path, where, number)
        node: Map | Seq = root
        for token, following in zip(tokens, [*tokens[1:], None], strict=True):
            if following is None:
                _put(node, token, value, where, number)
            else:
                child = _get(node, token)
                if child is None:
                    child = Map(line=number) if isinstance(following, str) else Seq(line=number)
                    _put(node, token, child, where, number)
                elif not isinstance(child, Map if isinstance(following, str) else Seq):
                    raise _conflict(path, where, number)
                node = child
    return root


def _tokenize(path: str, where: str, line: int) -> list[str | int]:
    """``age__list_0__map_enc`` -> ``["age", 0, "enc"]`` (sops' ``tokenize``)."""
    tokens: list[str | int] = []
    parts = _TOKEN.split(path)
    separators = _TOKEN.findall(path)
    tokens.append(parts[0])
    for separator, part in zip(separators, parts[1:], strict=True):
        if separator == _MAP:
            tokens.append(part)
        elif part.isascii() and part.isdigit() and len(part) < 7:
            tokens.append(int(part))
        else:
            raise InputError(
                "a sops metadata key has an invalid list index", where=where, line=line, hint=_HINT
            )
    return tokens


def _get(node: Map | Seq, token: str | int) -> Value:
    if isinstance(node, Map):
        return node.get(token) if isinstance(token, str) else None
    if isinstance(token, int) and token < len(node.items):
        item = node.items[token]
        return None if isinstance(item, Comment) else item
    return None


def _put(node: Map | Seq, token: str | int, value: Value, where: str, line: int) -> None:
    if isinstance(node, Map) and isinstance(token, str):
        if token in node:
            raise _conflict(token, where, line)
        node.items.append(Entry(token, value, line))
    elif isinstance(node, Seq) and isinstance(token, int):
        if token < len(node.items) and node.items[token] is not None:
            raise _conflict(str(token), where, line)
        node.items.extend([None] * (token + 1 - len(node.items)))
        node.items[token] = value
    else:  # pragma: no cover - _unflatten creates the node that fits the token
        raise _conflict(str(token), where, line)


def _conflict(name: str, where: str, line: int) -> InputError:
    return InputError(
        f"sops metadata keys conflict at '{name}'", where=where, line=line, hint=_HINT
    )


def emit(docs: list[Map]) -> str:
    """The file as sops writes it; a trailing ``sops`` entry is flattened and sorted."""
    if len(docs) != 1:
        raise InputError("a dotenv file holds exactly one document")
    items = list(docs[0].items)
    flat: list[tuple[str, str]] = []
    last = items[-1] if items else None
    if isinstance(last, Entry) and last.key == "sops" and isinstance(last.value, Map):
        items.pop()
        for entry in last.value.entries():
            _flatten(entry.value, PREFIX + entry.key, flat)
        flat.sort()
    out: list[str] = []
    for item in items:
        if isinstance(item, Comment):
            out.append(f"#{item.text}\n")
        else:
            out.append(f"{item.key}={_text(item.key, item.value)}\n")
    out.extend(f"{key}={value}\n" for key, value in flat)
    return "".join(out)


def _flatten(value: Value, key: str, out: list[tuple[str, str]]) -> None:
    """sops' ``Flatten`` after its JSON round trip; nulls and empty lists vanish."""
    if isinstance(value, Map):
        for entry in value.entries():
            _flatten(entry.value, key + _MAP + entry.key, out)
    elif isinstance(value, Seq):
        entries = [item for item in value.items if not isinstance(item, Comment)]
        for index, item in enumerate(entries):
            _flatten(item, f"{key}{_LIST}{index}", out)
    elif value is not None:
        out.append((key, _text(key, value)))


def _text(key: str, value: Value) -> str:
    """sops' ``ValueToString``, with newlines escaped as ``\\n``."""
    if isinstance(value, Map | Seq):
        raise InputError(f"cannot use a nested value in a dotenv file (key {key!r})")
    if isinstance(value, str):
        text = value
    elif value is None:
        text = "<nil>"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = _format_float(value)
    elif isinstance(value, Timestamp):
        text = _FRACTION.sub("", value.text, count=1)
    else:
        text = value.decode("utf-8", "replace")
    return text.replace("\n", "\\n")


def _format_float(value: float) -> str:
    """Go ``FormatFloat(v, 'G', -1, 64)``, with ``.0`` added to integral results."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format_float_yaml(value).upper()
    if text.lstrip("-").isdigit():
        text += ".0"
    return text
