"""A pull request's policy cannot stall CI: a rule over the static cost bound is refused at
its file and line, and one that passes it but runs long on the change's inputs is stopped
after its CPU budget, an error naming the rule."""

from __future__ import annotations

import time

import pytest

from gitrot.policy import budget
from gitrot.policy.rules import BUILTIN_DIR
from tests.check.conftest import DB, HOUR, PolicyRepo

RULES = """apiVersion: gitrot/v1
kind: PolicyRules
rules:
  - id: innocent-looking
    severity: error
    description: every consumer is known
    expr: {expr}
    message: a consumer is unknown
"""
FOUR_MAPS = (
    "size(config.recipients.map(a, config.recipients.map(b, config.recipients.map(c, "
    "config.recipients.map(d, a + b + c + d))))) >= 0"
)


def test_a_pr_adding_four_nested_maps_is_refused_promptly_naming_the_rule(
    policy: PolicyRepo,
) -> None:
    policy.branch("pr")
    policy.write("policies/cost.yaml", RULES.format(expr=f"'{FOUR_MAPS}'"))
    policy.commit("Add a consumer rule", ago=HOUR)
    started = time.monotonic()
    result = policy.check_raw("--format", "json")
    assert time.monotonic() - started < 10
    assert result.code in (1, 2)
    text = result.out + result.err
    assert "innocent-looking" in text and "nests 4 comprehensions" in text
    assert "policies/cost.yaml" in text
    result = policy.run("validate")
    assert result.code in (1, 2) and "nests 4 comprehensions" in result.out + result.err


def test_a_pr_whose_rule_runs_long_on_its_own_inputs_is_stopped_by_the_budget(
    policy: PolicyRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget, "BUDGET_SECONDS", 0.2)
    policy.branch("pr")
    triggers = "".join(
        f"  t{i}: {{type: webhook, url: 'https://h/{i}', secret_env: K}}\n" for i in range(3000)
    )
    policy.edit("gitrot.yaml", "triggers: {}\n", "triggers:\n" + triggers)
    slow = "config.triggers.all(a, config.triggers.exists(b, b == 'none') || true)"
    policy.write("policies/cost.yaml", RULES.format(expr=f'"{slow}"'))
    policy.rotate(DB)
    policy.commit("Rotate, with a rule and many triggers", ago=HOUR)
    started = time.monotonic()
    code, found = policy.check()
    assert time.monotonic() - started < 30
    assert code == 1
    cost = [f for f in found if f["rule_id"] == "rule-cost"]
    assert cost and "'innocent-looking'" in str(cost[0]["message"])
    assert cost[0]["file"] == "policies/cost.yaml"


def test_a_pr_rule_cannot_claim_to_be_builtin_to_escape_the_budget(
    policy: PolicyRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gitrot's own pack runs without the budget; a pull request's rule may say it is
    built-in (a ``builtin:`` key) or sit where the pack does, and still gets the budget."""
    monkeypatch.setattr(budget, "BUDGET_SECONDS", 0.2)
    policy.branch("pr")
    claimed = RULES.format(expr="'true'") + "    builtin: true\n"
    policy.write("policies/trusted.yaml", claimed)
    policy.commit("Add a trusted rule", ago=HOUR)
    result = policy.run("validate")
    assert result.code == 2
    assert "policies/trusted.yaml:" in result.out + result.err
    assert "builtin" in result.out + result.err
    policy.delete("policies/trusted.yaml")
    triggers = "".join(
        f"  t{i}: {{type: webhook, url: 'https://h/{i}', secret_env: K}}\n" for i in range(3000)
    )
    policy.edit("gitrot.yaml", "triggers: {}\n", "triggers:\n" + triggers)
    policy.edit("gitrot.yaml", "paths: [policies/]", f"paths: [policies/, {BUILTIN_DIR}/]")
    slow = "config.triggers.all(a, config.triggers.exists(b, b == 'none') || true)"
    policy.write(f"{BUILTIN_DIR}/builtin.yaml", RULES.format(expr=f'"{slow}"'))
    policy.rotate(DB)
    policy.commit("Rotate, with a rule where the built-in pack lives", ago=HOUR)
    started = time.monotonic()
    code, found = policy.check()
    assert time.monotonic() - started < 30
    assert code == 1
    cost = [f for f in found if f["rule_id"] == "rule-cost"]
    assert cost and "'innocent-looking'" in str(cost[0]["message"])
    assert cost[0]["file"] == f"{BUILTIN_DIR}/builtin.yaml"
