"""The engine: findings at the intent's field line; a rule that errors is exit 2, never a pass."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gitrot.core.models import Config, RotationIntent
from gitrot.errors import InputError
from gitrot.files.repo import parse_config, parse_intent
from gitrot.policy import engine
from gitrot.policy.input import input_document
from gitrot.policy.rules import builtin_rules, parse_rules
from tests.intents import config_text, intent_text

NOW = datetime(2025, 1, 31, 12, tzinfo=UTC)
PATH = "secrets/payments/db.yaml"
TRIGGERS = "triggers:\n  payments-api: {type: command, argv: [make, reload]}\n"
HEAD = "apiVersion: gitrot/v1\nkind: PolicyRules\nrules:\n"


def _rule(expr: str, **extra: str) -> str:
    lines = [
        "  - id: custom",
        "    severity: error",
        "    description: d",
        f"    expr: {json.dumps(expr)}",
        "    message: m",
        *(f"    {k}: {v}" for k, v in extra.items()),
    ]
    return HEAD + "\n".join(lines) + "\n"


def _config() -> Config:
    return parse_config(config_text() + TRIGGERS, "gitrot.yaml")


def _intent(reason: str = "Scheduled rotation", klass: str = "database-password") -> RotationIntent:
    return parse_intent(intent_text("payments/db", 3, reason=reason, klass=klass), PATH)


def test_built_in_rules_pass_a_good_intent_and_locate_findings() -> None:
    config = _config()
    rules = builtin_rules()
    good = _intent()
    assert engine.evaluate(rules, [good], config, now=NOW) == []
    bad = _intent(reason="short", klass="nope")
    found = {f.rule_id: f for f in engine.evaluate(rules, [bad], config, now=NOW)}
    assert sorted(found) == ["class-exists", "reason-required"]
    reason = found["reason-required"]
    assert (reason.path, reason.line, reason.column) == (PATH, *bad.position("spec.reason"))
    assert reason.line > 0 and reason.severity == "error"
    assert found["class-exists"].line == bad.line_of("metadata.class")


def test_the_selector_limits_a_rule() -> None:
    config = _config()
    rules = parse_rules(_rule("false", select="{environment: dev}"), "p.yaml")
    assert engine.evaluate(rules, [_intent()], config, now=NOW) == []
    rules = parse_rules(_rule("false", select="{environment: [dev, prod]}"), "p.yaml")
    assert len(engine.evaluate(rules, [_intent()], config, now=NOW)) == 1


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("intent.metadata.labels.tier == 'x'", "no such key: tier"),
        ("size(intent.spec.reason)", "not a boolean"),
        ("intent.spec.version / 0 == 1", "division by zero"),
    ],
)
def test_a_rule_that_errors_never_passes(expr: str, problem: str) -> None:
    config = _config()
    rules = parse_rules(_rule(expr), "policies/x.yaml")
    with pytest.raises(InputError, match=problem) as info:
        engine.evaluate(rules, [_intent()], config, now=NOW)
    assert info.value.location() == "policies/x.yaml:4"
    assert PATH in info.value.message and "'custom'" in info.value.message
    assert info.value.exit_code == 2


def test_the_input_document_follows_its_schema() -> None:
    import jsonschema

    from gitrot.files import resources

    schema = json.loads(resources.schema_text("policy-input.schema.json"))
    validator = jsonschema.Draft202012Validator(schema)
    config = _config()
    document = input_document(_intent(), config, now=NOW)
    validator.validate(document)
    assert document["now"] == "2025-01-31T12:00:00Z"
    assert document["intent"]["spec"]["target"]["ref"].startswith("ENC[AES256_GCM,")  # type: ignore[index]
    # every shipped fixture's input follows it too
    from gitrot.commands.policy import parse_fixture

    fixtures = Path(__file__).resolve().parents[2] / "gitrot" / "policies" / "tests"
    paths = sorted(fixtures.glob("*/*.yaml"))
    assert paths
    for path in paths:
        validator.validate(parse_fixture(path.read_text(), str(path))[0])


def test_message_expr_names_what_is_wrong_and_falls_back_to_message() -> None:
    config = _config()
    expr = json.dumps("'says ' + intent.spec.reason")
    (finding,) = engine.evaluate(
        parse_rules(_rule("false", message_expr=expr), "policies/x.yaml"),
        [_intent()],
        config,
        now=NOW,
    )
    assert finding.message == "says Scheduled rotation"
    broken = json.dumps("intent.spec.nothing + 'x'")  # fails at run time: the plain message
    (finding,) = engine.evaluate(
        parse_rules(_rule("false", message_expr=broken), "policies/x.yaml"),
        [_intent()],
        config,
        now=NOW,
    )
    assert finding.message == "m"
    with pytest.raises(InputError, match="message_expr: CEL syntax error") as info:
        parse_rules(_rule("false", message_expr=json.dumps("'a' +")), "policies/x.yaml")
    assert info.value.line == 9
