"""The ordered document tree shared by every SOPS store (YAML, JSON, dotenv).

A document is a :class:`Map`. Maps and sequences keep their items in file order, and
comments are items too, because sops encrypts comments and their position decides their
additional authenticated data (docs/sops-format.md 3 and 9.2).

Leaf values are plain Python objects typed the way go-yaml v3 types them (docs/sops-format.md 9.1):
``str``, ``int`` (64-bit), ``float``, ``bool``, ``None``, :class:`Timestamp` and ``bytes``.
The classes use ``__slots__`` and no dataclass machinery: they sit on the hot path of a
short-lived pre-commit process, where import time counts.
"""

from __future__ import annotations


class Comment:
    """One comment line; ``text`` is the line without its leading ``#``."""

    __slots__ = ("line", "text")

    def __init__(self, text: str, line: int = 0) -> None:
        self.text = text
        self.line = line

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Comment) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("comment", self.text))

    def __repr__(self) -> str:
        return f"Comment({self.text!r})"


class Timestamp:
    """A YAML timestamp, kept as Go's ``time.MarshalText`` form (RFC 3339, nanoseconds).

    Python's ``datetime`` cannot hold nanoseconds, so the canonical text is the value.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timestamp) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("timestamp", self.text))

    def __repr__(self) -> str:
        return f"Timestamp({self.text!r})"


class Entry:
    """A key/value pair of a :class:`Map`; ``line`` and ``column`` (of the key) are 1-based.

    Both are 0 when unknown (an entry built in code rather than parsed).
    """

    __slots__ = ("column", "key", "line", "value")

    def __init__(self, key: str, value: Value, line: int = 0, column: int = 0) -> None:
        self.key = key
        self.value = value
        self.line = line
        self.column = column

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and (other.key, other.value) == (self.key, self.value)

    def __hash__(self) -> int:  # pragma: no cover - entries are not used as keys
        return hash(self.key)

    def __repr__(self) -> str:
        return f"Entry({self.key!r}, {self.value!r})"


class Map:
    """An ordered mapping whose items are :class:`Entry` and :class:`Comment` objects."""

    __slots__ = ("items", "line")

    def __init__(self, items: list[Entry | Comment] | None = None, line: int = 0) -> None:
        self.items: list[Entry | Comment] = items if items is not None else []
        self.line = line

    def entries(self) -> list[Entry]:
        return [item for item in self.items if isinstance(item, Entry)]

    def get(self, key: str, default: Value = None) -> Value:
        for item in self.items:
            if isinstance(item, Entry) and item.key == key:
                return item.value
        return default

    def entry(self, key: str) -> Entry | None:
        for item in self.items:
            if isinstance(item, Entry) and item.key == key:
                return item
        return None

    def __contains__(self, key: object) -> bool:
        return any(isinstance(item, Entry) and item.key == key for item in self.items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Map) and other.items == self.items

    def __hash__(self) -> int:  # pragma: no cover
        return id(self)

    def __repr__(self) -> str:
        return f"Map({self.items!r})"


class Seq:
    """An ordered list whose items are values and :class:`Comment` objects."""

    __slots__ = ("items", "line")

    def __init__(self, items: list[Value | Comment] | None = None, line: int = 0) -> None:
        self.items: list[Value | Comment] = items if items is not None else []
        self.line = line

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Seq) and other.items == self.items

    def __hash__(self) -> int:  # pragma: no cover
        return id(self)

    def __repr__(self) -> str:
        return f"Seq({self.items!r})"


Scalar = str | int | float | bool | Timestamp | bytes | None
Value = Scalar | Map | Seq


def kind_of(value: object) -> str:
    """A value's YAML type for messages: 'a string', 'an integer', ... (never the value)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Timestamp):
        return "a timestamp"
    if isinstance(value, Map):
        return "a mapping"
    if isinstance(value, Seq):
        return "a list"
    return "binary data"


def to_plain(value: Value | Comment) -> object:
    """The value as plain Python data (dicts, lists), comments dropped; for tests and JSON."""
    if isinstance(value, Map):
        return {item.key: to_plain(item.value) for item in value.items if isinstance(item, Entry)}
    if isinstance(value, Seq):
        return [to_plain(item) for item in value.items if not isinstance(item, Comment)]
    if isinstance(value, Timestamp):
        return value.text
    return value


def without_comments(value: Value) -> Value:
    """A copy of ``value`` with every comment item removed."""
    if isinstance(value, Map):
        return Map(
            [
                Entry(item.key, without_comments(item.value), item.line, item.column)
                for item in value.items
                if isinstance(item, Entry)
            ],
            value.line,
        )
    if isinstance(value, Seq):
        return Seq(
            [without_comments(item) for item in value.items if not isinstance(item, Comment)],
            value.line,
        )
    return value
