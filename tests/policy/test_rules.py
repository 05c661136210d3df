"""The rule file format: strict, located errors; unique ids; an empty set is an error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gitrot.core.models import Config
from gitrot.errors import InputError
from gitrot.policy.model import Rule
from gitrot.policy.rules import builtin_rules, check_unique, load_rules, parse_rules

HEAD = "apiVersion: gitrot/v1\nkind: PolicyRules\nrules:\n"
GOOD = (
    "  - id: prod-has-labels\n"
    "    severity: warning\n"
    "    description: production intents carry a tier label\n"
    "    select: {environment: prod, name: [payments/*]}\n"
    "    field: metadata.labels\n"
    "    expr: \"'tier' in intent.metadata.labels\"\n"
    "    message: no tier label\n"
    "    hint: add metadata.labels.tier\n"
)


def test_a_good_rule() -> None:
    (rule,) = parse_rules(HEAD + GOOD, "policies/r.yaml")
    assert (rule.id, rule.severity, rule.field, rule.line) == (
        "prod-has-labels",
        "warning",
        "metadata.labels",
        4,
    )
    assert rule.select.environments == ("prod",) and rule.select.names == ("payments/*",)
    assert rule.select.matches({"metadata": {"environment": "prod", "name": "payments/db"}})
    assert not rule.select.matches({"metadata": {"environment": "dev", "name": "payments/db"}})
    assert not rule.select.matches({"metadata": {"environment": "prod", "name": "billing/db"}})


@pytest.mark.parametrize(
    ("edit", "message", "line", "column"),
    [
        (
            ("  - id: prod-has-labels\n    severity", "  - severity"),
            "required key 'rules[0].id'",
            4,
            1,
        ),
        (("severity: warning", "severity: fatal"), "must be one of error, warning, info", 5, 5),
        (("    hint:", "    hnit: x\n    hint:"), "unknown key 'rules[0].hnit'", 11, 5),
        (('intent.metadata.labels"', 'intent.metadata.labels &&"'), "CEL syntax error", 9, 5),
        (("field: metadata.labels", "field: spec.nope"), "is not a field of an intent", 8, 5),
        (("id: prod-has-labels", "id: schema"), "reserved", 4, 5),
        (("id: prod-has-labels", "id: waiver-unused"), "reserved", 4, 5),
        (
            ("\"'tier' in", "\"intent.metadata.owner.lowerAscii() == 'x' || 'tier' in"),
            "unknown function 'lowerAscii'",
            9,
            5,
        ),
        (("select: {environment", "select: {env"), "unknown key 'rules[0].select.env'", 7, 14),
    ],
)
def test_bad_rules_fail_at_their_place(
    edit: tuple[str, str], message: str, line: int, column: int
) -> None:
    text = HEAD + GOOD.replace(*edit)
    with pytest.raises(InputError, match=re.escape(message)) as info:
        parse_rules(text, "policies/r.yaml")
    assert (info.value.where, info.value.line, info.value.column) == (
        "policies/r.yaml",
        line,
        column,
    )
    assert info.value.exit_code == 2


def test_a_duplicate_id_in_one_file() -> None:
    with pytest.raises(
        InputError, match=re.escape("duplicate rule id 'prod-has-labels' (first at line 4")
    ) as info:
        parse_rules(HEAD + GOOD + GOOD, "r.yaml")
    assert info.value.line == 12


def test_no_rules_is_an_error() -> None:
    with pytest.raises(InputError, match="defines no rules"):
        parse_rules(HEAD + "  []\n", "r.yaml")
    with pytest.raises(InputError, match="empty rule set"):
        check_unique([])


def test_the_built_in_pack() -> None:
    ids = [rule.id for rule in builtin_rules()]
    for wanted in (
        "reason-required",
        "backend-exists",
        "consumers-exist",
        "class-exists",
        "ref-encrypted",
        "recipients-required",
        "recipients-known",
        "version-step",
        "max-age",
        "min-interval",
        "freeze-window",
        "creation-rule-encrypted",
    ):
        assert wanted in ids
    for rule in builtin_rules():
        if isinstance(rule, Rule):
            assert rule.where == "gitrot/policies/builtin.yaml" and rule.line
        else:
            assert rule.where.startswith("gitrot/policy/builtin_rules.py")
        # every description says why; the long ones cite where they come from
        assert len(rule.description) > 40


def test_severity_per_context() -> None:
    text = HEAD + (
        "  - id: old\n"
        "    severity: {pre-commit: warning, pr: warning, scheduled: error}\n"
        "    description: d\n"
        "    expr: 'true'\n"
        "    message: m\n"
    )
    (rule,) = parse_rules(text, "r.yaml")
    assert rule.severity_in("pre-commit") == "warning"
    assert rule.severity_in("scheduled") == "error"
    with pytest.raises(InputError, match="no severity for 'scheduled'") as info:
        parse_rules(text.replace(", scheduled: error", ""), "r.yaml")
    assert info.value.line == 5
    with pytest.raises(InputError, match="must be one of") as info:
        parse_rules(text.replace("scheduled: error", "scheduled: fatal"), "r.yaml")
    with pytest.raises(InputError, match="unknown key") as info:
        parse_rules(text.replace("pr: warning", "ci: warning"), "r.yaml")


def test_repository_rules_load_and_may_not_reuse_a_built_in_id(tmp_path: Path) -> None:
    config = Config(recipients={}, policy_paths=("policies/",))
    assert len(load_rules(str(tmp_path), config)) == len(builtin_rules())  # no folder: fine
    (tmp_path / "policies" / "tests").mkdir(parents=True)
    (tmp_path / "policies" / "tests" / "ignored.yaml").write_text("not: rules\n")
    (tmp_path / "policies" / "team.yaml").write_text(HEAD + GOOD)
    assert [r.id for r in load_rules(str(tmp_path), config)][-1] == "prod-has-labels"
    clash = GOOD.replace("prod-has-labels", "reason-required")
    (tmp_path / "policies" / "team.yaml").write_text(HEAD + clash)
    with pytest.raises(InputError, match="duplicate rule id 'reason-required'") as info:
        load_rules(str(tmp_path), config)
    assert info.value.location() == "policies/team.yaml:4"
    assert "gitrot/policies/builtin.yaml:" in info.value.message
