"""``gitrot validate`` (the work tree, before the commit) and ``gitrot check`` (the change,
after it) are one pipeline: the same edit gives the same finding, at the same place, with the
same message, from both."""

from __future__ import annotations

import json

import pytest

from tests.check.conftest import DAY, DB, HOUR, MAINTAINER, PolicyRepo, ids, intent_path

INTENT = intent_path(DB)
SEALED_V2 = f"secrets/{DB}.v2.sealed.yaml"
BROKEN_SOPS = "creation_rules: [this is not, a list of rules\n"


def validate(policy: PolicyRepo, *files: str) -> tuple[int, list[dict[str, object]]]:
    result = policy.run("validate", "--format", "json", *files)
    assert result.code in (0, 1), result.err
    return result.code, json.loads(result.out)


def where(finding: dict[str, object]) -> tuple[object, ...]:
    return (finding["rule_id"], finding["file"], finding["line"], finding["message"])


@pytest.fixture
def sealed(policy: PolicyRepo) -> PolicyRepo:
    """``main`` with version 2 of the password sealed 10 days ago; on branch ``pr``."""
    policy.rotate(DB, reason="Vendor issued a new password", value="vendor-pass-4e1f9a")
    policy.commit("Seal the vendor's password", ago=10 * DAY, author=MAINTAINER)
    policy.branch("pr")
    return policy


def test_an_edited_sealed_value_is_one_finding_before_and_after_the_commit(
    sealed: PolicyRepo,
) -> None:
    sealed.edit(SEALED_V2, "    version: 2\n", "    version: 2\n# edited\n")
    code, before = validate(sealed, SEALED_V2)
    assert code == 1 and ids(before) == ["sealed-immutable"]
    sealed.commit("Touch the sealed value", ago=HOUR)
    code, after = sealed.check()
    assert code == 1 and [where(f) for f in after] == [where(f) for f in before]
    assert before[0]["file"] == SEALED_V2 and before[0]["line"] == 1
    assert before[0]["message"] == (
        f"the change modifies {SEALED_V2}, a committed sealed value: its version may "
        "already be applied"
    )
    assert "vendor-pass" not in json.dumps([before, after])


def test_an_unchanged_or_deleted_sealed_value_passes_validate(sealed: PolicyRepo) -> None:
    assert validate(sealed, SEALED_V2) == (0, [])
    assert validate(sealed) == (0, [])  # the whole repository, committed as it is
    sealed.delete(SEALED_V2)  # the PR check judges deletions; the loader names the file
    code, found = validate(sealed, SEALED_V2)
    assert code == 1 and ids(found) == ["schema"] and "no such file" in found[0]["message"]


def test_a_broken_sops_config_is_reported_by_both(policy: PolicyRepo) -> None:
    policy.branch("pr")
    policy.write(".sops.yaml", BROKEN_SOPS)
    policy.rotate(DB)
    code, before = validate(policy, INTENT)
    assert code == 1 and [f["file"] for f in before if f["file"] == ".sops.yaml"]
    sops_before = [where(f) for f in before if f["file"] == ".sops.yaml"]
    policy.commit("Rotate, and break .sops.yaml", ago=HOUR)
    code, after = policy.check()
    assert code == 1
    assert [where(f) for f in after if f["file"] == ".sops.yaml" and f["rule_id"] == "schema"] == (
        sops_before
    )


def test_a_waiver_of_a_change_check_is_valid_in_validate_too(policy: PolicyRepo) -> None:
    """The ids a waiver may name are the same in both: a waiver of ``version-start`` is
    not reported invalid by the hook."""
    waivers = policy.read("waivers.yaml")
    entry = (
        "  - rule: version-start\n    secrets: ['payments/*']\n    reason: a vendor-issued "
        "start CHG-1\n    approver: alice\n    expires: '2999-01-01'\n"
    )
    policy.write("waivers.yaml", waivers.replace("waivers: []\n", "waivers:\n") + entry)
    code, found = validate(policy, "waivers.yaml")
    assert "waiver-invalid" not in ids(found), found
    assert (code, ids(found)) == (0, ["waiver-unused"])
