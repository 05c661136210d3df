"""``policy-changed``: what a pull request does to the policy, named change by change
(:mod:`gitrot.judge.policy_diff`), each at its line of the head's file."""

from __future__ import annotations

import pytest

from tests.check.conftest import DAY, HOUR, MAINTAINER, TICKET_RULE, PolicyRepo

WEBHOOK = (
    '  rebuild: {type: webhook, url: "https://ci.example/hooks/rebuild", '
    "secret_env: GITROT_WEBHOOK_SECRET}\n"
)


def changes(policy: PolicyRepo) -> dict[str, tuple[str, int]]:
    """``{message: (file, line)}`` of the ``policy-changed`` findings (errors: nobody
    approved, the base names no owners)."""
    code, found = policy.check()
    assert code == 1, found
    changed = [f for f in found if f["rule_id"] == "policy-changed"]
    assert all(f["severity"] == "error" for f in changed)
    return {f["message"].removeprefix("policy change: "): (f["file"], f["line"]) for f in changed}


@pytest.fixture
def governed(policy: PolicyRepo) -> PolicyRepo:
    """``main`` with a freeze, a webhook trigger and a rule file; ``pr`` branches there."""
    policy.edit(
        "gitrot.yaml", "freezes: []\n", 'freezes:\n  - {from: "2030-12-20", to: "2031-01-05"}\n'
    )
    policy.edit("gitrot.yaml", "triggers: {}\n", "triggers:\n" + WEBHOOK)
    policy.write("policies/ticket.yaml", TICKET_RULE)
    policy.commit(
        "Freeze the holidays, rebuild on rotation, require tickets", ago=DAY, author=MAINTAINER
    )
    policy.branch("pr")
    return policy


def test_every_change_to_gitrot_yaml_is_named_at_its_line(governed: PolicyRepo) -> None:
    text = governed.read("gitrot.yaml")
    text = text.replace(
        '  - {from: "2030-12-20", to: "2031-01-05"}\n',
        '  - {from: "2031-07-01", to: "2031-07-14", environments: [prod]}\n',
    )
    text = text.replace("https://ci.example/hooks/rebuild", "https://ci.example/hooks/v2")
    text = text.replace(
        "    max_age: 365d\n    min_interval: 7d\n", "    max_age: 400d\n    min_interval: 90m\n"
    )
    text = text.replace("NIST SP 800-57", "NIST SP 800-57 (read again)")
    text = text.replace(
        "  tls-certificate:\n    max_age: 200d\n    min_interval: 1d\n    source:",
        "  ssh-key:\n    min_interval: 45s\n    source:",
    )
    text = text.replace("  max_waiver_days: 90\n", "  max_waiver_days: 30\n")
    governed.write("gitrot.yaml", text)
    governed.commit("Loosen the signing key", ago=HOUR)
    found = changes(governed)
    lines = governed.read("gitrot.yaml").split("\n")

    def at(needle: str) -> int:
        return next(n for n, line in enumerate(lines, start=1) if needle in line)

    assert found["freeze 2030-12-20..2031-01-05 (every environment) removed"] == (
        "gitrot.yaml",
        at("freezes:"),
    )
    assert found["freeze 2031-07-01..2031-07-14 (prod) added"] == ("gitrot.yaml", at("freezes:"))
    assert found[
        "trigger 'rebuild' changed: type webhook, url https://ci.example/hooks/rebuild -> "
        "type webhook, url https://ci.example/hooks/v2"
    ] == ("gitrot.yaml", at("rebuild:"))
    signing = next(m for m in found if m.startswith("class 'signing-key' changed"))
    assert "max_age 365d -> 400d" in signing and "min_interval 7d -> 90m" in signing
    assert "source NIST SP 800-57" in signing
    assert found["class 'ssh-key' added: max_age none, min_interval 45s"] == (
        "gitrot.yaml",
        at("ssh-key:"),
    )
    assert found["class 'tls-certificate' removed"] == ("gitrot.yaml", 0)
    assert found["policy.max_waiver_days changed: 90 -> 30"] == (
        "gitrot.yaml",
        at("max_waiver_days"),
    )


def test_rule_files_added_removed_and_broken(governed: PolicyRepo) -> None:
    governed.delete("policies/ticket.yaml")
    governed.write(
        "policies/new.yaml", TICKET_RULE.replace("reason-names-a-ticket", "reason-is-long")
    )
    governed.commit("Swap the rule files", ago=HOUR)
    found = changes(governed)
    assert found["rule file policies/ticket.yaml removed (rules: reason-names-a-ticket)"] == (
        "policies/ticket.yaml",
        0,
    )
    assert found["rule file policies/new.yaml added (rules: reason-is-long)"] == (
        "policies/new.yaml",
        1,
    )


def test_a_rule_file_broken_at_the_head_is_an_input_error(governed: PolicyRepo) -> None:
    governed.write("policies/ticket.yaml", "rules: [\n")
    governed.commit("Break the rule file", ago=HOUR)
    result = governed.check_raw("--format", "json")
    assert result.code == 2 and "policies/ticket.yaml" in result.err


def test_a_waivers_file_deleted_and_a_scan_allowlist_added(governed: PolicyRepo) -> None:
    governed.delete("waivers.yaml")
    governed.write(".gitrot-scan-allow.yaml", "allow: []\n")
    governed.commit("No waivers, an empty allowlist", ago=HOUR)
    found = changes(governed)
    assert found["the change deletes waivers.yaml"] == ("waivers.yaml", 0)
    assert found["the change adds .gitrot-scan-allow.yaml"] == (".gitrot-scan-allow.yaml", 0)
