"""gitrot's own rule pack runs in process; every other rule runs under the CPU budget.

Only the loader of the built-in pack marks a rule ``builtin``: no key of a rule file does,
and a repository's file is a repository's file wherever it lies (docs/architecture.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitrot.core.findings import Severity
from gitrot.errors import InputError
from gitrot.files.repo import parse_config, parse_intent
from gitrot.policy import budget, engine
from gitrot.policy.rules import BUILTIN_DIR, builtin_rules, load_rules, parse_rules
from tests.intents import config_text, intent_text
from tests.policy.test_engine import HEAD, NOW, PATH, TRIGGERS, _config, _intent, _rule

OTHER = "secrets/payments/api.yaml"
SLOW = "config.triggers.all(a, config.triggers.exists(b, b == 'nothing') || true)"


def _no_fork(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make ``os.fork`` record each call and refuse it (the evaluation then fails)."""
    calls: list[int] = []

    def refuse() -> int:
        calls.append(1)
        raise OSError("fork refused by the test")

    monkeypatch.setattr(os, "fork", refuse)
    return calls


def test_the_builtin_pack_is_marked_and_judges_without_a_fork(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = builtin_rules()
    assert rules and all(rule.builtin for rule in rules)
    forks = _no_fork(monkeypatch)
    assert budget.available()
    bad = _intent(reason="short", klass="nope")
    found = engine.evaluate(rules, [_intent(), bad], _config(), now=NOW)
    assert sorted(f.rule_id for f in found) == ["class-exists", "reason-required"]
    assert {f.path for f in found} == {PATH} and not forks


def test_a_repository_rule_still_goes_through_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = [*builtin_rules(), *parse_rules(_rule("false"), "policies/x.yaml")]
    assert not rules[-1].builtin
    forks = _no_fork(monkeypatch)
    with pytest.raises(OSError, match="fork refused"):
        engine.evaluate(rules, [_intent()], _config(), now=NOW)
    assert forks == [1]


def test_a_rule_file_cannot_claim_to_be_builtin() -> None:
    text = _rule("true", builtin="true")
    with pytest.raises(InputError, match="builtin") as info:
        parse_rules(text, "policies/x.yaml")
    assert info.value.location().startswith("policies/x.yaml:")
    # a file named like the built-in pack's is still the repository's
    named = parse_rules(_rule("true"), f"{BUILTIN_DIR}/builtin.yaml")
    assert [rule.builtin for rule in named] == [False]


def test_repository_rules_in_a_folder_named_like_the_pack_are_not_builtin(
    tmp_path: Path,
) -> None:
    folder = tmp_path / BUILTIN_DIR
    folder.mkdir(parents=True)
    (folder / "builtin.yaml").write_text(_rule("true").replace("id: custom", "id: mine"))
    text = config_text() + f"policy:\n  paths: [{BUILTIN_DIR}/]\n"
    config = parse_config(text, "gitrot.yaml")
    loaded = {rule.id: rule for rule in load_rules(str(tmp_path), config)}
    assert not loaded["mine"].builtin
    assert loaded["reason-required"].builtin


def test_mixed_rules_report_in_rule_order_per_intent_and_over_budget_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(budget, "BUDGET_SECONDS", 0.2)
    triggers = "".join(f"  t{i}: {{type: command, argv: [make]}}\n" for i in range(3000))
    config = parse_config(config_text() + TRIGGERS + triggers, "gitrot.yaml")
    repo = parse_rules(
        _rule(SLOW) + _rule("false").replace(HEAD, "").replace("id: custom", "id: cheap"),
        "policies/x.yaml",
    )
    rules = [*builtin_rules(), *repo]
    other = parse_intent(intent_text("payments/api", 2, reason="short"), OTHER)
    bad = _intent(reason="short", klass="nope")
    found = engine.evaluate(rules, [bad, other], config, now=NOW)
    assert found[0].rule_id == "rule-cost" and found[0].severity == Severity.ERROR
    assert found[0].path == "policies/x.yaml" and "'custom'" in found[0].message
    # then by intent, and by rule within one: the pack's rules before the repository's
    assert [(f.path, f.rule_id) for f in found[1:]] == [
        (PATH, "reason-required"),
        (PATH, "class-exists"),
        (PATH, "cheap"),
        (OTHER, "reason-required"),
        (OTHER, "cheap"),
    ]


def test_without_fork_every_rule_runs_in_process_in_the_same_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = [
        *parse_rules(_rule("false").replace("id: custom", "id: first"), "policies/a.yaml"),
        *builtin_rules(),
        *parse_rules(_rule("false"), "policies/x.yaml"),
    ]
    bad = _intent(reason="short", klass="nope")
    config = _config()
    bounded = engine.evaluate(rules, [bad], config, now=NOW)
    monkeypatch.delattr(os, "fork")
    assert not budget.available()
    direct = engine.evaluate(rules, [bad], config, now=NOW)
    assert bounded == direct
    assert [f.rule_id for f in direct] == ["first", "reason-required", "class-exists", "custom"]
