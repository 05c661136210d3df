"""What a policy rule is (docs/architecture.md): a YAML rule of CEL expressions
(:class:`Rule`) and a rule written in Python (:class:`PythonRule`, the interface of
:mod:`gitrot.policy.python_rules`) behind one interface (:data:`AnyRule`), and the
:class:`Selector` of the intents a rule applies to.

Both kinds have ``id``, ``severity_in(context)``, ``description``, ``hint``, ``select``,
``field``, ``contexts``, ``requires``, ``where``/``line``/``location()`` and
``violations(document, bindings)``. ``builtin`` is true only for the rules of gitrot's own
pack: :func:`gitrot.policy.rules.builtin_rules` sets it, no file can (it is not a key of the
rule format). The engine runs built-in rules in process; every other rule runs under the
CPU budget of :mod:`gitrot.policy.budget`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, TypeAlias

from gitrot.policy import cel

if TYPE_CHECKING:
    from cel.cel import Program

#: ids of gitrot's own checks, which rules may not take (``waiver-*`` too)
RESERVED_IDS = frozenset({"schema", "sealed-immutable", "rule-cost"})


def is_reserved(rule_id: str) -> bool:
    """Whether ``rule_id`` names one of gitrot's own checks rather than a rule."""
    return rule_id in RESERVED_IDS or rule_id.startswith("waiver-")


ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
#: input variables a rule may require; when one is null the rule is "not evaluated"
REQUIRABLE = ("base", "history", "creation_rule", "pr")
#: the keys of a rule's ``select:``
SELECT_KEYS = ("environment", "class", "labels", "name")
#: the intent fields a rule may point its findings at (``metadata.labels.<key>`` too)
FIELDS = frozenset(
    {
        "apiVersion",
        "kind",
        "metadata",
        "metadata.name",
        "metadata.owner",
        "metadata.environment",
        "metadata.class",
        "metadata.labels",
        "spec",
        "spec.version",
        "spec.reason",
        "spec.emergency",
        "spec.retired",
        "spec.target",
        "spec.target.backend",
        "spec.target.ref",
        "spec.value",
        "spec.value.generate",
        "spec.value.generate.length",
        "spec.value.generate.alphabet",
        "spec.value.sealed",
        "spec.consumers",
        "spec.source",
        "spec.source.rotator",
        "sops",
        "sops.age",
        "sops.key_groups",
        "sops.mac_only_encrypted",
        "sops.encrypted_regex",
        "sops.unencrypted_regex",
        "sops.encrypted_suffix",
        "sops.unencrypted_suffix",
        "sops.encrypted_comment_regex",
        "sops.unencrypted_comment_regex",
    }
)


class Selector:
    """Which intents a rule applies to; an empty selector takes every intent."""

    __slots__ = ("classes", "environments", "labels", "names")

    def __init__(
        self,
        *,
        environments: tuple[str, ...] = (),
        classes: tuple[str, ...] = (),
        labels: Mapping[str, str] | None = None,
        names: tuple[str, ...] = (),
    ) -> None:
        self.environments = environments
        self.classes = classes
        self.labels: dict[str, str] = dict(labels or {})
        self.names = names

    def matches(self, intent: Mapping[str, object]) -> bool:
        """Whether the intent document (``input["intent"]``) is selected."""
        meta = intent.get("metadata")
        if not isinstance(meta, dict):
            return False
        if self.environments and meta.get("environment") not in self.environments:
            return False
        if self.classes and meta.get("class") not in self.classes:
            return False
        if self.labels:
            labels = meta.get("labels")
            if not isinstance(labels, dict) or any(
                labels.get(key) != value for key, value in self.labels.items()
            ):
                return False
        if self.names:
            name = meta.get("name")
            if not isinstance(name, str) or not any(fnmatchcase(name, g) for g in self.names):
                return False
        return True


