"""The rule format: ``policies/*.yaml`` files of ``kind: PolicyRules`` (docs/architecture.md).

::

    apiVersion: gitrot/v1
    kind: PolicyRules
    rules:
      - id: reason-required            # stable: reports, waivers and fixtures name it
        severity: error                # error, warning or info
        description: why the rule exists (cite the requirement when there is one)
        select:                        # optional; every given key must match
          environment: [prod]          # a string or a list
          class: database-password     # a string or a list
          labels: {tier: critical}     # every label must be equal
          name: payments/*             # a glob (fnmatch) or a list of globs
        field: spec.reason             # optional: where findings point in the intent
        expr: size(intent.spec.reason) >= 10   # CEL; true when the intent COMPLIES
        message: the reason is too short
        hint: say why in a sentence

Files are read strictly (no anchors, aliases or tags; unknown keys are errors) and every
expression is compiled when the file is loaded, so a bad rule is an InputError (exit 2) at
its ``file:line:col`` before any intent is judged. Rule ids are unique across the built-in
pack and the repository's files; an empty rule set is an error, never a pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, NoReturn

import gitrot
from gitrot.codec.tree import Map
from gitrot.core.findings import Severity
from gitrot.core.models import API_VERSION, Config
from gitrot.errors import InputError
from gitrot.files.fields import Fields, parse_root
from gitrot.files.fsutil import read_text
from gitrot.files.repo import read_file
from gitrot.policy import cel
from gitrot.policy.input import CONTEXTS
from gitrot.policy.model import (
    FIELDS,
    ID_PATTERN,
    REQUIRABLE,
    SELECT_KEYS,
    AnyRule,
    Rule,
    Selector,
    is_reserved,
)
from gitrot.policy.python_rules import builtin_python_rules, installed_rules

if TYPE_CHECKING:
    from cel.cel import Program  # the engine loads on the first compile (gitrot.policy.cel)

RULES_KIND = "PolicyRules"
BUILTIN_DIR = "gitrot/policies"
_RULE_KEYS = (
    "id",
    "severity",
    "description",
    "select",
    "contexts",
    "requires",
    "field",
    "expr",
    "message",
    "message_expr",
    "hint",
)
_FORMAT_HINT = "the rule format is described in gitrot/policies/README.md"


class _Fields(Fields):
    """Fields whose errors point at the rule format, not at the intent schema."""

    __slots__ = ()

    def fail(self, key: str, message: str, hint: str | None = None) -> NoReturn:
        super().fail(key, message, _FORMAT_HINT if hint is None else hint)

    def mapping(self, key: str) -> Fields:
        inner = super().mapping(key)
        return _Fields(inner.node, inner.path, inner.where, inner.error, inner.at)


# -- reading --------------------------------------------------------------------------------


def parse_rules(text: str, where: str) -> list[Rule]:
    """The rules of one file's text; InputError at ``where:line:col`` for any problem."""
    root = parse_root(text, where, InputError)
    doc = _Fields(root, "", where, InputError)
    doc.header(RULES_KIND, API_VERSION)
    doc.allow(("apiVersion", "kind", "rules"))
    items = doc.seq("rules")
    if not items:
        doc.fail("rules", "the file defines no rules", "add rules, or delete the file")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, Map):
            doc.fail("rules", f"rules[{index}] must be a mapping (a rule)", _FORMAT_HINT)
        fields = _Fields(item, f"rules[{index}]", where, InputError)
        rule = _rule(fields)
        if rule.id in seen:
            fields.fail(
                "id",
                f"duplicate rule id {rule.id!r} (first at line {seen[rule.id]})",
                "rule ids are unique; rename one of the rules",
            )
        seen[rule.id] = rule.line
        rules.append(rule)
    return rules


