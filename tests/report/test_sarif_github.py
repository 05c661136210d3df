"""``--format sarif`` as GitHub code scanning takes it: Microsoft's SARIF Multitool with
GitHub's ingestion rules (``validate --rule-kind "Gh;Sarif"``) on the reports of
``gitrot check`` and ``gitrot validate`` over real policy repositories, and a pull request
with more findings than code scanning takes in one run.

``make test`` installs the Multitool (npm, into .tools/) and sets ``GITROT_REQUIRE_TOOLS=1``:
then a missing Multitool fails these tests instead of skipping them. ``GITROT_SARIF_MULTITOOL``
names another binary.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gitrot.report.sarif import COMMIT_MESSAGE_URI, LINE_HASH, MAX_RESULTS
from tests.check.conftest import (
    API,
    DB,
    HOUR,
    MAINTAINER,
    PolicyRepo,
    intent_path,
    policy,
    pr_facts,
)
from tests.conftest import child_env

__all__ = ["policy", "pr_facts"]

REPO = Path(__file__).resolve().parents[2]
_PLATFORM = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform, "")
_BINARY = "Sarif.Multitool.exe" if sys.platform == "win32" else "Sarif.Multitool"
# read at import: the autouse isolated_home fixture removes GITROT_* from each test's environment
MULTITOOL = os.environ.get("GITROT_SARIF_MULTITOOL") or str(
    REPO / ".tools/node_modules/@microsoft" / f"sarif-multitool-{_PLATFORM}" / _BINARY
)
REQUIRED = os.environ.get("GITROT_REQUIRE_TOOLS") == "1"
# GitHub's limit is on the gzip-compressed upload; the Multitool's own default is 10,000 KB
MAX_GZIPPED = 10 * 1024 * 1024
MAX_UNCOMPRESSED = 200 * 1024 * 1024
TODAY = datetime.now(UTC).date()
# letters without vowels or x (no placeholder word) and digits: random-looking, made up at
# run time, so the project's own secret scan finds nothing in this file
_ALPHABET = "bcdfghjklmnpqrstvwzBCDFGHJKLMNPQRSTVWZ0123456789"


def _random(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(size))


TOKEN = "ghp_" + _random(random.Random(), 36)


def github_takes(report: Path) -> dict[str, Any]:
    """The SARIF at ``report``, after the Multitool found no error with GitHub's rules."""
    if not os.access(MULTITOOL, os.X_OK):
        message = f"the SARIF Multitool is missing ({MULTITOOL}): `make test` installs it"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    verdict = report.with_name(report.name + ".multitool.sarif")
    verdict.unlink(missing_ok=True)
    done = subprocess.run(
        [
            MULTITOOL,
            "validate",
            "--rule-kind",
            "Gh;Sarif",
            "--output",
            str(verdict),
            "--max-file-size-in-kb",
            str(MAX_UNCOMPRESSED // 1024),
            str(report),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, "DOTNET_CLI_TELEMETRY_OPTOUT": "1"},
    )
    assert done.returncode == 0 and verdict.exists(), done.stdout + done.stderr
    assert len(gzip.compress(report.read_bytes())) < MAX_GZIPPED
    (run,) = json.loads(verdict.read_text(encoding="utf-8-sig"))["runs"]
    errors = [r for r in run.get("results", []) if r.get("level", "warning") == "error"]
    assert not errors, done.stdout
    problems = [
        n for i in run.get("invocations", []) for n in i.get("toolExecutionNotifications", [])
    ]
    assert not [n for n in problems if n.get("level") == "error"], done.stdout
    return dict(json.loads(report.read_text()))


def _results(doc: dict[str, Any]) -> list[dict[str, Any]]:
    (run,) = doc["runs"]
    return list(run["results"])


def _place(result: dict[str, Any]) -> tuple[str, int, int, int, int]:
    (location,) = result["locations"]
    physical = location["physicalLocation"]
    region = physical["region"]
    return (
        physical["artifactLocation"]["uri"],
        region["startLine"],
        region["startColumn"],
        region["endLine"],
        region["endColumn"],
    )


def _waiver(rule: str, expires: object) -> str:
    return (
        "apiVersion: gitrot/v1\nkind: Waivers\nwaivers:\n"
        f"  - rule: {rule}\n    secrets: payments/*\n"
        '    reason: "CHG-77: the vendor needs a second rotation this week"\n'
        f'    approver: alice\n    expires: "{expires}"\n'
    )


@pytest.fixture
def messy(policy: PolicyRepo) -> PolicyRepo:
    """A pull request with one of each kind of finding: a token twice in one file and once
    in another, a token in a commit message, a deleted (not retired) intent, a broken
    intent, and a waived min-interval (the password was rotated an hour ago on main)."""
    policy.govern(owners=("alice",), approvers=("alice",))
    policy.new(API, environment="dev", rotation_class="api-key")
    policy.rotate(DB)
    policy.commit("Rotate, add the search key", ago=HOUR, author=MAINTAINER)
    policy.branch("pr")
    policy.rotate(DB, reason="Rotate again for the new replica CHG-2300")
    policy.write("waivers.yaml", _waiver("min-interval", TODAY + timedelta(days=7)))
    policy.write("app/deploy.env", f"GITHUB_TOKEN={TOKEN}\n\n# again\nGH_TOKEN={TOKEN}\n")
    policy.write("app/ci.env", f"TOKEN={TOKEN}\n")
    policy.delete(intent_path(API))
    policy.write("secrets/broken.yaml", "apiVersion: gitrot/v1\nkind: RotationIntent\n")
    policy.commit(f"Rotate again\n\nthe CI token was {TOKEN}\n", ago=HOUR // 2)
    return policy


def test_the_pr_checks_sarif_is_what_github_takes(messy: PolicyRepo, tmp_path: Path) -> None:
    report = tmp_path / "check.sarif"
    result = messy.check_raw("--format", "sarif", "--output", str(report))
    assert result.code == 1, result.err
    doc = github_takes(report)
    results = _results(doc)
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_rule.setdefault(r["ruleId"], []).append(r)
    assert {"github-token", "intent-deleted", "min-interval", "schema"} <= set(by_rule)
    # every result: a location with a whole region, and a line hash of its own
    assert all(len(_place(r)) == 5 for r in results)
    hashes = [r["partialFingerprints"][LINE_HASH] for r in results]
    assert len(set(hashes)) == len(hashes)
    # the same token in three places and a commit message: four alerts
    tokens = by_rule["github-token"]
    places = sorted(_place(r)[:2] for r in tokens)
    assert places == [(COMMIT_MESSAGE_URI, 3), ("app/ci.env", 1), ("app/deploy.env", 1),
                      ("app/deploy.env", 4)]  # fmt: skip
    assert len({r["properties"]["fingerprint"] for r in tokens}) == 1  # one secret
    (deleted,) = by_rule["intent-deleted"]
    assert _place(deleted) == (intent_path(API), 1, 1, 1, 2)
    (waived,) = by_rule["min-interval"]
    assert waived["level"] == "note" and waived["suppressions"][0]["status"] == "accepted"
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert float(rules["github-token"]["properties"]["security-severity"]) >= 7.0
    assert "security-severity" not in rules["min-interval"]["properties"]
    assert all(rule["fullDescription"]["text"] != rule["id"] for rule in rules.values())
    assert TOKEN not in report.read_text()


def test_validates_sarif_is_what_github_takes(messy: PolicyRepo, tmp_path: Path) -> None:
    report = tmp_path / "validate.sarif"
    result = messy.run("validate", "--format", "sarif", "--output", str(report))
    assert result.code == 1, result.err
    results = _results(github_takes(report))
    assert {r["ruleId"] for r in results} >= {"schema"}
    assert all(r["partialFingerprints"][LINE_HASH] for r in results)


def test_a_clean_change_gives_an_empty_run_github_takes(policy: PolicyRepo, tmp_path: Path) -> None:
    policy.branch("pr")
    policy.rotate(DB)
    policy.commit("Rotate the payments database password", ago=HOUR)
    report = tmp_path / "clean.sarif"
    assert policy.check_raw("--format", "sarif", "--output", str(report)).code == 0
    assert _results(github_takes(report)) == []


def test_a_pull_request_with_25100_findings(policy: PolicyRepo, tmp_path: Path) -> None:
    """GitHub rejects a run with more than 25,000 results (and shows 5,000): 25,100
    high-entropy secrets in one pull request give 25,000 results, the count of the 100
    left out, and a file the Multitool passes."""
    rng = random.Random(7)
    policy.branch("pr")
    for part in range(2):  # two files: the scanner reads files up to 1 MiB
        lines = [f"token_{part}_{i}: {_random(rng, 40)}\n" for i in range(12_550)]
        policy.write(f"config/tokens-{part}.yaml", "".join(lines))
    policy.commit("Add the service tokens", ago=HOUR)
    report = tmp_path / "many.sarif"
    # a child without coverage's tracer: scanning 25,100 lines traced costs minutes, and
    # every path it takes is measured by smaller tests
    argv = ["check", "--base", "main", "--format", "sarif", "--output", str(report)]
    result = subprocess.run(
        [sys.executable, "-m", "gitrot", *argv],
        cwd=policy.policy,
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 1, result.stderr
    doc = github_takes(report)
    (run,) = doc["runs"]
    assert len(run["results"]) == MAX_RESULTS == 25_000
    assert run["properties"] == {
        "findings": 25_100,
        "resultLimit": 25_000,
        "omittedResults": 100,
        "omittedBySeverity": {"error": 100},
    }
    (invocation,) = run["invocations"]
    (note,) = invocation["toolExecutionNotifications"]
    assert note["message"]["text"].startswith("100 of 25100 findings are not in this report")
    assert {r["ruleId"] for r in run["results"]} == {"high-entropy-secret"}


def test_no_waiver_covers_a_secret(policy: PolicyRepo, tmp_path: Path) -> None:
    """What keeps a waived finding from blocking a merge is its level (code scanning ignores
    suppressions); a leaked secret, a security alert, can never be waived into one."""
    policy.govern(owners=("alice",), approvers=("alice",))
    policy.commit("Name the policy owners", ago=HOUR, author=MAINTAINER)
    policy.branch("pr")
    policy.write("waivers.yaml", _waiver("github-token", TODAY + timedelta(days=7)))
    policy.write("app/deploy.env", f"GITHUB_TOKEN={TOKEN}\n")
    policy.commit("Waive the token", ago=HOUR // 2)
    report = tmp_path / "waived.sarif"
    assert policy.check_raw("--format", "sarif", "--output", str(report)).code == 1
    results = _results(github_takes(report))
    (token,) = [r for r in results if r["ruleId"] == "github-token"]
    assert token["level"] == "error" and "suppressions" not in token
    assert "waiver-invalid" in {r["ruleId"] for r in results}
