"""``.sops.yaml`` creation rules, read the way sops 3.11 reads them (docs/sops-format.md 10).

* :func:`find_config`: ``--config``/``SOPS_CONFIG`` wins, else the first ``.sops.yaml`` in the
  working directory or one of its parents (100 levels at most);
* :func:`load_rules`: the ``creation_rules`` list and ``stores.yaml.indent``;
* :func:`match_rule`: the first rule whose ``path_regex`` is found in the file's path relative
  to the config's directory (a rule without ``path_regex`` matches every file).

Like sops, problems of a single rule that do not stop the file from loading (two selectors,
key types other than age, a bad ``path_regex``) are reported only when that rule is reached
or used, so a config shared with other tools keeps working for the rules gitrot needs.

Only imported when encrypting or updating keys, so a ``NamedTuple`` is fine here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from gitrot.codec import yaml_parse
from gitrot.codec.metadata import SELECTORS
from gitrot.codec.tree import Comment, Entry, Map, Seq, Value
from gitrot.core.layout import SOPS_CONFIG
from gitrot.errors import ConfigError, InputError

CONFIG_NAME = SOPS_CONFIG
MAX_DEPTH = 100


# key types sops knows besides age: in a rule (when it has no key_groups) and in a group
_OTHER_RULE_KEYS = (
    "pgp",
    "kms",
    "gcp_kms",
    "azure_keyvault",
    "hc_vault_transit_uri",
    "hckms",
    "plugins",
)
_OTHER_GROUP_KEYS = ("pgp", "kms", "gcp_kms", "azure_keyvault", "hc_vault", "hckms", "plugins")

_AGE_ONLY_HINT = "encrypt those files with sops itself, or give the rule age recipients only"


class NoMatchingRuleError(ConfigError):
    """No creation rule applies to the file (callers with explicit recipients may go on)."""


class CreationRule(NamedTuple):
    """One entry of ``creation_rules``.

    ``key_groups`` holds the age recipients per key group: one group for a rule with a
    top-level ``age:``, one per ``key_groups:`` entry otherwise, and none when the rule names
    no keys. ``shamir_threshold`` is 0 when unset (sops then uses the number of groups).
    ``problem`` is why the rule cannot be used, reported by :func:`match_rule`.
    """

    path_regex: str | None
    key_groups: list[list[str]]
    shamir_threshold: int
    selector: tuple[str, str] | None
    mac_only_encrypted: bool
    where: str = ""
    line: int = 0
    problem: str | None = None


def find_config(start: Path, *, explicit: Path | None) -> Path | None:
    """The ``.sops.yaml`` sops would use when run in ``start`` (the working directory).

    ``explicit`` (from ``--config`` or ``SOPS_CONFIG``) is returned as given, even if missing:
    :func:`load_rules` then reports it. ``.sops.yml`` is not looked for, as in sops.
    """
    if explicit is not None:
        return explicit
    directory = Path(os.path.abspath(start))
    for _ in range(MAX_DEPTH):
        candidate = directory / CONFIG_NAME
        if candidate.exists():
            return candidate
        if directory.parent == directory:
            return None
        directory = directory.parent
    return None


# --- loading -------------------------------------------------------------------------------


class _Reader:
    """Typed access to the parsed config, raising ConfigError with the file and line."""

    def __init__(self, where: str) -> None:
        self.where = where

    def error(self, message: str, line: int, hint: str | None = None) -> ConfigError:
        return ConfigError(message, where=self.where, line=line, hint=hint)

    def entries(self, node: Map) -> dict[str, Entry]:
        """The fields of a mapping (the parser refuses a duplicate key at its line)."""
        return {item.key: item for item in node.items if isinstance(item, Entry)}

    def mapping(self, entry: Entry | None, what: str) -> Map | None:
        if entry is None or entry.value is None:
            return None
        if not isinstance(entry.value, Map):
            raise self.error(f"{what} must be a mapping", entry.line)
        return entry.value

    def sequence(self, entry: Entry | None, what: str) -> list[Value]:
        if entry is None or entry.value is None:
            return []
        if not isinstance(entry.value, Seq):
            raise self.error(f"{what} must be a list", entry.line)
        return [item for item in entry.value.items if not isinstance(item, Comment)]

    def string(self, entry: Entry | None, what: str) -> str:
        if entry is None or entry.value is None:
            return ""
        if not isinstance(entry.value, str):
            raise self.error(f"{what} must be a string", entry.line)
        return entry.value

    def integer(self, entry: Entry | None, what: str) -> int:
        if entry is None or entry.value is None:
            return 0
        if isinstance(entry.value, bool) or not isinstance(entry.value, int):
            raise self.error(f"{what} must be an integer", entry.line)
        return entry.value

    def boolean(self, entry: Entry | None, what: str) -> bool:
        if entry is None or entry.value is None:
            return False
        if not isinstance(entry.value, bool):
            raise self.error(f"{what} must be true or false", entry.line)
        return entry.value

    def recipients(self, entry: Entry | None, what: str, *, allow_string: bool) -> list[str]:
        """Age recipients: a YAML list of strings, or (in a rule) a comma-separated string.

        As in sops every string is split at commas and trimmed; empty pieces are dropped.
        """
        if entry is None or entry.value is None:
            return []
        value = entry.value
        if isinstance(value, str):
            if not allow_string:
                raise self.error(f"{what} must be a list of recipients", entry.line)
            texts = [value]
        elif isinstance(value, Seq):
            texts = []
            for item in value.items:
                if isinstance(item, Comment):
                    continue
                if not isinstance(item, str):
                    raise self.error(f"{what} must list recipients as strings", entry.line)
                texts.append(item)
        else:
            raise self.error(f"{what} must be a string or a list of strings", entry.line)
        return [piece.strip() for text in texts for piece in text.split(",") if piece.strip()]


def _present(entry: Entry | None) -> bool:
    """Whether a key-type field names any key (``[]``, ``""`` and ``null`` do not)."""
    if entry is None:
        return False
    value = entry.value
    if isinstance(value, Seq):
        return any(not isinstance(item, Comment) for item in value.items)
    if isinstance(value, Map):
        return bool(value.entries())
    return value not in (None, "")


def _group(reader: _Reader, node: Value, line: int, others: list[str]) -> list[str]:
    """The age recipients of one key group, ``merge:`` groups first, deduplicated."""
    if not isinstance(node, Map):
        raise reader.error("every entry of key_groups must be a mapping", line)
    fields = reader.entries(node)
    recipients: list[str] = []
    merge = fields.get("merge")
    for item in reader.sequence(merge, "merge"):
        recipients += _group(reader, item, merge.line if merge else line, others)
    recipients += reader.recipients(fields.get("age"), "age in a key group", allow_string=False)
    others += [name for name in _OTHER_GROUP_KEYS if _present(fields.get(name))]
    unique: list[str] = []
    for recipient in recipients:
        if recipient not in unique:
            unique.append(recipient)
    return unique


def _rule(reader: _Reader, node: Value, line: int) -> CreationRule:
    if not isinstance(node, Map):
        raise reader.error("every creation rule must be a mapping", line)
    line = node.line or line
    fields = reader.entries(node)

    path_regex = reader.string(fields.get("path_regex"), "path_regex") or None
    threshold = reader.integer(fields.get("shamir_threshold"), "shamir_threshold")
    mac_only = reader.boolean(fields.get("mac_only_encrypted"), "mac_only_encrypted")
    selectors = [
        (name, text) for name in SELECTORS if (text := reader.string(fields.get(name), name))
    ]

    others: list[str] = []
    group_nodes = reader.sequence(fields.get("key_groups"), "key_groups")
    if group_nodes:
        group_line = fields["key_groups"].line
        groups = [_group(reader, item, group_line, others) for item in group_nodes]
    else:
        top = reader.recipients(fields.get("age"), "age", allow_string=True)
        groups = [top] if top else []
        others += [name for name in _OTHER_RULE_KEYS if _present(fields.get(name))]

    problem = None
    if len(selectors) > 1:
        problem = (
            "a creation rule may set only one of "
            + ", ".join(SELECTORS)
            + f"; this one sets {', '.join(name for name, _ in selectors)}"
        )
    elif others:
        names = ", ".join(sorted(set(others)))
        problem = f"gitrot supports age keys only; this creation rule uses {names}"

    return CreationRule(
        path_regex=path_regex,
        key_groups=groups,
        shamir_threshold=threshold,
        selector=selectors[0] if len(selectors) == 1 else None,
        mac_only_encrypted=mac_only,
        where=reader.where,
        line=line,
        problem=problem,
    )


def rules_from_document(doc: Map, *, where: str) -> tuple[list[CreationRule], int | None]:
    """The creation rules and ``stores.yaml.indent`` of a parsed ``.sops.yaml``."""
    reader = _Reader(where)
    fields = reader.entries(doc)

    indent = None
    stores = reader.mapping(fields.get("stores"), "stores")
    if stores is not None:
        yaml_store = reader.mapping(reader.entries(stores).get("yaml"), "stores.yaml")
        if yaml_store is not None:
            entry = reader.entries(yaml_store).get("indent")
            if entry is not None and entry.value is not None:
                indent = reader.integer(entry, "stores.yaml.indent")

    rules_entry = fields.get("creation_rules")
    line = rules_entry.line if rules_entry else 0
    rules = [_rule(reader, item, line) for item in reader.sequence(rules_entry, "creation_rules")]
    return rules, indent


def load_rules(path: Path) -> tuple[list[CreationRule], int | None]:
    """Read a ``.sops.yaml``: its creation rules (in order) and ``stores.yaml.indent`` if set.

    A file without ``creation_rules`` gives an empty list. Errors are ConfigError with the
    file and, when known, the line.
    """
    where = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(
            f"cannot read the sops config file ({error.strerror})",
            where=where,
            hint="check the path given by --config or SOPS_CONFIG",
        ) from None
    return rules_from_text(data, where=where)


def rules_from_text(data: str | bytes, *, where: str) -> tuple[list[CreationRule], int | None]:
    """:func:`load_rules` of a text (a file's bytes, or a git blob's)."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise ConfigError("the sops config file is not UTF-8 text", where=where) from None

    try:
        documents = yaml_parse.parse(text, filename=where)
    except InputError as error:
        raise ConfigError(
            error.message, where=error.where or where, line=error.line, hint=error.hint
        ) from None
    # go-yaml's Unmarshal reads the first document only (an empty text is one empty document)
    return rules_from_document(documents[0], where=where)


