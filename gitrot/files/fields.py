"""Reading a strictly parsed YAML mapping field by field, with a location for every error.

:class:`Fields` wraps one :class:`Map` and its dotted path (``spec.target``). Each accessor
checks the type and raises the loader's error class (InputError, or ConfigError for
gitrot.yaml) at the key's ``file:line:col``; a missing key is reported at its parent.
Messages name fields and types, never values of fields that may be secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

from gitrot.codec.tree import Comment, Map, Seq, Value, kind_of
from gitrot.codec.yaml_parse import parse
from gitrot.core.layout import is_encrypted
from gitrot.errors import ConfigError, InputError
from gitrot.files.fsutil import decode_text

Position = tuple[int, int]


SCHEMA_BASE = "schemas/"  # in the policy repository: gitrot init writes the schemas there
_ENCRYPTED_HINT = (
    "only secret fields (spec.target.ref) are encrypted; narrow the encrypted_regex of the "
    ".sops.yaml rule and re-encrypt"
)


def fail(
    error: type[InputError], message: str, where: str, at: Position, hint: str | None = None
) -> NoReturn:
    """Raise ``error`` at ``where:line:col``."""
    raise error(message, where=where, line=at[0], column=at[1], hint=hint)


def decode(data: str | bytes, where: str, limit: int, error: type[InputError]) -> str:
    """The text of a file read elsewhere (e.g. a git blob), with fsutil.read_text's checks."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    try:
        return decode_text(raw, where=where, limit=limit)
    except InputError as exc:
        if error is InputError:
            raise
        raise error(exc.message, where=exc.where, line=exc.line, hint=exc.hint) from None


def parse_root(text: str, where: str, error: type[InputError]) -> Map:
    """The one document of a gitrot file, parsed strictly."""
    try:
        docs = parse(text, filename=where, strict=True)
    except InputError as exc:
        if type(exc) is error:
            raise
        raise error(
            exc.message, where=exc.where, line=exc.line, column=exc.column, hint=exc.hint
        ) from None
    if len(docs) != 1:
        raise error(
            f"the file holds {len(docs)} YAML documents; a gitrot file holds one",
            hint="remove the extra '---' document; one file per secret",
            where=where,
            line=docs[1].line,
        )
    if not docs[0].entries():
        raise error("the file is empty", where=where, hint="see gitrot init for an example")
    return docs[0]


kind = kind_of  # the one place that names YAML types for messages: gitrot.codec.tree


