"""The JSON store: sops 3.11 semantics (every number is a float64, tab-indented output)."""

from __future__ import annotations

import json
import math
import re

from gitrot.codec.gotypes import format_float_go, shortest_digits
from gitrot.codec.tree import Comment, Entry, Map, Seq, Timestamp, Value
from gitrot.errors import InputError


def parse(text: str, *, filename: str = "") -> list[Map]:
    def pairs(items: list[tuple[str, object]]) -> Map:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                raise InputError(f"duplicate key {key!r}", where=filename)
            seen.add(key)
        return Map([Entry(key, _convert(value)) for key, value in items])

    def no_constants(name: str) -> float:
        raise InputError(f"{name} is not valid JSON", where=filename)

    try:
        root = json.loads(
            text, object_pairs_hook=pairs, parse_int=float, parse_constant=no_constants
        )
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", where=filename, line=exc.lineno) from None
    except RecursionError:
        raise InputError("JSON nesting is too deep", where=filename) from None
    if not isinstance(root, Map):
        raise InputError("the top level of a sops JSON document must be an object", where=filename)
    return [root]


def _convert(value: object) -> Value:
    if isinstance(value, list):
        return Seq([_convert(item) for item in value])
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError("JSON number out of range")
    return value  # type: ignore[return-value]  # Map, str, float, bool, None from json


def emit(docs: list[Map], *, indent: int = 1) -> str:
    """JSON the way sops 3.11 writes it: tab indentation, Go float formatting."""
    if len(docs) != 1:
        raise InputError("a JSON file holds exactly one document")
    out: list[str] = []
    _emit_value(docs[0], out, 0)
    return "".join(out) + "\n"


def _emit_value(value: Value, out: list[str], depth: int) -> None:
    if isinstance(value, Map):
        entries = [item for item in value.items if not isinstance(item, Comment)]
        if not entries:
            out.append("{}")
            return
        out.append("{\n")
        for index, entry in enumerate(entries):
            assert isinstance(entry, Entry)  # noqa: S101
            out.append("\t" * (depth + 1) + _go_string(json.dumps(entry.key)) + ": ")
            _emit_value(entry.value, out, depth + 1)
            out.append(",\n" if index < len(entries) - 1 else "\n")
        out.append("\t" * depth + "}")
    elif isinstance(value, Seq):
        items = [item for item in value.items if not isinstance(item, Comment)]
        if not items:
            out.append("[]")
            return
        out.append("[\n")
        for index, item in enumerate(items):
            out.append("\t" * (depth + 1))
            _emit_value(item, out, depth + 1)
            out.append(",\n" if index < len(items) - 1 else "\n")
        out.append("\t" * depth + "]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(format_float_json(value))
    elif isinstance(value, Timestamp):
        out.append(json.dumps(value.text))
    elif isinstance(value, bytes):  # not UTF-8: Go writes each byte that is not as \ufffd
        text = json.dumps(value.decode("utf-8", "surrogateescape"), ensure_ascii=False)
        out.append(_go_string(_NOT_UTF8.sub(r"\\ufffd", text)))
    else:
        out.append(_go_string(json.dumps(value, ensure_ascii=False)))


_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # the bytes surrogateescape kept


def _go_string(encoded: str) -> str:
    """Go's encoding/json escapes <, > and & (HTML-safe) and U+2028/U+2029."""
    return (
        encoded.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def format_float_json(value: float) -> str:
    """Go ``encoding/json`` for a float64: shortest digits, exponent outside [1e-6, 1e21)."""
    if value == 0 or 1e-6 <= abs(value) < 1e21:
        return format_float_go(value)
    digits, point = shortest_digits(value)
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    power = point - 1
    return f"{'-' if value < 0 else ''}{mantissa}e{'-' if power < 0 else '+'}{abs(power):d}"