# --- matching ------------------------------------------------------------------------------


def relative_path(file_path: Path, config_dir: Path) -> str:
    """The path ``path_regex`` is matched against: relative to the config's directory when
    the file is inside it, else absolute (sops strips the directory as a string prefix)."""
    absolute = os.path.abspath(file_path)
    prefix = os.path.abspath(config_dir) + os.sep
    if absolute.startswith(prefix):
        absolute = absolute[len(prefix) :]
    return absolute.replace(os.sep, "/")


def match_rule(rules: list[CreationRule], file_path: Path, config_dir: Path) -> CreationRule:
    """The first rule whose ``path_regex`` is found in the file's path (docs/sops-format.md 10)."""
    target = relative_path(file_path, config_dir)
    for rule in rules:
        if rule.path_regex is not None:
            try:
                pattern = re.compile(rule.path_regex)
            except re.error as error:
                raise ConfigError(
                    f"path_regex is not a valid regular expression ({error.msg})",
                    where=rule.where,
                    line=rule.line,
                ) from None
            if not pattern.search(target):
                continue
        if rule.problem is not None:
            hint = _AGE_ONLY_HINT if rule.problem.startswith("gitrot supports") else None
            raise ConfigError(rule.problem, where=rule.where, line=rule.line, hint=hint)
        return rule
    raise NoMatchingRuleError(
        "no matching creation rules found",
        where=rules[0].where if rules else "",
        hint=f"add a creation rule whose path_regex matches {target}",
    )
