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


def test_a_pull_request_cannot_slip_a_secret_past_the_scanner_in_a_form_it_did_not_read(
    policy: PolicyRepo,
) -> None:
    """Issue 16: connection strings, passwords in code, XML and .netrc, and base64 in a
    Kubernetes Secret or a Docker config are findings of the PR check at their file and
    line; no output format holds the value, its base64 or its hex."""
    import base64
    import random
    import string

    rng = random.Random(16)
    value = "Qz8" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(13))
    encoded = base64.b64encode(value.encode()).decode()
    auth = base64.b64encode(f"u:{value}".encode()).decode()
    docker = json.dumps({"auths": {"r.io": {"auth": auth}}})
    policy.branch("pr")
    policy.write("deploy/.env", f"DATABASE_URL=postgres://app:{value}@db:5432/app\n")
    policy.write("src/Db.java", f'class Db {{ void c() {{ ds.setPassword("{value}"); }} }}\n')
    policy.write("conf/web.config", f'<add key="DbPassword" value="{value}" />\n')
    policy.write("conf/netrc", f"machine api.internal login ci password {value}\n")
    secret = f"apiVersion: v1\nkind: Secret\ndata:\n  password: {encoded}\n"
    policy.write("k8s/secret.yaml", secret)
    pull = "apiVersion: v1\nkind: Secret\ndata:\n  .dockerconfigjson: "
    policy.write("k8s/pull.yaml", pull + base64.b64encode(docker.encode()).decode() + "\n")
    policy.commit("Wire the database", ago=2 * HOUR)
    code, found = policy.check()
    assert code == 1
    where = sorted((str(f["rule_id"]), str(f["file"]), f["line"]) for f in found)
    assert where == [
        ("connection-string", "deploy/.env", 1),
        ("high-entropy-secret", "conf/netrc", 1),
        ("high-entropy-secret", "conf/web.config", 1),
        ("high-entropy-secret", "k8s/pull.yaml", 4),
        ("high-entropy-secret", "k8s/secret.yaml", 4),
        ("high-entropy-secret", "src/Db.java", 1),
    ], where
    for fmt in ("json", "sarif", "text", "github", "junit", "markdown"):
        out = policy.check_raw("--format", fmt).out
        for form in (value, encoded, value.encode().hex()):
            assert form not in out, fmt
