"""gitrot policy test (the built-in fixtures run here, so `make test` runs them) and the rules
inside gitrot validate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

BUILTIN = Path(__file__).resolve().parents[2] / "gitrot" / "policies"
RULE = (
    "apiVersion: gitrot/v1\nkind: PolicyRules\nrules:\n"
    "  - id: owner-is-a-team\n"
    "    severity: warning\n"
    "    description: owners are teams\n"
    "    field: metadata.owner\n"
    "    expr: intent.metadata.owner.startsWith('team-')\n"
    "    message: metadata.owner is not a team\n"
)


def test_the_built_in_fixtures_agree_with_the_built_in_rules(gitrot) -> None:
    result = gitrot("policy", "test")
    assert result.code == 0, result.out + result.err
    assert "agree with" in result.err


def test_every_built_in_rule_has_pass_and_fail_fixtures() -> None:
    from gitrot.policy.rules import builtin_rules

    for rule in builtin_rules():
        names = [p.name for p in (BUILTIN / "tests" / rule.id).glob("*.yaml")]
        assert any(n.startswith("pass-") for n in names), rule.id
        assert any(n.startswith("fail-") for n in names), rule.id


def test_a_disagreeing_fixture_fails_and_is_named(gitrot, tmp_path: Path) -> None:
    tests = tmp_path / "policies" / "tests"
    shutil.copytree(BUILTIN / "tests" / "reason-required", tests / "reason-required")
    (tmp_path / "policies" / "team.yaml").write_text(RULE)
    result = gitrot("policy", "test", str(tests))
    assert result.code == 1
    # the team rule has no fixtures
    assert "rule 'owner-is-a-team' has no pass and no fail fixture" in result.out
    fixture = (tests / "reason-required" / "pass-ten-characters.yaml").read_text()
    (tests / "owner-is-a-team").mkdir()
    (tests / "owner-is-a-team" / "pass-team.yaml").write_text(fixture)
    (tests / "owner-is-a-team" / "fail-person.yaml").write_text(
        fixture.replace("owner: team-payments", "owner: alice").replace(
            "expect: []", "expect: [owner-is-a-team]"
        )
    )
    (tests / "reason-required" / "fail-wrong.yaml").write_text(
        fixture.replace("expect: []", "expect: [reason-required]")
    )
    result = gitrot("policy", "test", str(tests))
    assert result.code == 1
    assert result.out.splitlines() == [
        f"{tests}/reason-required/fail-wrong.yaml: expected [reason-required], got []"
    ]
    (tests / "reason-required" / "fail-wrong.yaml").unlink()
    assert gitrot("policy", "test", str(tests)).code == 0


def test_a_broken_fixture_is_an_input_error(gitrot, tmp_path: Path) -> None:
    (tmp_path / "reason-required").mkdir()
    (tmp_path / "reason-required" / "fail-x.yaml").write_text("input: {intent: {}}\n")
    result = gitrot("policy", "test", str(tmp_path))
    assert result.code == 2 and "required key 'expect' is missing" in result.err


@pytest.fixture
def policy_repo(gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "policy"
    assert gitrot("init", str(root)).code == 0
    monkeypatch.chdir(root)
    args = ["--backend", "local", "--ref", "r", "--owner", "o", "--class", "api-key"]
    assert gitrot("new", "payments/db", *args).code == 0
    return root


def test_validate_runs_the_built_in_and_repository_rules(gitrot, policy_repo: Path) -> None:
    assert gitrot("validate").code == 0
    intent = policy_repo / "secrets" / "payments" / "db.yaml"
    text = intent.read_text()
    intent.write_text(
        text.replace("backend: local", "backend: vault").replace("Initial version", "x")
    )
    result = gitrot("validate", "secrets/payments/db.yaml")
    assert result.code == 1
    lines = [line for line in result.out.splitlines() if not line.startswith(" ")]
    assert [line.split(": ", 1)[1] for line in lines] == [
        "error: [reason-required] spec.reason is too short: say why in at least 10 characters, "
        "30 for an emergency rotation",
        "error: [backend-exists] spec.target.backend 'vault' is not a backend in gitrot.yaml",
    ]
    assert lines[0].startswith("secrets/payments/db.yaml:10:")
    intent.write_text(text)
    (policy_repo / "policies" / "team.yaml").write_text(RULE)
    result = gitrot("validate")
    assert result.code == 0  # a warning does not fail the hook
    assert "warning: [owner-is-a-team] metadata.owner is not a team" in result.out
    (policy_repo / "policies" / "team.yaml").write_text(RULE.replace("('team-')", "('team-'"))
    result = gitrot("validate")
    assert result.code == 2
    assert "policies/team.yaml:8:5" in result.err and "CEL syntax error" in result.err
