"""Rules written in Python: the built-in ones and those other packages register.

A package adds rules through the entry-point group ``gitrot.rules``::

    [project.entry-points."gitrot.rules"]
    owner-in-ldap = "acme_gitrot.rules:OwnerInLdap"

The entry point names an object (or a class, instantiated without arguments) with:

- ``id`` (str, stable, like a YAML rule's), ``severity`` (``error``/``warning``/``info``
  or a mapping from each context ``pre-commit``/``pr``/``scheduled`` to one),
  ``description`` and ``hint`` (str);
- ``check(document) -> Iterable[tuple[str, str]]``: one ``(field, message)`` per
  violation, where ``document`` is the input document of one intent
  (``gitrot/schemas/policy-input.schema.json``) and ``field`` a dotted path in the intent
  (``spec.target.ref``) where the finding points; nothing when the intent complies.
- optionally ``select``: a mapping like a YAML rule's ``select:``.

A rule that raises never passes: the run stops with exit 2 naming the rule. Entry points
are found by :mod:`gitrot.plugins` (without ``importlib.metadata``).
"""

from __future__ import annotations

from gitrot import plugins
from gitrot.core.findings import Severity
from gitrot.errors import InputError
from gitrot.policy import builtin_rules
from gitrot.policy.input import CONTEXTS
from gitrot.policy.model import (
    ID_PATTERN,
    REQUIRABLE,
    PythonRule,
    Selector,
    is_reserved,
    selector_from_data,
)

GROUP = plugins.RULES
_HINT = (
    "a Python rule has id, severity, description, hint and check(document); "
    "see gitrot/policy/python_rules.py"
)


def from_object(candidate: object, where: str) -> PythonRule:
    """Check a rule object's attributes (instantiating a class) and wrap it."""

    if isinstance(candidate, type):
        try:
            candidate = candidate()
        except Exception as exc:
            raise _bad(where, f"cannot create the rule ({type(exc).__name__}: {exc})") from None
    rule_id = getattr(candidate, "id", None)
    if not isinstance(rule_id, str) or not ID_PATTERN.fullmatch(rule_id):
        raise _bad(where, f"the rule's id {rule_id!r} is not lowercase letters, digits, . _ -")
    if is_reserved(rule_id):
        raise _bad(where, f"rule id {rule_id!r} is reserved for gitrot's own checks")
    severity = getattr(candidate, "severity", None)
    valid = severity in Severity.ALL or (
        isinstance(severity, dict)
        and set(severity) == set(CONTEXTS)
        and all(value in Severity.ALL for value in severity.values())
    )
    if not valid:
        raise _bad(where, f"rule {rule_id!r}: severity {severity!r} is not valid")
    texts = {}
    for name in ("description", "hint"):
        value = getattr(candidate, name, None)
        if not isinstance(value, str) or not value.strip():
            raise _bad(where, f"rule {rule_id!r}: {name} must be a non-empty string")
        texts[name] = value
    check = getattr(candidate, "check", None)
    if not callable(check):
        raise _bad(where, f"rule {rule_id!r}: check(document) is missing")
    raw_select = getattr(candidate, "select", None)
    try:
        select = Selector() if raw_select is None else selector_from_data(raw_select)
    except ValueError as exc:
        raise _bad(where, f"rule {rule_id!r}: select: {exc}") from None
    scopes = {}
    for name, allowed in (("contexts", CONTEXTS), ("requires", REQUIRABLE)):
        value = getattr(candidate, name, ())
        if not isinstance(value, list | tuple) or not all(v in allowed for v in value):
            raise _bad(where, f"rule {rule_id!r}: {name} must list some of {', '.join(allowed)}")
        scopes[name] = tuple(value)
    rule = PythonRule(
        id=rule_id,
        severity=severity,  # type: ignore[arg-type]  # checked just above
        description=texts["description"],
        hint=texts["hint"],
        check=check,
        select=select,
        where=where,
    )
    rule.contexts, rule.requires = scopes["contexts"], scopes["requires"]
    return rule


def _bad(where: str, message: str) -> InputError:
    return InputError(message, where=where, hint=_HINT)


def builtin_python_rules() -> list[PythonRule]:
    """gitrot's own Python rules (always present, whatever is installed)."""
    rules = [
        from_object(rule, f"gitrot/policy/builtin_rules.py ({rule.id})")
        for rule in builtin_rules.RULES
    ]
    for rule in rules:
        rule.builtin = True
    return rules


def installed_rules(path: list[str] | None = None) -> list[PythonRule]:
    """The rules other installed packages register under :data:`GROUP`."""

    rules: list[PythonRule] = []
    for dist, name, target in plugins.entry_points(GROUP, path):
        where = f"entry point {GROUP}: {name} = {target} ({dist})"
        try:
            obj = plugins.load_target(target)
        except Exception as exc:
            raise _bad(where, f"cannot load the rule ({type(exc).__name__}: {exc})") from None
        rules.append(from_object(obj, where))
    return rules
