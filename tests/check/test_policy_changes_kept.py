"""``policy-changed`` names only what changed: a freeze or an allowlist entry kept beside a
new one is not named, a file whose content stays is no change, and a ``.sops.yaml`` the
change adds names its recipients (:mod:`gitrot.judge.policy_diff`)."""

from __future__ import annotations

import os

from tests.check.conftest import DAY, HOUR, MAINTAINER, PolicyRepo
from tests.check.test_policy_changes import changes
from tests.check.test_scenarios import SALT

KEPT = '  - {from: "2030-12-20", to: "2031-01-05"}\n'
ADDED = '  - {from: "2031-07-01", to: "2031-07-14", environments: [prod]}\n'
FINGERPRINTS = ("hmac:" + "1" * 16, "hmac:" + "2" * 16)


def test_a_freeze_kept_beside_a_new_one_is_not_named(policy: PolicyRepo) -> None:
    policy.edit("gitrot.yaml", "freezes: []\n", "freezes:\n" + KEPT)
    policy.commit("Freeze the holidays", ago=DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.edit("gitrot.yaml", KEPT, KEPT + ADDED)
    policy.commit("Freeze the summer too", ago=HOUR)
    assert list(changes(policy)) == ["freeze 2031-07-01..2031-07-14 (prod) added"]


def test_an_allowlist_entry_kept_beside_a_new_one_is_not_named(policy: PolicyRepo) -> None:
    def entry(fingerprint: str, reason: str) -> str:
        return f"  - fingerprint: {fingerprint}\n    reason: {reason}\n"

    kept = entry(FINGERPRINTS[0], "the throwaway test database")
    policy.write(".gitrot-scan-allow.yaml", f"salt: {SALT}\nallow:\n{kept}")
    policy.commit("Allow the test database's password", ago=DAY, author=MAINTAINER)
    policy.branch("pr")
    added = entry(FINGERPRINTS[1], "the revoked CI token")
    policy.write(".gitrot-scan-allow.yaml", f"salt: {SALT}\nallow:\n{kept}{added}")
    policy.commit("Allow the revoked token", ago=HOUR)
    assert changes(policy) == {
        f"allowlist entry added: {FINGERPRINTS[1]} (the revoked CI token)": (
            ".gitrot-scan-allow.yaml",
            5,
        )
    }


def test_a_policy_file_whose_content_stays_is_no_change(policy: PolicyRepo) -> None:
    policy.branch("pr")
    os.chmod(policy.policy / "gitrot.yaml", 0o755)  # noqa: S103 - a mode change only
    policy.commit("Make the policy executable", ago=HOUR)
    code, found = policy.check()
    assert code == 0 and not [f for f in found if f["rule_id"] == "policy-changed"]


def test_a_sops_config_the_change_adds_names_its_recipients(policy: PolicyRepo) -> None:
    text = policy.read(".sops.yaml")
    policy.delete(".sops.yaml")
    policy.commit("No creation rules yet", ago=DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.write(".sops.yaml", text)
    policy.commit("Creation rules", ago=HOUR)
    recipient = policy.read("gitrot.yaml").split("reconciler: ")[1].split()[0]
    found = changes(policy)
    line = next(n for n, t in enumerate(text.split("\n"), start=1) if recipient in t)
    assert found[f".sops.yaml recipient added: {recipient}"] == (".sops.yaml", line)
    assert any(m.startswith(".sops.yaml creation rules changed (path_regex now: ") for m in found)