def _rule(fields: Fields) -> Rule:
    fields.allow(_RULE_KEYS)
    rule_id = fields.text("id")
    if not ID_PATTERN.fullmatch(rule_id):
        fields.fail(
            "id",
            f"rule id {rule_id!r} is not lowercase letters, digits, '.', '_' and '-'",
            "ids are stable names like reason-required",
        )
    if is_reserved(rule_id):
        fields.fail("id", f"rule id {rule_id!r} is reserved for gitrot's own checks")
    severity = _severity(fields)
    field = fields.opt_text("field") or ""
    if field and field not in FIELDS and not field.startswith("metadata.labels."):
        fields.fail(
            "field",
            f"{fields.full('field')} {field!r} is not a field of an intent",
            "give a dotted path like spec.reason or spec.target.backend",
        )
    select = _selector(fields)
    contexts = _choices(fields, "contexts", CONTEXTS)
    requires = _choices(fields, "requires", REQUIRABLE)
    expr = fields.text("expr")
    program = _compiled(fields, "expr", expr, rule_id, _EXPR_HINT)
    message_expr = fields.opt_text("message_expr")
    message_program = (
        _compiled(fields, "message_expr", message_expr, rule_id, _MESSAGE_HINT)
        if message_expr
        else None
    )
    return Rule(
        rule_id,
        severity,
        fields.text("description"),
        select,
        expr,
        fields.text("message"),
        fields.opt_text("hint") or "",
        field,
        where=fields.where,
        line=fields.at[0],
        program=program,
        message_program=message_program,
        contexts=contexts,
        requires=requires,
    )


_EXPR_HINT = (
    "expressions are CEL (https://cel.dev) over the input document "
    "(gitrot/schemas/policy-input.schema.json)"
)
_MESSAGE_HINT = "message_expr is a CEL expression that returns the finding's message"


def _compiled(fields: Fields, key: str, text: str, rule_id: str, hint: str) -> Program:
    """The program of the CEL text at ``key``; InputError at its line for a bad one."""
    try:
        return cel.compile(text)
    except cel.CelError as exc:
        line, column = fields.pos(key)
        prefix = "" if key == "expr" else f"{key}: "
        raise InputError(
            f"rule {rule_id!r}: {prefix}{exc.message}",
            where=fields.where,
            line=line,
            column=column,
            hint=hint,
        ) from None


