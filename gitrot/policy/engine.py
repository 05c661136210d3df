"""Running rules over intents: findings, or an InputError for a rule that cannot be judged.

A rule's expression is true when the intent complies; false makes a finding at the rule's
``field`` in the intent (its line and column from the YAML). Any other outcome (an
evaluation error, a result that is not a boolean) is an InputError naming the rule's
``file:line`` and the intent: exit 2, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from gitrot.core.findings import Finding, Severity
from gitrot.core.models import Config, RotationIntent
from gitrot.core.timefmt import rfc3339
from gitrot.errors import InputError
from gitrot.policy import budget, cel
from gitrot.policy.input import (
    PER_INTENT,
    UNKNOWN,
    Facts,
    complete,
    config_document,
    input_document,
)
from gitrot.policy.model import AnyRule


def evaluate(
    rules: Sequence[AnyRule],
    intents: Iterable[RotationIntent],
    config: Config,
    *,
    now: datetime,
    facts: Mapping[str, Facts] | None = None,
    context: str = "pre-commit",
    pr: Mapping[str, object] | None = None,
) -> list[Finding]:
    """Every finding of ``rules`` over ``intents`` (in rule order per intent).

    ``facts`` maps an intent's path to what git and ``.sops.yaml`` say about it (unknown
    when absent); ``context`` picks the rules that run there and their severity; ``pr`` is
    what CI says about the pull request (author, approvals), None when unknown. A rule that
    ``requires`` an unknown variable reports an info finding "not evaluated", never a pass.
    """
    items = list(intents)

    def judge(subset: Sequence[AnyRule]) -> list[Finding]:
        return _judge(subset, items, config, now=now, facts=facts, context=context, pr=pr)

    others = [rule for rule in rules if not rule.builtin]
    if not others or not budget.available():
        return judge(rules)
    # the repository's rules (and installed ones) under the CPU budget, in a child process;
    # gitrot's own pack here, without the fork
    found = budget.bounded(lambda: judge(others), others, items)
    own = [rule for rule in rules if rule.builtin]
    return in_order([*found, *judge(own)], rules, items) if own else found


def _judge(
    rules: Sequence[AnyRule],
    intents: Sequence[RotationIntent],
    config: Config,
    *,
    now: datetime,
    facts: Mapping[str, Facts] | None,
    context: str,
    pr: Mapping[str, object] | None,
) -> list[Finding]:
    """:func:`evaluate` in this process, unbounded."""
    config_doc = config_document(config)
    shared = {"config": config_doc, "now": rfc3339(now), "context": context, "pr": pr}
    bindings = cel.Bindings(shared)
    findings: list[Finding] = []
    for intent in intents:
        document = input_document(
            intent,
            config,
            now=now,
            facts=(facts or {}).get(intent.path, UNKNOWN),
            context=context,
            config_doc=config_doc,
            pr=pr,
        )
        found = violations(rules, document, subject=intent.path, bindings=bindings)
        for rule, field, message, judged in found:
            line, column = intent.position(field) if field else (0, 0)
            findings.append(
                Finding(
                    rule.id,
                    rule.severity_in(context) if judged else Severity.INFO,
                    intent.path,
                    line,
                    column,
                    message,
                    hint=rule.hint if judged else _UNKNOWN_HINT,
                )
            )
    return findings


def in_order(
    findings: Iterable[Finding], rules: Sequence[AnyRule], intents: Sequence[RotationIntent]
) -> list[Finding]:
    """``findings`` in :func:`evaluate`'s order: by intent, then by rule; those of no
    intent or rule (``rule-cost``) first, each group in the order given."""
    rank = {rule.id: number for number, rule in enumerate(rules)}
    place: dict[str, int] = {}
    for number, intent in enumerate(intents):
        place.setdefault(intent.path, number)
    return sorted(findings, key=lambda f: (place.get(f.path, -1), rank.get(f.rule_id, -1)))


_UNKNOWN_HINT = (
    "the PR check reads the pull request's author and approvals from GITROT_PR_AUTHOR and "
    "GITROT_PR_APPROVALS (the gitrot GitHub Action and GitLab template set them)"
)


def violations(
    rules: Sequence[AnyRule],
    document: Mapping[str, object],
    *,
    subject: str,
    bindings: cel.Bindings | None = None,
) -> list[tuple[AnyRule, str, str, bool]]:
    """``(rule, field, message, judged)`` for every violation of the rules that select the
    document's intent; ``judged`` is False for a rule that could not run because a variable
    it ``requires`` is null (the message says so). ``subject`` names the input in errors
    (the intent's path, or a fixture file). A rule that cannot judge raises InputError
    (exit 2), never passes.
    ``bindings`` already holds the document's shared variables (config, now, context);
    the per-intent ones are bound here."""
    document = complete(document)
    intent = document.get("intent")
    if not isinstance(intent, dict):
        raise InputError("the input document has no intent", where=subject)
    if bindings is not None:
        bindings.bind({key: document[key] for key in PER_INTENT})
    found: list[tuple[AnyRule, str, str, bool]] = []
    context = document.get("context")
    for rule in rules:
        if rule.contexts and context not in rule.contexts:
            continue
        if not rule.select.matches(intent):
            continue
        missing = [name for name in rule.requires if document.get(name) is None]
        if missing:
            what = " and ".join(missing)
            found.append((rule, rule.field, f"not evaluated: {what} unknown here", False))
            continue
        try:
            found.extend(
                (rule, field, message, True)
                for field, message in rule.violations(document, bindings)
            )
        except cel.CelError as exc:
            raise _broken(rule, subject, exc.message) from None
        except Exception as exc:
            raise _broken(rule, subject, f"{type(exc).__name__}: {exc}") from None
    return found


def failed_rules(
    rules: Sequence[AnyRule], document: Mapping[str, object], *, subject: str
) -> list[AnyRule]:
    """The rules with at least one violation on the document (in rule order)."""
    failed: list[AnyRule] = []
    for rule, _field, _message, judged in violations(rules, document, subject=subject):
        if judged and (not failed or failed[-1] is not rule):
            failed.append(rule)
    return failed


def _broken(rule: AnyRule, subject: str, problem: str) -> InputError:
    return InputError(
        f"rule {rule.id!r} cannot judge {subject}: {problem}",
        where=rule.where,
        line=rule.line,
        hint="a rule that errors never passes; fix the expression (guard optional data with "
        "has() or `in`), or the input it reads",
    )
