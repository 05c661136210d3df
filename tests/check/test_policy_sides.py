"""``gitrot check`` when a side's policy is partial: a base without gitrot.yaml or with a
broken one, a head without one, a policy without waivers or ``.sops.yaml``
(:mod:`gitrot.judge.sides`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.check.conftest import DB, HOUR, MAINTAINER, PolicyRepo, Run, ids, make_policy
from tests.check.test_scenarios import fingerprint, github_token

SALT = "5eed" * 8


@pytest.fixture
def bare(
    gitrot: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pr_facts: None
) -> PolicyRepo:
    """``gitrot init`` with nothing committed yet."""
    return make_policy(gitrot, tmp_path / "policy", monkeypatch)


@pytest.mark.parametrize("base", ["missing", "broken"])
def test_a_pr_that_gives_the_base_its_gitrot_yaml_is_judged_by_the_head(
    bare: PolicyRepo, base: str
) -> None:
    config = bare.read("gitrot.yaml")
    if base == "missing":
        bare.delete("gitrot.yaml")
    else:
        bare.write("gitrot.yaml", "apiVersion: gitrot/v1\nkind: Config\nbackends: [\n")
    bare.commit("Start the repository", author=MAINTAINER)
    bare.branch("pr")
    bare.write("gitrot.yaml", config)
    bare.new(DB)
    bare.commit("The policy and the payments database password", ago=HOUR)
    assert bare.check() == (0, [])
    # the head's rules judge it: an intent that breaks one fails
    bare.edit(f"secrets/{DB}.yaml", "    owner: team-a\n", "    owner: ''\n")
    bare.commit("Drop the owner", ago=HOUR)
    code, found = bare.check()
    assert code == 1 and ids(found) == ["schema"]
    assert found[0]["file"] == f"secrets/{DB}.yaml"


def test_a_head_without_gitrot_yaml_is_scanned_with_the_base_allowlist(
    policy: PolicyRepo,
) -> None:
    token = github_token()
    policy.write(
        ".gitrot-scan-allow.yaml",
        f"salt: {SALT}\nallow:\n  - fingerprint: {fingerprint(token, SALT)}\n"
        "    reason: the revoked token of the CI documentation\n",
    )
    policy.commit("Allow the documented test token", author=MAINTAINER)
    policy.branch("pr")
    policy.delete("gitrot.yaml")
    policy.write("notes.md", f"token: {token}\n")
    policy.commit("Drop the policy", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["schema"]  # the token is allowed by the base
    assert found[0]["message"] == (
        "the head has no gitrot.yaml: it is not a gitrot policy repository"
    )


def test_a_policy_without_waivers_or_sops_config_judges_its_intents(
    bare: PolicyRepo,
) -> None:
    bare.edit("gitrot.yaml", "  waivers: waivers.yaml\n", "")
    bare.delete("waivers.yaml")
    bare.new(DB)
    bare.commit("No waivers", ago=30 * 24 * HOUR, author=MAINTAINER)
    bare.branch("pr")
    bare.rotate(DB)
    bare.delete(".sops.yaml")
    bare.commit("Rotate the payments database password, drop the creation rules", ago=HOUR)
    code, found = bare.check()
    assert code == 1 and ids(found) == ["policy-changed", "policy-changed"]
    recipient = bare.read("gitrot.yaml").split("reconciler: ")[1].split()[0]
    assert [(f["file"], f["message"]) for f in found] == [
        (".sops.yaml", "policy change: .sops.yaml creation rules changed (path_regex now: none)"),
        (".sops.yaml", f"policy change: .sops.yaml recipient removed: {recipient}"),
    ]
