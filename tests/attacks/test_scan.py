"""Scanner fingerprints are keyed with the repository's salt: the fingerprint of a short
password in the SARIF or JSON output cannot be matched by the unsalted SHA-256 of a guess,
and the allowlist keeps working."""

from __future__ import annotations

import hashlib
import json

from gitrot.scan.detectors import fingerprint
from tests.check.conftest import DAY, HOUR, MAINTAINER, PolicyRepo, ids

PASSWORD = "hunter2!"


def test_a_short_password_fingerprint_is_keyed_and_the_allowlist_keeps_working(
    policy: PolicyRepo,
) -> None:
    assert policy.run("scan", "--init").code == 0
    text = policy.read(".gitrot-scan-allow.yaml")
    salt = text.split("salt: ")[1].split()[0]
    policy.commit("The scan allowlist, with its salt", ago=DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.write("deploy/config.yaml", f"password: {PASSWORD}\n")
    policy.commit("Add the test fixture's password", ago=2 * HOUR)
    unsalted = hashlib.sha256(PASSWORD.encode()).hexdigest()
    code, found = policy.check()
    assert code == 1 and ids(found) == ["plaintext-password"]
    mark = str(found[0]["fingerprint"])
    assert mark == fingerprint(PASSWORD, salt) and mark.startswith("hmac:")
    for fmt in ("json", "sarif", "text", "github"):
        out = policy.check_raw("--format", fmt).out
        assert unsalted[:16] not in out and PASSWORD not in out, fmt
    scanned = policy.run("scan", "--format", "json", "deploy/config.yaml")
    assert json.loads(scanned.out)[0]["fingerprint"] == mark  # stable in the repository
    assert unsalted[:16] not in scanned.out
    # the fingerprint of `gitrot scan` allowlisted on main is accepted by the PR check
    policy.checkout("main")
    policy.write(
        ".gitrot-scan-allow.yaml",
        text.replace("allow: []", f"allow:\n  - fingerprint: {mark}\n    reason: test fixture\n"),
    )
    policy.commit("Allow the fixture's password", ago=DAY - HOUR, author=MAINTAINER)
    policy.checkout("pr")
    policy.merge("main", ago=HOUR)
    code, found = policy.check()
    assert code == 0, found