class Rule:
    """One rule, compiled. ``where``/``line`` locate it (its ``- id:`` item) for errors.

    ``severity`` is one of :data:`Severity.ALL`, or a mapping from each context
    (``pre-commit``, ``pr``, ``scheduled``) to one: ``max-age`` warns in the hook and fails
    the scheduled check.
    """

    __slots__ = (
        "builtin",
        "contexts",
        "description",
        "expr",
        "field",
        "hint",
        "id",
        "line",
        "message",
        "message_program",
        "program",
        "requires",
        "select",
        "severity",
        "where",
    )

    def __init__(  # noqa: PLR0917 - the fields of the file format, in its order
        self,
        id: str,
        severity: str | Mapping[str, str],
        description: str,
        select: Selector,
        expr: str,
        message: str,
        hint: str = "",
        field: str = "",
        *,
        where: str = "",
        line: int = 0,
        program: Program | None = None,
        message_program: Program | None = None,
        contexts: tuple[str, ...] = (),
        requires: tuple[str, ...] = (),
        builtin: bool = False,
    ) -> None:
        self.id = id
        self.builtin = builtin
        self.contexts = contexts
        self.requires = requires
        self.severity: str | dict[str, str] = (
            severity if isinstance(severity, str) else dict(severity)
        )
        self.description = description
        self.select = select
        self.expr = expr
        self.message = message
        self.message_program = message_program
        self.hint = hint
        self.field = field
        self.where = where
        self.line = line
        if program is None:
            program = cel.compile(expr)
        self.program = program

    def severity_in(self, context: str) -> str:
        """The severity of a finding of this rule in ``context``."""
        return self.severity if isinstance(self.severity, str) else self.severity[context]

    def violations(
        self, document: Mapping[str, object], bindings: cel.Bindings | None = None
    ) -> list[tuple[str, str]]:
        """``[(field, message)]``: one when the expression is false, none when true; a
        :class:`~gitrot.policy.cel.CelError` or TypeError when it cannot judge.
        ``bindings``, when given, holds ``document`` already converted for CEL."""
        if cel.watch is not None and cel.skipped(self.program):
            return []  # over its cost bound earlier in this run: gitrot.policy.budget says so
        result = cel.evaluate(self.program, document if bindings is None else bindings)
        if result is True:
            return []
        if result is False:
            return [(self.field, self._message(document, bindings))]
        raise TypeError(f"the expression returned {type(result).__name__}, not a boolean")

    def _message(self, document: Mapping[str, object], bindings: cel.Bindings | None) -> str:
        """``message_expr``'s string when the rule has one and it evaluates to a string
        (like ``messageExpression`` in Kubernetes admission policies), else ``message``."""
        if self.message_program is None:
            return self.message
        try:
            text = cel.evaluate(self.message_program, document if bindings is None else bindings)
        except cel.CelError:
            return self.message
        return text if isinstance(text, str) and text.strip() else self.message

    def location(self) -> str:
        return f"{self.where}:{self.line}" if self.line else self.where

    def __repr__(self) -> str:
        return f"Rule({self.id!r}, {self.location()!r})"


def selector_from_data(data: object) -> Selector:
    """A selector from plain data (a Python rule's ``select``); ValueError when malformed."""
    if not isinstance(data, dict):
        raise ValueError("select must be a mapping")
    unknown = sorted(set(data) - set(SELECT_KEYS))
    if unknown:
        raise ValueError(f"unknown keys {', '.join(map(str, unknown))}")

    def strings(key: str) -> tuple[str, ...]:
        value = data.get(key)
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(
            isinstance(item, str) and item for item in items
        ):
            raise ValueError(f"{key} must be a string or a list of strings")
        return tuple(items)

    labels = data.get("labels")
    if labels is not None and (
        not isinstance(labels, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())
    ):
        raise ValueError("labels must map strings to strings")
    return Selector(
        environments=strings("environment"),
        classes=strings("class"),
        labels=labels,
        names=strings("name"),
    )


class PythonRule:
    """A Python rule behind the interface of a YAML rule (:class:`Rule`)."""

    __slots__ = (
        "builtin",
        "check",
        "contexts",
        "description",
        "field",
        "hint",
        "id",
        "line",
        "requires",
        "select",
        "severity",
        "where",
    )

    def __init__(
        self,
        *,
        id: str,
        severity: str | Mapping[str, str],
        description: str,
        hint: str,
        check: Callable[[Mapping[str, object]], Iterable[tuple[str, str]]],
        select: Selector,
        where: str,
    ) -> None:
        self.id = id
        self.severity: str | dict[str, str] = (
            severity if isinstance(severity, str) else dict(severity)
        )
        self.description = description
        self.hint = hint
        self.check = check
        self.select = select
        self.where = where
        self.builtin = False  # gitrot's own (gitrot.policy.builtin_rules), set by its loader
        self.line = 0
        self.field = ""
        self.contexts: tuple[str, ...] = ()
        self.requires: tuple[str, ...] = ()

    def severity_in(self, context: str) -> str:
        return self.severity if isinstance(self.severity, str) else self.severity[context]

    def violations(
        self, document: Mapping[str, object], bindings: object = None
    ) -> list[tuple[str, str]]:
        """The check's ``(field, message)`` pairs; TypeError when it returns anything else.
        (``bindings`` is for CEL rules; a Python rule reads the document.)"""
        found = []
        for item in self.check(document):
            if (
                not isinstance(item, tuple)
                or len(item) != 2
                or not all(isinstance(part, str) for part in item)
            ):
                raise TypeError(f"check() yielded {item!r}, not a (field, message) pair")
            found.append(item)
        return found

    def location(self) -> str:
        return self.where

    def __repr__(self) -> str:
        return f"PythonRule({self.id!r}, {self.where!r})"


#: a rule of either kind
AnyRule: TypeAlias = Rule | PythonRule
