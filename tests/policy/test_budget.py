"""The cost bound of CEL rules: the static limits at load, the CPU budget at evaluation."""

from __future__ import annotations

import time

import pytest

from gitrot.core.findings import Severity
from gitrot.errors import InputError
from gitrot.files.repo import parse_config
from gitrot.policy import budget, cel, engine
from gitrot.policy.rules import parse_rules
from tests.intents import config_text
from tests.policy.test_engine import HEAD, NOW, PATH, _intent, _rule


@pytest.mark.parametrize(
    ("expression", "depth"),
    [
        ("a.map(x, x)", 1),
        ("a.map(x, 1) + b.filter(y, true).size() > 0", 1),
        ("a.all(x, b.exists(y, c.exists_one(z, z)))", 3),
        ("a . map ( x , b.filter(y, [y].exists_one(z, true)))", 3),
        ('"a.map(x, b.map(y, 1))" + string(a.map(x, 1))', 1),
        ("r'\\' + string(a.map(x, b.map(y, c.map(z, 1))))", 3),
        ("'\\'' + string(a.map(x, b.map(y, 1)))", 2),
        ("// a.map(x, b.map(\n a.map(x, '''it\\'s'''.size() > 1)", 1),
        ("{'k': a.map(x, x)}['k'].all(y, true)", 1),
    ],
)
def test_nesting_counts_comprehension_macros_outside_strings(expression: str, depth: int) -> None:
    assert cel.nesting(expression) == depth


def test_a_rule_over_the_static_bound_is_refused_at_its_line() -> None:
    nested = "config.triggers.all(a, config.triggers.all(b, config.triggers.all(c, true)))"
    with pytest.raises(InputError, match="nests 3 comprehensions") as info:
        parse_rules(_rule(nested), "policies/x.yaml")
    assert info.value.location() == "policies/x.yaml:7:5"  # the expr line
    assert "'custom'" in info.value.message
    huge = " || ".join(["intent.spec.version == 1"] * 200)
    with pytest.raises(InputError, match="characters long"):
        parse_rules(_rule(huge), "policies/x.yaml")
    message = "config.triggers.map(a, config.triggers.map(b, config.triggers.map(c, a)))"
    with pytest.raises(InputError, match="message_expr: the expression nests 3"):
        parse_rules(_rule("true", message_expr=f"string({message})"), "policies/x.yaml")


def test_a_rule_over_its_cpu_budget_is_an_error_and_the_others_still_judge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(budget, "BUDGET_SECONDS", 0.2)
    triggers = "".join(f"  t{i}: {{type: command, argv: [make]}}\n" for i in range(3000))
    config = parse_config(config_text() + "triggers:\n" + triggers, "gitrot.yaml")
    slow = "config.triggers.all(a, config.triggers.exists(b, b == 'nothing') || true)"
    text = _rule(slow) + _rule("intent.spec.version > 5").replace(HEAD, "").replace(
        "id: custom", "id: cheap"
    )
    rules = parse_rules(text, "policies/x.yaml")
    started = time.monotonic()
    found = engine.evaluate(rules, [_intent(), _intent()], config, now=NOW)
    assert time.monotonic() - started < 10
    by_rule = {f.rule_id: f for f in found}
    cost = by_rule["rule-cost"]
    assert (cost.severity, cost.path, cost.line) == (Severity.ERROR, "policies/x.yaml", 4)
    assert "'custom'" in cost.message and PATH in cost.message
    assert [f.rule_id for f in found].count("rule-cost") == 1  # stopped once, then skipped
    assert [f.rule_id for f in found].count("cheap") == 2  # the other rule judged both


def test_evaluation_errors_still_stop_the_run_with_the_rules_location() -> None:
    rules = parse_rules(_rule("intent.spec.version / 0 == 1"), "policies/x.yaml")
    config = parse_config(config_text(), "gitrot.yaml")
    with pytest.raises(InputError, match="division by zero") as info:
        engine.evaluate(rules, [_intent()], config, now=NOW)
    assert info.value.location() == "policies/x.yaml:4"


def test_no_intents_or_no_cel_rules_evaluate_in_process() -> None:
    config = parse_config(config_text(), "gitrot.yaml")
    rules = parse_rules(_rule("intent.spec.version > 5"), "policies/x.yaml")
    assert engine.evaluate(rules, [], config, now=NOW) == []
    assert engine.evaluate([], [_intent()], config, now=NOW) == []
    assert budget.available()


def test_after_max_overruns_the_policy_is_not_evaluated_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(budget, "BUDGET_SECONDS", 0.1)
    triggers = "".join(f"  t{i}: {{type: command, argv: [make]}}\n" for i in range(3000))
    config = parse_config(config_text() + "triggers:\n" + triggers, "gitrot.yaml")
    slow = "config.triggers.all(a, config.triggers.exists(b, b == 'nothing') || true)"
    text = HEAD + "".join(
        _rule(slow).replace(HEAD, "").replace("id: custom", f"id: slow-{n}")
        for n in range(budget.MAX_OVERRUNS)
    )
    found = engine.evaluate(parse_rules(text, "policies/x.yaml"), [_intent()], config, now=NOW)
    assert [f.rule_id for f in found] == ["rule-cost"] * (budget.MAX_OVERRUNS + 1)
    assert [f"'slow-{n}'" in f.message for n, f in enumerate(found[:-1])] == [True] * 3
    assert found[-1].message == (
        f"{budget.MAX_OVERRUNS} rules went over their cost bound: the policy was not evaluated"
    )
    assert found[-1].severity == Severity.ERROR