class Fields:
    """One mapping of a gitrot file: typed access with ``file:line:col`` errors."""

    __slots__ = ("at", "error", "node", "path", "where")

    def __init__(
        self,
        node: Map,
        path: str,
        where: str,
        error: type[InputError],
        at: Position | None = None,
    ) -> None:
        self.node = node
        self.path = path
        self.where = where
        self.error = error
        self.at = at if at is not None else (node.line or 1, 1)

    def full(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path and key else self.path or key

    def pos(self, key: str) -> Position:
        entry = self.node.entry(key) if key else None
        return (entry.line, entry.column) if entry is not None else self.at

    def fail(self, key: str, message: str, hint: str | None = None) -> NoReturn:
        if hint is None:
            schema = "config" if issubclass(self.error, ConfigError) else "intent"
            hint = f"the format is described in {SCHEMA_BASE}{schema}.schema.json"
        fail(self.error, message, self.where, self.pos(key), hint)

    def wrong(self, key: str, expected: str, value: object) -> NoReturn:
        if is_encrypted(value):
            message = f"{self.full(key)} is encrypted; it must stay cleartext"
            self.fail(key, message, _ENCRYPTED_HINT)
        self.fail(key, f"{self.full(key)} must be {expected}, got {kind(value)}")

    def header(self, kind_name: str, api_version: str) -> None:
        """Check ``apiVersion`` first (so old gitrots say 'upgrade'), then ``kind``."""
        api = self.get("apiVersion")
        if api != api_version:
            self.fail(
                "apiVersion",
                f"unsupported apiVersion {api!r}; this gitrot reads {api_version}",
                f"set apiVersion: {api_version}, or upgrade gitrot if the file is newer",
            )
        found = self.get("kind")
        if found != kind_name:
            self.fail("kind", f"kind must be {kind_name}, got {found!r}")

    def allow(self, keys: Iterable[str]) -> None:
        """Unknown keys are errors (typos must not pass silently in a security file)."""
        allowed = tuple(keys)
        for entry in self.node.entries():
            if entry.key not in allowed:
                import difflib

                close = difflib.get_close_matches(entry.key, allowed, n=1)
                guess = f" (did you mean {close[0]!r}?)" if close else ""
                self.fail(
                    entry.key,
                    f"unknown key {self.full(entry.key)!r}{guess}",
                    "allowed here: " + ", ".join(allowed),
                )

    def get(self, key: str, *, required: bool = True) -> Value:
        entry = self.node.entry(key)
        if entry is None or (entry.value is None and required):
            if required:
                what = "is empty" if entry is not None else "is missing"
                self.fail(key, f"required key {self.full(key)!r} {what}")
            return None
        return entry.value

    def raw_str(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"{self.full(key)} must be a non-empty string, got {kind(value)}")
        return value

    def text(self, key: str) -> str:
        value = self.get(key)
        if isinstance(value, str) and not value.strip():
            self.fail(key, f"{self.full(key)} must not be empty")
        if not isinstance(value, str) or is_encrypted(value):
            self.wrong(key, "a string", value)
        return value

    def opt_text(self, key: str) -> str | None:
        return self.text(key) if self.get(key, required=False) is not None else None

    def integer(self, key: str, *, minimum: int = 0, maximum: int = 2**53) -> int:
        """An integer; a number with no fraction written as a float (``1.0``, ``1e3``) is
        one too, as for JSON Schema's ``"type": "integer"`` (the shipped schemas and this
        loader accept the same documents)."""
        value = self.get(key)
        if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            hint = "write the number without quotes" if isinstance(value, str) else None
            if is_encrypted(value):
                self.wrong(key, "an integer", value)
            self.fail(key, f"{self.full(key)} must be an integer, got {kind(value)}", hint)
        if not minimum <= value <= maximum:
            limit = f">= {minimum}" if maximum == 2**53 else f"from {minimum} to {maximum}"
            self.fail(key, f"{self.full(key)} must be {limit}, got {value}")
        return value

    def flag(self, key: str, *, default: bool) -> bool:
        value = self.get(key, required=False)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.wrong(key, "true or false", value)
        return value

    def mapping(self, key: str) -> Fields:
        value = self.get(key)
        if not isinstance(value, Map):
            self.wrong(key, "a mapping", value)
        return Fields(value, self.full(key), self.where, self.error, self.pos(key))

    def opt_mapping(self, key: str) -> Fields | None:
        return self.mapping(key) if self.get(key, required=False) is not None else None

    def text_map(self) -> dict[str, str]:
        """A mapping whose values are all non-empty strings (labels, recipients)."""
        return {entry.key: self.text(entry.key) for entry in self.node.entries()}

    def seq(self, key: str) -> list[Value]:
        """An optional list (missing or null: empty)."""
        value = self.get(key, required=False)
        if value is None:
            return []
        if not isinstance(value, Seq):
            self.wrong(key, "a list", value)
        return [item for item in value.items if not isinstance(item, Comment)]

    def text_list(self, key: str, *, unique: bool = False) -> tuple[str, ...]:
        items = self.seq(key)
        for item in items:
            if not isinstance(item, str) or is_encrypted(item) or not item:
                self.wrong(key, "a list of non-empty strings", item)
        result = tuple(item for item in items if isinstance(item, str))
        if unique and len(set(result)) != len(result):
            dup = next(item for i, item in enumerate(result) if item in result[:i])
            self.fail(key, f"{self.full(key)} lists {dup!r} twice")
        return result

    def positions(self, *, skip: Iterable[str] = ()) -> dict[str, Position]:
        """``{"spec.version": (line, col), ...}`` for every key below this mapping."""
        found: dict[str, Position] = {}
        skipped = frozenset(skip)
        stack = [(self.path, self.node)]
        while stack:
            prefix, node = stack.pop()
            for entry in node.entries():
                if not prefix and entry.key in skipped:
                    continue
                dotted = f"{prefix}.{entry.key}" if prefix else entry.key
                found[dotted] = (entry.line, entry.column)
                if isinstance(entry.value, Map):
                    stack.append((dotted, entry.value))
        return found