def _choices(fields: Fields, key: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """An optional list of names from ``allowed`` (``contexts: [pr]``)."""
    if fields.get(key, required=False) is None:
        return ()
    items = fields.text_list(key, unique=True)
    for item in items:
        if item not in allowed:
            fields.fail(key, f"{fields.full(key)}: {item!r} is not one of {', '.join(allowed)}")
    return items


def _severity(fields: Fields) -> str | dict[str, str]:
    """``error``, or ``{pre-commit: warning, pr: warning, scheduled: error}``."""
    choices = ", ".join(Severity.ALL)
    if isinstance(fields.get("severity"), str):
        severity = fields.text("severity")
        if severity not in Severity.ALL:
            fields.fail("severity", f"{fields.full('severity')} must be one of {choices}, "
                        f"got {severity!r}")  # fmt: skip
        return severity
    by_context = fields.mapping("severity")
    by_context.allow(CONTEXTS)
    found = by_context.text_map()
    for context in CONTEXTS:
        if context not in found:
            by_context.fail(
                "",
                f"{fields.full('severity')} gives no severity for {context!r}",
                f"a severity per context names all of {', '.join(CONTEXTS)}",
            )
        if found[context] not in Severity.ALL:
            by_context.fail(
                context,
                f"{by_context.full(context)} must be one of {choices}, got {found[context]!r}",
            )
    return found


def _selector(fields: Fields) -> Selector:
    select = fields.opt_mapping("select")
    if select is None:
        return Selector()
    select.allow(SELECT_KEYS)
    labels = select.opt_mapping("labels")
    return Selector(
        environments=_strings(select, "environment"),
        classes=_strings(select, "class"),
        labels=labels.text_map() if labels is not None else None,
        names=_strings(select, "name"),
    )


def _strings(fields: Fields, key: str) -> tuple[str, ...]:
    value = fields.get(key, required=False)
    if value is None:
        return ()
    if isinstance(value, str):
        return (fields.text(key),)
    items = fields.text_list(key)
    if not items:
        fields.fail(key, f"{fields.full(key)} is an empty list; omit it to select every intent")
    return items


def check_unique(rules: Iterable[AnyRule]) -> list[AnyRule]:
    """The rules as a list; InputError at the second place an id is defined."""
    found: dict[str, AnyRule] = {}
    result: list[AnyRule] = []
    for rule in rules:
        first = found.get(rule.id)
        if first is not None:
            raise InputError(
                f"duplicate rule id {rule.id!r} (first defined at {first.location()})",
                where=rule.where,
                line=rule.line,
                hint="rule ids are unique across the built-in pack and the repository's "
                "policies; rename the repository's rule",
            )
        found[rule.id] = rule
        result.append(rule)
    if not result:
        raise InputError(
            "no policy rules: an empty rule set checks nothing",
            hint="reinstall gitrot (its built-in pack is missing) or add rules to policies/",
        )
    return result


def builtin_rules() -> list[AnyRule]:
    """The built-in pack: the rules of ``gitrot/policies/*.yaml``, then gitrot's Python
    rules (:mod:`gitrot.policy.builtin_rules`), each marked ``builtin``: the engine runs
    them in process, outside the CPU budget every other rule runs under. Only this
    function marks a rule so; the rule format has no key for it."""
    rules: list[AnyRule] = []
    for name, text in _builtin_files():
        for rule in parse_rules(text, f"{BUILTIN_DIR}/{name}"):
            rule.builtin = True
            rules.append(rule)
    rules.extend(builtin_python_rules())
    return rules


def _builtin_files() -> list[tuple[str, str]]:
    """(name, text) of each built-in rule file. Read from the package folder when it is one
    (importlib.resources costs ~20 ms of the hook's start-up), else through it (a zip)."""
    folder = os.path.join(os.path.dirname(os.path.abspath(gitrot.__file__)), "policies")
    if os.path.isdir(folder):
        names = sorted(n for n in os.listdir(folder) if n.endswith(".yaml"))
        paths = [os.path.join(folder, n) for n in names]
        return [(n, read_text(p)) for n, p in zip(names, paths, strict=True) if os.path.isfile(p)]
    from importlib import resources

    entries = resources.files("gitrot").joinpath("policies").iterdir()
    return [
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in sorted(entries, key=lambda e: e.name)
        if entry.is_file() and entry.name.endswith(".yaml")
    ]


def repo_rule_files(root: str, config: Config) -> list[str]:
    """Repo-relative ``*.yaml`` files named by ``policy.paths`` (a folder: its own files,
    not its subfolders, where fixtures live); missing folders are skipped."""
    found: list[str] = []
    for entry in config.policy_paths:
        rel = entry.rstrip("/")
        full = os.path.join(root, *rel.split("/"))
        if os.path.isdir(full):
            found.extend(
                f"{rel}/{name}"
                for name in sorted(os.listdir(full))
                if name.endswith(".yaml") and os.path.isfile(os.path.join(full, name))
            )
        elif os.path.isfile(full) and rel.endswith(".yaml"):
            found.append(rel)
    return list(dict.fromkeys(found))


def load_rules(root: str, config: Config) -> list[AnyRule]:
    """Built-in rules, the repository's, then those installed packages register (entry-point
    group ``gitrot.rules``); InputError for the first bad file or rule."""
    rules = builtin_rules()
    for rel in repo_rule_files(root, config):
        text = read_file(root, rel)
        rules.extend(parse_rules(text, rel))
    rules.extend(installed_rules())
    return check_unique(rules)


def describe(rules: Iterable[AnyRule]) -> dict[str, tuple[str, str]]:
    """``{id: (description, hint)}`` for the report formats (SARIF rule metadata)."""
    return {rule.id: (rule.description, rule.hint) for rule in rules}
