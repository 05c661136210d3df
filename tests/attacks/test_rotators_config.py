"""Rotators cannot be turned against another secret or made to leak (issue 14).

A rotator's options (the role, the program) live in gitrot.yaml, judged with the base's
policy; an intent only names one. So a pull request cannot point its intent's source at
the rotator that serves another team's secret (``rotator-shared``), nor at one that does
not exist (``rotator-exists``), nor change a rotator unreviewed (``policy-changed``), nor
smuggle a credential into gitrot.yaml; and the command rotator never shows the value it
sets. Each test runs the real ``gitrot check`` (or the rotator on real programs).
"""

from __future__ import annotations

import base64
import os
import sys
import tempfile
from pathlib import Path

import pytest

from gitrot.core.ports import RotatorContext
from gitrot.core.secret import SecretValue
from gitrot.errors import RotatorError
from gitrot.rotators.registry import open_rotator
from gitrot.triggers.redact import variants
from tests.check.conftest import API, DAY, DB, HOUR, MAINTAINER, PolicyRepo, ids, intent_path

ROTATORS = (
    "triggers: {}\nrotators:\n"
    "  payments-db: {type: command, set: [./rotate-db, set], test: [./rotate-db, test]}\n"
    "  search-api: {type: command, set: [./rotate-api, set], test: [./rotate-api, test]}\n"
)


def names(intent: str, rotator: str) -> tuple[str, str]:
    return "    consumers: []\n", f"    consumers: []\n    source:\n        rotator: {rotator}\n"


@pytest.fixture
def sourced(policy: PolicyRepo) -> PolicyRepo:
    """``main``: the payments database password rotated by ``payments-db``, the search api
    key with no rotator yet; alice owns the policy."""
    policy.govern(owners=("alice",))
    policy.edit("gitrot.yaml", "triggers: {}\n", ROTATORS)
    policy.edit(intent_path(DB), *names(DB, "payments-db"))
    policy.new(API, environment="dev", rotation_class="api-key")
    policy.commit("Rotate the payments database at its source", ago=25 * DAY, author=MAINTAINER)
    return policy


def finding(found: list[dict[str, object]], rule: str) -> dict[str, object]:
    (only,) = [f for f in found if f["rule_id"] == rule]
    return only


