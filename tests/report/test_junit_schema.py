"""``--format junit`` as the CI servers take it: ``xmllint --schema junit-10.xsd`` (Jenkins'
schema, what pytest's ``xunit2`` writes; vendored in tests/fixtures/junit/) on the reports of
``gitrot validate`` and ``gitrot check`` over real policy repositories, and counts that agree
with the test cases (GitLab counts test cases, and keeps one per classname and name).

``make test`` installs xmllint and sets ``GITROT_REQUIRE_TOOLS=1``: then a missing xmllint
fails these tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import string
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.check.conftest import (
    DB,
    HOUR,
    MAINTAINER,
    PolicyRepo,
    intent_path,
    policy,
    pr_facts,
)
from tests.conftest import FIXTURES, Result

__all__ = ["policy", "pr_facts"]

XSD = FIXTURES / "junit" / "junit-10.xsd"
XMLLINT = shutil.which("xmllint")
# read at import: the autouse isolated_home fixture removes GITROT_* from each test's environment
REQUIRED = os.environ.get("GITROT_REQUIRE_TOOLS") == "1"
TODAY = datetime.now(UTC).date()
INTENT = intent_path(DB)
# made up at run time (seeded: the same every run), so the project's own secret scan finds
# nothing in this file
RANDOM = random.Random(1729)
TOKENS = [
    "ghp_" + "".join(RANDOM.choices(string.ascii_letters + string.digits, k=36)) for _ in "ab"
]
PASSWORD = "Tr0ub4dor&3-" + "".join(RANDOM.choices(string.ascii_letters, k=8))


def xmllint(path: Path) -> None:
    """``xmllint --noout --schema junit-10.xsd PATH`` must pass."""
    if XMLLINT is None:
        message = "xmllint is missing: `make test` installs it (Debian's libxml2-utils)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [XMLLINT, "--noout", "--schema", str(XSD), str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def consumed(report: Path, json_findings: list[dict[str, Any]], clean_files: int) -> ET.Element:
    """Check the report as a CI server would; its one ``<testsuite>``."""
    xmllint(report)
    root = ET.fromstring(report.read_text())  # noqa: S314 (gitrot's own output)
    assert root.tag == "testsuites" and root.get("skipped") is None
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    outcome = Counter(child.tag for case in cases for child in case)
    assert all(len(list(case)) <= 1 for case in cases)  # one failure (or other) per test case
    assert all(case.get("file") is None for case in cases)
    keys = [(case.get("classname"), case.get("name")) for case in cases]
    assert len(set(keys)) == len(keys)  # GitLab keeps only the first of a repeated name
    for element in (root, suite):
        assert element.get("tests") == str(len(cases))
        assert element.get("failures") == str(outcome["failure"])
        assert element.get("errors") == "0"
    assert suite.get("skipped") == str(outcome["skipped"])
    failing = [f for f in json_findings if f["severity"] == "error" and not f["waived"]]
    assert outcome["failure"] == len(failing)
    assert outcome["skipped"] == sum(1 for f in json_findings if f["waived"])
    assert len(cases) == len(json_findings) + clean_files
    return suite


def names(suite: ET.Element) -> list[str]:
    return [str(case.get("name")) for case in suite.findall("testcase")]


# -- gitrot validate ----------------------------------------------------------------------


def validate(repo: PolicyRepo, *args: str) -> tuple[Result, Path, list[dict[str, Any]]]:
    report = repo.root.parent / "validate-junit.xml"
    result = repo.run("validate", "--format", "junit", "--output", str(report), *args)
    found = json.loads(repo.run("validate", "--format", "json", *args).out)
    return result, report, found


def test_validate_with_no_findings(policy: PolicyRepo) -> None:
    result, report, found = validate(policy)
    assert result.code == 0 and found == []
    suite = consumed(report, found, clean_files=2)
    assert names(suite) == ["gitrot.yaml", INTENT]


def test_validate_with_several_findings_in_one_file_and_a_waived_one(policy: PolicyRepo) -> None:
    policy.edit(
        "gitrot.yaml", "database-password:\n    max_age: 90d", "database-password:\n    max_age: 7d"
    )
    policy.edit(".sops.yaml", "encrypted_regex: ^ref$", "encrypted_regex: ^(ref|owner|name)$")
    policy.write(
        "waivers.yaml",
        "apiVersion: gitrot/v1\nkind: Waivers\nwaivers:\n"
        "  - rule: max-age\n    secrets: payments/*\n"
        "    reason: CHG-77 the vendor takes a new password only after the migration\n"
        f'    approver: alice@example.com\n    expires: "{TODAY + timedelta(days=30)}"\n',
    )
    result, report, found = validate(policy, "--context", "scheduled")
    assert result.code == 1, result.err
    rules = Counter(f["rule_id"] for f in found if f["file"] == INTENT)
    assert rules["creation-rule-encrypted"] >= 2 and rules["max-age"] == 1
    assert [f["rule_id"] for f in found if f["waived"]] == ["max-age"]
    suite = consumed(report, found, clean_files=1)
    skipped = [case for case in suite.findall("testcase") if case.find("skipped") is not None]
    assert [case.get("name") for case in skipped] == [f"{INTENT}:10:5 [max-age]"]
    failure = suite.find("testcase/failure")
    assert failure is not None and f"{INTENT}:" in (failure.text or "")  # the place, in the text


# -- gitrot check ---------------------------------------------------------------------------


def check(repo: PolicyRepo) -> tuple[Result, Path, list[dict[str, Any]]]:
    report = repo.root.parent / "check-junit.xml"
    result = repo.check_raw("--format", "junit", "--output", str(report))
    code, found = repo.check()
    assert code == result.code
    return result, report, found


def test_check_with_no_findings(policy: PolicyRepo) -> None:
    policy.branch("pr")
    policy.rotate(DB)
    policy.commit("Rotate the database password", ago=HOUR)
    result, report, found = check(policy)
    assert result.code == 0 and found == []
    suite = consumed(report, found, clean_files=1)
    assert names(suite) == [INTENT]


def test_check_with_commit_message_findings_repeats_and_a_waiver(policy: PolicyRepo) -> None:
    policy.edit(
        "gitrot.yaml",
        "  owners: []\n  waiver_approvers: []\n",
        "  owners: [alice]\n  waiver_approvers: [alice]\n",
    )
    policy.rotate(DB)
    policy.commit("Rotate", ago=HOUR, author=MAINTAINER)
    policy.branch("pr")
    policy.rotate(DB, reason="Rotate again for the new replica CHG-2300")
    policy.write(
        "waivers.yaml",
        "apiVersion: gitrot/v1\nkind: Waivers\nwaivers:\n"
        "  - rule: min-interval\n    secrets: payments/*\n"
        '    reason: "CHG-77: the vendor needs a second rotation this week"\n'
        f'    approver: alice\n    expires: "{TODAY + timedelta(days=7)}"\n',
    )
    config = f"db:\n  password: {PASSWORD}\nreplica:\n  password: {PASSWORD}x\n"
    policy.write("deploy/config.yaml", config)
    policy.commit(f"Rotate again\n\nold token {TOKENS[0]}\nand {TOKENS[1]}\n", ago=HOUR // 2)
    result, report, found = check(policy)
    assert result.code == 1, result.err
    assert Counter(f["rule_id"] for f in found)["github-token"] == 2
    assert sum(f["file"] == "deploy/config.yaml" for f in found) == 2
    assert [f["rule_id"] for f in found if f["waived"]] == ["min-interval"]
    suite = consumed(report, found, clean_files=0)
    listed = names(suite)
    sha = str(policy.git.head.target)[:12]
    commit_cases = [name for name in listed if name.startswith("commit ")]
    assert commit_cases == [
        f"commit {sha}: message, line 3 [github-token]",
        f"commit {sha}: message, line 4 [github-token]",
    ]
    assert sum(name.startswith("deploy/config.yaml:") for name in listed) == 2
    text = report.read_text()
    assert PASSWORD not in text and not any(token in text for token in TOKENS)


def test_a_missing_xmllint_fails_under_make_test(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(f"{__name__}.XMLLINT", None)
    monkeypatch.setattr(f"{__name__}.REQUIRED", True)
    with pytest.raises(pytest.fail.Exception, match="xmllint is missing"):
        xmllint(tmp_path / "report.xml")
    monkeypatch.setattr(f"{__name__}.REQUIRED", False)
    with pytest.raises(pytest.skip.Exception):
        xmllint(tmp_path / "report.xml")
