"""A pull request cannot talk the PR check out of its policy (issue 10, holes 2, 4 and 8).

Each test branches ``pr`` off ``main`` (the ``policy`` fixture: the production database
password at version 1, 30 days old; CI's facts say ``dev`` wrote the pull request and
``alice`` approved it), makes the attack, runs the real ``gitrot check`` and asserts the
finding. The base's policy judges with the head's: what the pull request loosens does not
count until it is merged on its own, and the change to the policy is itself a finding
that names what changed. The last tests push straight to ``main`` and run ``gitrot
reconcile``: its re-check uses the same facts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from tests.check.conftest import (
    DAY,
    DB,
    HOUR,
    MAINTAINER,
    TICKET_RULE,
    PolicyRepo,
    ids,
    intent_path,
)
from tests.conftest import make_key
from tests.reconcile.conftest import intent_name
from tests.reconcile.helpers import run

if TYPE_CHECKING:
    from pathlib import Path

    from tests.reconcile.conftest import MakeRepo

INTENT = intent_path(DB)
TODAY = datetime.now(UTC).date()


def freeze_line(environments: str = "[prod]") -> str:
    return (
        f'  - {{from: "{TODAY - timedelta(days=1)}", to: "{TODAY + timedelta(days=1)}", '
        f"environments: {environments}}}\n"
    )


def messages(found: list[dict[str, object]], rule: str) -> str:
    return "\n".join(str(f["message"]) for f in found if f["rule_id"] == rule)


def severities(found: list[dict[str, object]], rule: str) -> set[object]:
    return {f["severity"] for f in found if f["rule_id"] == rule}


def waivers_file(rule: str, approver: str, expires: object, secrets: str = "payments/*") -> str:
    return (
        "apiVersion: gitrot/v1\nkind: Waivers\nwaivers:\n"
        f"  - rule: {rule}\n    secrets: {secrets}\n"
        '    reason: "CHG-77: the vendor needs this for the migration week"\n'
        f'    approver: {approver}\n    expires: "{expires}"\n'
    )


@pytest.fixture
def governed(policy: PolicyRepo) -> PolicyRepo:
    """``main`` names alice the policy owner and the waiver approver (dev may approve
    waivers too, to show the author's own approval never counts)."""
    policy.govern(owners=("alice",), approvers=("alice", "dev"))
    policy.commit("Name the policy owners", ago=25 * DAY, author=MAINTAINER)
    return policy


# -- the base's policy judges too -------------------------------------------------------------


def test_deleting_a_freeze_in_the_same_pr_as_a_rotation(governed: PolicyRepo) -> None:
    governed.edit("gitrot.yaml", "freezes: []\n", "freezes:\n" + freeze_line())
    governed.commit("Freeze prod over the release", ago=20 * DAY, author=MAINTAINER)
    governed.branch("pr")
    governed.edit("gitrot.yaml", "freezes:\n" + freeze_line(), "freezes: []\n")
    governed.rotate(DB)
    governed.commit("Rotate (and lift the freeze)", ago=HOUR)
    code, found = governed.check()
    assert code == 1 and ids(found) == ["freeze-window", "policy-changed"]
    assert "freeze" in messages(found, "policy-changed")
    assert "removed" in messages(found, "policy-changed")


@pytest.mark.parametrize("how", ["expr-true", "policy-paths-nowhere"])
def test_neutering_a_rule_file(governed: PolicyRepo, how: str) -> None:
    governed.write("policies/ticket.yaml", TICKET_RULE)
    governed.commit("Require tickets", ago=20 * DAY, author=MAINTAINER)
    governed.branch("pr")
    if how == "expr-true":
        governed.edit(
            "policies/ticket.yaml",
            "expr: intent.spec.reason.matches('[A-Z]+-[0-9]+')",
            "expr: 'true'",
        )
        what = "rule file policies/ticket.yaml changed: changed reason-names-a-ticket"
    else:
        governed.edit("gitrot.yaml", "  paths: [policies/]\n", "  paths: [nothing/]\n")
        what = "policy.paths changed: [policies/] -> [nothing/]"
    governed.rotate(DB, reason="Quarterly rotation")
    governed.commit("Rotate without a ticket", ago=HOUR)
    code, found = governed.check()
    assert code == 1 and ids(found) == ["policy-changed", "reason-names-a-ticket"]
    assert what in messages(found, "policy-changed")
    assert severities(found, "policy-changed") == {"warning"}  # alice approved: reviewed


def test_lowering_min_interval_with_a_second_rotation(governed: PolicyRepo) -> None:
    governed.rotate(DB)
    governed.commit("Rotate", ago=HOUR, author=MAINTAINER)
    governed.branch("pr")
    governed.edit(
        "gitrot.yaml",
        '    min_interval: 1d\n    source: "PCI',
        '    min_interval: 1m\n    source: "PCI',
    )
    governed.rotate(DB, reason="Rotate again for the new replica CHG-2300")
    governed.commit("Rotate again; a minute is enough between rotations", ago=HOUR // 2)
    code, found = governed.check()
    assert code == 1 and ids(found) == ["min-interval", "policy-changed"]
    assert "class 'database-password' changed: min_interval 1d -> 1m" in messages(
        found, "policy-changed"
    )


@pytest.mark.parametrize(
    ("approver", "expires", "problem"),
    [
        ("dev", TODAY + timedelta(days=7), "the pull request's author"),
        ("alice", "9999-12-31", "more than policy.max_waiver_days (90)"),
        ("mallory", TODAY + timedelta(days=7), "not in the base's policy.waiver_approvers"),
    ],
    ids=["approved-by-the-author", "expires-9999", "unknown-approver"],
)
def test_a_waiver_that_does_not_count(
    governed: PolicyRepo,
    monkeypatch: pytest.MonkeyPatch,
    approver: str,
    expires: object,
    problem: str,
) -> None:
    monkeypatch.setenv("GITROT_PR_APPROVALS", "alice,dev")
    governed.rotate(DB)
    governed.commit("Rotate", ago=HOUR, author=MAINTAINER)
    governed.branch("pr")
    governed.rotate(DB, reason="Rotate again for the new replica CHG-2300")
    governed.write("waivers.yaml", waivers_file("min-interval", approver, expires))
    governed.commit("Rotate again, with a waiver", ago=HOUR // 2)
    code, found = governed.check()
    assert code == 1
    assert "min-interval" in ids(found)
    waived = [f for f in found if f["rule_id"] == "min-interval"]
    assert waived[0]["severity"] == "error" and not waived[0].get("waived")
    bad = [f for f in found if f["rule_id"] in ("waiver-unapproved", "waiver-too-long")]
    assert bad and all((f["file"], f["line"]) == ("waivers.yaml", 4) for f in bad)
    assert problem in messages(found, bad[0]["rule_id"])


def test_a_good_waiver_counts(governed: PolicyRepo) -> None:
    governed.rotate(DB)
    governed.commit("Rotate", ago=HOUR, author=MAINTAINER)
    governed.branch("pr")
    governed.rotate(DB, reason="Rotate again for the new replica CHG-2300")
    governed.write("waivers.yaml", waivers_file("min-interval", "Alice", TODAY + timedelta(days=7)))
    governed.commit("Rotate again, with alice's waiver", ago=HOUR // 2)
    code, found = governed.check()
    assert code == 0 and ids(found) == ["min-interval", "policy-changed"]
    assert "waiver added: 'min-interval'" in messages(found, "policy-changed")


def test_waiving_recipients_known_after_removing_break_glass(
    policy: PolicyRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reconciler = policy.read("gitrot.yaml").split("reconciler: ", 1)[1].split("\n", 1)[0]
    glass = make_key(tmp_path, "break-glass.txt").recipient
    attacker = make_key(tmp_path, "attacker.txt").recipient
    policy.edit("gitrot.yaml", "recipients:\n", f"recipients:\n  break-glass: {glass}\n")
    policy.write(
        ".sops.yaml",
        policy.read(".sops.yaml").replace(
            f"      - {reconciler}\n", f"      - {reconciler}\n      - {glass}\n"
        ),
    )
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(policy.policy / ".gitrot" / "reconciler.key"))
    policy.gitrot("updatekeys", INTENT)
    policy.govern(owners=("alice",), approvers=("alice",))
    policy.commit("Add the break-glass key", ago=20 * DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.edit("gitrot.yaml", f"  break-glass: {glass}\n", "")
    policy.write(".sops.yaml", policy.read(".sops.yaml").replace(glass, attacker))
    policy.gitrot("updatekeys", INTENT)
    policy.write("waivers.yaml", waivers_file("recipients-known", "dev", TODAY + timedelta(days=7)))
    policy.commit("Swap the break-glass key", ago=HOUR)
    code, found = policy.check()
    assert code == 1
    assert {"recipients-required", "recipients-known", "waiver-unapproved"} <= set(ids(found))
    known = [f for f in found if f["rule_id"] == "recipients-known"]
    assert known[0]["severity"] == "error" and not known[0].get("waived")
    changed = messages(found, "policy-changed")
    assert "recipient 'break-glass' removed" in changed
    assert f".sops.yaml recipient added: {attacker}" in changed
    assert "waiver added: 'recipients-known'" in changed


def test_allowlisting_the_leaked_fingerprint_in_the_same_pr(governed: PolicyRepo) -> None:
    from gitrot.scan.detectors import fingerprint as keyed

    secret, salt = "Tr0ub4dor&3", "5eed" * 8
    fingerprint = keyed(secret, salt)
    governed.branch("pr")
    governed.write("deploy/config.yaml", f"password: {secret}\n")
    governed.write(
        ".gitrot-scan-allow.yaml",
        f"salt: {salt}\nallow:\n  - fingerprint: {fingerprint}\n    reason: only a test\n",
    )
    governed.commit("Add the config, allow its password", ago=HOUR)
    code, found = governed.check()
    assert code == 1 and ids(found) == ["plaintext-password", "policy-changed"]
    assert f"allowlist entry added: {fingerprint}" in messages(found, "policy-changed")
    for fmt in ("text", "json", "sarif", "github", "markdown", "junit"):
        result = governed.check_raw("--format", fmt)
        assert secret not in result.out and secret not in result.err


def test_a_command_trigger_and_a_consumer(
    governed: PolicyRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = "[sh, -c, 'cp .gitrot/reconciler.key /tmp/x; env > /tmp/y']"
    governed.branch("pr")
    governed.edit(
        "gitrot.yaml",
        "triggers: {}\n",
        f"triggers:\n  audit-log: {{type: command, argv: {argv}}}\n",
    )
    governed.edit(INTENT, "    consumers: []\n", "    consumers:\n        - audit-log\n")
    governed.commit("Tell the audit log", ago=HOUR)
    monkeypatch.setenv("GITROT_PR_APPROVALS", "")  # nobody approved yet
    code, found = governed.check()
    assert code == 1 and ids(found) == ["consumers-exist", "policy-changed"]
    (changed,) = [f for f in found if f["rule_id"] == "policy-changed"]
    assert changed["severity"] == "error" and changed["file"] == "gitrot.yaml"
    lines = governed.read("gitrot.yaml").splitlines()
    assert lines[changed["line"] - 1].startswith("  audit-log: ")
    assert "cp .gitrot/reconciler.key /tmp/x; env > /tmp/y" in changed["message"]
    assert "alice" in changed["hint"]
    # alice's approval makes it a reviewed change; the consumer still waits for the merge
    monkeypatch.setenv("GITROT_PR_APPROVALS", "alice")
    code, found = governed.check()
    assert code == 1 and ids(found) == ["consumers-exist", "policy-changed"]
    assert severities(found, "policy-changed") == {"warning"}


def test_a_policy_change_without_owners_is_an_error(policy: PolicyRepo) -> None:
    policy.branch("pr")
    policy.edit(
        "gitrot.yaml",
        '    min_interval: 1d\n    source: "PCI',
        '    min_interval: 2d\n    source: "PCI',
    )
    policy.commit("Rotate less often", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["policy-changed"]
    assert "policy.owners" in found[0]["hint"]


# -- new intents and moves ----------------------------------------------------------------------


def test_a_new_intent_at_version_4(governed: PolicyRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    governed.branch("pr")
    governed.new("payments/reports-key", rotation_class="api-key")
    governed.edit(intent_path("payments/reports-key"), "    version: 1\n", "    version: 4\n")
    governed.commit("Add the reports key", ago=HOUR)
    monkeypatch.setenv("GITROT_PR_APPROVALS", "bob")
    code, found = governed.check()
    assert code == 1 and ids(found) == ["version-start"]
    assert (found[0]["file"], found[0]["line"]) == (intent_path("payments/reports-key"), 10)
    assert "starts at spec.version 1, not 4" in found[0]["message"]
    monkeypatch.setenv("GITROT_PR_APPROVALS", "bob,alice")  # a policy owner approves
    code, found = governed.check()
    assert code == 0 and severities(found, "version-start") == {"warning"}


def test_prod_to_staging_with_a_rotation(
    governed: PolicyRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    governed.edit("gitrot.yaml", "freezes: []\n", "freezes:\n" + freeze_line())
    governed.commit("Freeze prod over the release", ago=20 * DAY, author=MAINTAINER)
    governed.branch("pr")
    governed.edit(INTENT, "    environment: prod\n", "    environment: staging\n")
    governed.rotate(DB)
    governed.commit("Move to staging; rotate", ago=HOUR)
    monkeypatch.setenv("GITROT_PR_APPROVALS", "")
    code, found = governed.check()
    assert code == 1
    assert ids(found) == ["approval-required", "environment-changed", "freeze-window"]
    assert "from prod to staging" in messages(found, "environment-changed")


def test_a_rename_does_not_dodge_intent_deleted(governed: PolicyRepo) -> None:
    governed.branch("pr")
    new_name = "payments/db-password-2026"
    text = governed.read(INTENT).replace(f"name: {DB}\n", f"name: {new_name}\n")
    governed.delete(INTENT)
    governed.write(intent_path(new_name), text)
    governed.commit("Rename the password", ago=HOUR)
    code, found = governed.check()
    assert code == 1 and ids(found) == ["intent-deleted"]
    assert found[0]["file"] == INTENT and "renames" in found[0]["message"]


# -- the PR facts -------------------------------------------------------------------------------


def test_missing_pr_facts_fail_closed(
    governed: PolicyRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITROT_PR_AUTHOR")
    monkeypatch.delenv("GITROT_PR_APPROVALS")
    governed.branch("pr")
    governed.edit(
        "gitrot.yaml",
        '    min_interval: 1d\n    source: "PCI',
        '    min_interval: 2d\n    source: "PCI',
    )
    governed.rotate(DB)
    governed.commit("Rotate; rotate less often", ago=HOUR)
    code, found = governed.check()
    assert code == 1 and ids(found) == ["approval-required", "policy-changed"]
    assert severities(found, "approval-required") == {"error"}
    assert severities(found, "policy-changed") == {"error"}
    assert all("GITROT_PR_AUTHOR" in f["hint"] for f in found)


def test_approvals_compare_case_insensitively(
    governed: PolicyRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    governed.branch("pr")
    governed.rotate(DB)
    governed.commit("Rotate", ago=HOUR)
    monkeypatch.setenv("GITROT_PR_AUTHOR", "Dev")
    monkeypatch.setenv("GITROT_PR_APPROVALS", "DEV")  # the author, in capitals
    code, found = governed.check()
    assert code == 1 and ids(found) == ["approval-required"]
    monkeypatch.setenv("GITROT_PR_APPROVALS", "ALICE")
    assert governed.check() == (0, [])


# -- after the merge: the reconciler's re-check -------------------------------------------------


def _reconcile(root: Path) -> tuple[int, dict[str, object], str]:
    done = run(root, "reconcile", "--format", "json")
    return done.returncode, json.loads(done.stdout or "{}"), done.stdout + done.stderr


def test_a_direct_push_jumping_versions_in_a_freeze_is_refused(make_repo: MakeRepo) -> None:
    repo = make_repo(2)
    assert run(repo.root, "reconcile").returncode == 0, "the first run applies version 1"
    config = repo.root / "gitrot.yaml"
    config.write_text(config.read_text().replace("freezes: []\n", "freezes:\n" + freeze_line("[]")))
    repo.commit("Freeze everything over the release")
    name = intent_name(0)
    repo.rotate(name)
    path = repo.root / "secrets" / f"{name}.yaml"
    path.write_text(path.read_text().replace("    version: 2\n", "    version: 5\n"))
    repo.pending[name] = 5
    repo.commit("Jump to version 5, straight on main")
    code, report, text = _reconcile(repo.root)
    assert code == 1, text
    refused = {r["name"]: r["reason"] for r in report["refused"]}  # type: ignore[union-attr]
    assert set(refused) == {name}
    assert "version-step" in refused[name] or "freeze-window" in refused[name]
    assert [v.version for v in repo.backend().versions(name)] == [1]
    assert not list(repo.root.glob(".gitrot/store/**/v5.*"))  # nothing written for it
    code, report, text = _reconcile(repo.root)  # a rerun refuses it again
    assert code == 1, text
    assert [v.version for v in repo.backend().versions(name)] == [1]


def test_a_waived_finding_that_passed_the_check_is_applied(make_repo: MakeRepo) -> None:
    repo = make_repo(2)
    assert run(repo.root, "reconcile").returncode == 0
    config = repo.root / "gitrot.yaml"
    config.write_text(config.read_text().replace("freezes: []\n", "freezes:\n" + freeze_line("[]")))
    waived, frozen = intent_name(0), intent_name(1)
    (repo.root / "waivers.yaml").write_text(
        waivers_file("freeze-window", "alice", TODAY + timedelta(days=3), secrets=waived)
    )
    repo.commit("Freeze, except the one service secret (CHG-77)")
    repo.rotate(waived)
    repo.rotate(frozen)
    repo.commit("Rotate both during the freeze, one waived")
    code, report, text = _reconcile(repo.root)
    assert code == 1, text
    refused = {r["name"]: r["reason"] for r in report["refused"]}  # type: ignore[union-attr]
    assert set(refused) == {frozen} and "freeze-window" in refused[frozen]
    assert [v.version for v in repo.backend().versions(waived)] == [1, 2]
    assert [v.version for v in repo.backend().versions(frozen)] == [1]
