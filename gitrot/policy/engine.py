"""Running rules over intents: findings, or an InputError for a rule that cannot be judged.

A rule's expression is true when the intent complies; false makes a finding at the rule's
``field`` in the intent (its line and column from the YAML). Any other outcome (an
evaluation error, a result that is not a boolean) is an InputError naming the rule's
``file:line`` and the intent: exit 2, never a silent pass.
"""

from __future__ import annotations

from gitrot.core.findings import Finding
from gitrot.errors import InputError

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from datetime import datetime

    from gitrot.core.models import Config, RotationIntent
    from gitrot.policy.rules import Rule


def evaluate(
    rules: Sequence[Rule],
    intents: Iterable[RotationIntent],
    config: Config,
    *,
    now: datetime,
) -> list[Finding]:
    """Every finding of ``rules`` over ``intents`` (in rule order per intent)."""
    from gitrot.policy.input import config_document, input_document

    config_doc = config_document(config)
    findings: list[Finding] = []
    for intent in intents:
        document = input_document(intent, config, now=now, config_doc=config_doc)
        for rule in failed_rules(rules, document, subject=intent.path):
            line, column = intent.position(rule.field) if rule.field else (0, 0)
            findings.append(
                Finding(
                    rule.id,
                    rule.severity,
                    intent.path,
                    line,
                    column,
                    rule.message,
                    hint=rule.hint,
                )
            )
    return findings


def failed_rules(
    rules: Sequence[Rule], document: Mapping[str, object], *, subject: str
) -> list[Rule]:
    """The rules that select the document's intent and whose expression is false.

    ``subject`` names the input in errors (the intent's path, or a fixture file).
    """
    from gitrot.policy import cel

    intent = document.get("intent")
    if not isinstance(intent, dict):
        raise InputError("the input document has no intent", where=subject)
    failed: list[Rule] = []
    for rule in rules:
        if not rule.select.matches(intent):
            continue
        try:
            result = cel.evaluate(rule.program, document)
        except cel.CelError as exc:
            raise _broken(rule, subject, exc.message) from None
        if result is True:
            continue
        if result is False:
            failed.append(rule)
            continue
        raise _broken(
            rule, subject, f"the expression returned {type(result).__name__}, not a boolean"
        )
    return failed


def _broken(rule: Rule, subject: str, problem: str) -> InputError:
    return InputError(
        f"rule {rule.id!r} cannot judge {subject}: {problem}",
        where=rule.where,
        line=rule.line,
        hint="a rule that errors never passes; fix the expression (guard optional data with "
        "has() or `in`), or the input it reads",
    )
