"""``gitrot check``: what the change gives the pipeline when its files are odd (no or a broken
gitrot.yaml at the head, links, binary files, a single rule file, waivers the base has or
removed), each asserted on the findings, their place and the exit code."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pygit2
import pytest

from tests.check.conftest import (
    DAY,
    DB,
    HOUR,
    MAINTAINER,
    TICKET_RULE,
    PolicyRepo,
    ids,
    make_policy,
)

TODAY = datetime.now(UTC).date()
TOKEN = "ghp_" + "Zq7Lm2Xc9Vb4Nn8Kd1Rt6Yw3Pf5Hs0Ja2Ge9"  # a GitHub token's shape, made up


def waiver(rule: str, expires: object) -> str:
    return (
        "apiVersion: gitrot/v1\nkind: Waivers\nwaivers:\n"
        f"  - rule: {rule}\n    secrets: payments/*\n"
        '    reason: "CHG-77: the vendor needs a second rotation this week"\n'
        f'    approver: alice\n    expires: "{expires}"\n'
    )


def test_a_head_without_gitrot_yaml_is_not_a_policy_repository(policy: PolicyRepo) -> None:
    policy.branch("pr")
    policy.delete("gitrot.yaml")
    policy.write("notes.md", f"token: {TOKEN}\n")
    policy.commit("Drop the policy", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["github-token", "schema"]
    schema = next(f for f in found if f["rule_id"] == "schema")
    assert (schema["file"], schema["line"]) == ("gitrot.yaml", 0)
    assert schema["message"] == (
        "the head has no gitrot.yaml: it is not a gitrot policy repository"
    )
    token = next(f for f in found if f["rule_id"] == "github-token")
    assert (token["file"], token["line"]) == ("notes.md", 1) and TOKEN not in str(found)


def test_a_broken_gitrot_yaml_at_the_head_is_a_finding_at_its_line(policy: PolicyRepo) -> None:
    policy.branch("pr")
    policy.write("gitrot.yaml", policy.read("gitrot.yaml") + "backends: [\n")
    policy.commit("Break the policy", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["schema"]
    assert found[0]["file"] == "gitrot.yaml" and found[0]["line"] > 0


def test_gitrot_yaml_as_a_symbolic_link_is_refused(policy: PolicyRepo) -> None:
    policy.branch("pr")
    os.rename(policy.policy / "gitrot.yaml", policy.policy / "real.yaml")
    os.symlink("real.yaml", policy.policy / "gitrot.yaml")
    policy.commit("Link the policy", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and "schema" in ids(found)
    schema = next(f for f in found if f["file"] == "gitrot.yaml")
    assert "symbolic link" in schema["message"]


def test_links_and_binary_files_are_not_scanned(policy: PolicyRepo) -> None:
    policy.branch("pr")
    os.symlink(TOKEN, policy.policy / "link")  # the link's blob is the token
    (policy.policy / "blob.bin").write_bytes(b"\0\1" + TOKEN.encode() + b"\0")
    policy.commit("Add a link and a binary file", ago=HOUR)
    assert policy.check() == (0, [])


def test_a_rule_file_named_directly_in_policy_paths_judges(policy: PolicyRepo) -> None:
    policy.write("checks/ticket.yaml", TICKET_RULE)
    policy.edit(
        "gitrot.yaml", "  paths: [policies/]\n", "  paths: [policies/, checks/ticket.yaml]\n"
    )
    policy.commit("Require a ticket", ago=DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.rotate(DB, reason="Quarterly rotation, no ticket")
    policy.commit("Rotate", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["reason-names-a-ticket"]


def test_a_waivers_file_that_is_not_utf8_is_invalid(policy: PolicyRepo) -> None:
    policy.branch("pr")
    (policy.policy / "waivers.yaml").write_bytes(b"waivers: \xff\xfe\n")
    policy.commit("Garble the waivers", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and "waiver-invalid" in ids(found)
    invalid = next(f for f in found if f["rule_id"] == "waiver-invalid")
    assert invalid["message"] == "the waivers file is not UTF-8 text"


@pytest.fixture
def waived(policy: PolicyRepo) -> PolicyRepo:
    """``main`` waives ``min-interval`` for a week (alice owns the policy) and rotated the
    password an hour ago; ``pr`` branches there."""
    policy.govern(owners=("alice",), approvers=("alice",))
    policy.write("waivers.yaml", waiver("min-interval", TODAY + timedelta(days=7)))
    policy.commit("Waive the min interval", ago=2 * HOUR, author=MAINTAINER)
    policy.rotate(DB)
    policy.commit("Rotate", ago=HOUR, author=MAINTAINER)
    policy.branch("pr")
    return policy


def test_a_waiver_the_base_has_counts(waived: PolicyRepo) -> None:
    waived.rotate(DB, reason="Rotate again for the new replica CHG-2300")
    waived.commit("Rotate again", ago=HOUR // 2)
    code, found = waived.check()
    assert code == 0 and ids(found) == ["min-interval"]
    assert found[0]["waived"].startswith("waived by alice until")


def test_a_waiver_the_base_removed_since_no_longer_counts(waived: PolicyRepo) -> None:
    waived.checkout("main")
    waived.write("waivers.yaml", "apiVersion: gitrot/v1\nkind: Waivers\nwaivers: []\n")
    waived.commit("The vendor is done: drop the waiver", ago=HOUR // 2, author=MAINTAINER)
    waived.checkout("pr")
    waived.rotate(DB, reason="Rotate again for the new replica CHG-2300")
    waived.commit("Rotate again", ago=HOUR // 3)
    code, found = waived.check()
    assert code == 1 and ids(found) == ["min-interval"]
    assert "waived" not in found[0] or not found[0]["waived"]


def test_a_commit_message_finding_in_a_policy_folder_keeps_no_path(
    gitrot, tmp_path, monkeypatch: pytest.MonkeyPatch, pr_facts: None
) -> None:
    """Files are named from the top of the git tree; a commit message has no file."""
    top = tmp_path / "monorepo"
    pygit2.init_repository(str(top), initial_head="main")
    make_policy(gitrot, top / "policy", monkeypatch)
    repo = PolicyRepo(top, gitrot, prefix="policy")
    repo.commit("Start", ago=DAY, author=MAINTAINER)
    repo.branch("pr")
    repo.write("notes.md", "no secrets here\n")
    repo.commit(f"Add notes\n\nthe token was {TOKEN}", ago=HOUR)
    code, found = repo.check()
    assert code == 1 and [(f["rule_id"], f["file"], f["line"]) for f in found] == [
        ("github-token", "", 0)
    ]
    assert found[0]["message"].startswith("commit ") and TOKEN not in str(found)