def test_naming_the_rotator_of_another_secret_is_refused(sourced: PolicyRepo) -> None:
    sourced.branch("pr")
    sourced.edit(intent_path(API), *names(API, "payments-db"))
    sourced.commit("Rotate the search key with the database's rotator", ago=HOUR)
    code, found = sourced.check()
    assert code == 1 and ids(found) == ["rotator-shared"]
    shared = finding(found, "rotator-shared")
    assert shared["file"] == intent_path(API) and shared["severity"] == "error"
    line = sourced.read(intent_path(API)).splitlines()[int(str(shared["line"])) - 1]
    assert line.strip() == "rotator: payments-db"
    assert shared["message"] == (
        f"spec.source.rotator 'payments-db' is the source of {intent_path(DB)} already: "
        "a rotator's source belongs to one secret"
    )
    # naming its own rotator passes
    sourced.edit(intent_path(API), "rotator: payments-db", "rotator: search-api")
    sourced.commit("Its own rotator", ago=HOUR // 2)
    assert sourced.check() == (0, [])


def test_a_second_intent_naming_a_rotator_in_the_work_tree(sourced: PolicyRepo) -> None:
    """``gitrot validate`` of every file: the second intent by path is refused."""
    sourced.edit(intent_path(API), *names(API, "payments-db"))
    result = sourced.run("validate", "--format", "json")
    assert result.code == 1
    assert "rotator-shared" in result.out and intent_path(API) in result.out
    # only the staged intent: the other one is read to find the conflict
    result = sourced.run("validate", "--format", "json", intent_path(API))
    assert result.code == 1 and "rotator-shared" in result.out


def test_naming_an_undeclared_rotator_is_refused(sourced: PolicyRepo) -> None:
    sourced.branch("pr")
    sourced.edit(intent_path(API), *names(API, "prod-admin"))
    sourced.commit("A rotator nobody declared", ago=HOUR)
    code, found = sourced.check()
    assert code == 1 and ids(found) == ["rotator-exists"]
    assert finding(found, "rotator-exists")["message"] == (
        "spec.source.rotator 'prod-admin' is not a rotator in gitrot.yaml"
    )


def test_repointing_a_rotator_is_a_policy_change(
    sourced: PolicyRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    sourced.branch("pr")
    sourced.edit("gitrot.yaml", "set: [./rotate-db, set]", "set: [./rotate-admin, set]")
    sourced.commit("Point the rotator at the admin role", ago=HOUR)
    monkeypatch.setenv("GITROT_PR_APPROVALS", "")
    code, found = sourced.check()
    assert code == 1 and ids(found) == ["policy-changed"]
    assert "rotate-admin" in str(finding(found, "policy-changed")["message"])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "test: [./rotate-db, test]}",
            "test: [./rotate-db, test], admin_password: Hunter2-LiteralPassw0rd}",
        ),
        ("set: [./rotate-db, set]", "set: [./rotate-db, --password=Hunter2-LiteralPassw0rd]"),
        (
            "test: [./rotate-db, test]}",
            "test: [./rotate-db, test], auth: {db_token: Hunter2-LiteralPassw0rd}}",
        ),
    ],
)
def test_a_password_literal_in_a_rotator_is_refused(
    sourced: PolicyRepo, old: str, new: str
) -> None:
    sourced.branch("pr")
    sourced.edit("gitrot.yaml", old, new)
    sourced.commit("Give the rotator its password", ago=HOUR)
    result = sourced.check_raw("--format", "json")
    assert result.code == 1
    assert "Hunter2-LiteralPassw0rd" not in result.out + result.err
    _, found = sourced.check()
    refused = [f for f in found if f["rule_id"] == "schema"]
    assert refused and refused[0]["file"] == "gitrot.yaml"
    line = sourced.read("gitrot.yaml").splitlines()[int(str(refused[0]["line"])) - 1]
    assert line.startswith("  payments-db:")
    assert "credential" in str(refused[0]["message"])


# -- the command rotator never shows the value --------------------------------------------------

VALUE = "Xq7-Leak-Me-Not-9fK2pL5vR8tW"
LEAKY = f"""#!{sys.executable}
import base64, os, sys, urllib.parse
value = sys.stdin.readline().rstrip("\\n")
with open(os.path.join(os.environ["HOME"], "copy"), "w") as f:
    f.write(value)
print("trying", value)
print("as base64", base64.b64encode(value.encode()).decode())
print("as url", urllib.parse.quote(value))
print("postgres://app:" + value + "@db/app")
sys.stderr.write("FATAL: password authentication failed: " + value[::-1] + value[:10] + "\\n")
sys.exit(1)
"""


def test_the_command_rotator_never_leaks_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "policy"
    root.mkdir()
    private = tmp_path / "tmp"  # this test's temp folder: other workers' rotators run too
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    script = root / "rotate"
    script.write_text(LEAKY)
    script.chmod(0o755)

    def read_secret(name: str) -> SecretValue:
        raise AssertionError(name)

    context = RotatorContext(name="app/db", version=3, root=str(root), read_secret=read_secret)
    rotator = open_rotator("leaky", "command", {"set": ["./rotate"], "test": ["./rotate"]}, context)
    before = set(os.listdir(tempfile.gettempdir()))
    for step in ("set", "test"):
        with pytest.raises(RotatorError) as caught:
            if step == "set":
                rotator.set(SecretValue(VALUE), None)
            else:
                rotator.test(SecretValue(VALUE))
        shown = f"{caught.value}\n{caught.value.hint}\n{caught.value!r}"
        assert caught.value.step == step
        assert caught.value.message.startswith(f"rotator leaky (command) failed at {step}: exit 1")
        for variant in variants(VALUE):
            assert variant not in shown
        assert VALUE[:10] not in shown and base64.b64encode(VALUE.encode()).decode() not in shown
    # the folder it wrote its copy in is gone; nothing of it is left in the temp folder
    left = set(os.listdir(tempfile.gettempdir())) - before
    assert not [name for name in left if name.startswith("gitrot-rotator-")]
