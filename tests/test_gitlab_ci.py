"""docs/ci/gitlab-ci.yml: the GitLab CI/CD template (parsed; its scripts checked offline)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.check.conftest import PolicyRepo, policy, pr_facts

__all__ = ["policy", "pr_facts"]  # fixtures, used by name

TEMPLATE = Path(__file__).resolve().parents[1] / "docs" / "ci" / "gitlab-ci.yml"
BASH = shutil.which("bash")
MR = '$CI_PIPELINE_SOURCE == "merge_request_event"'
CHECK = 'gitrot check --base "$CI_MERGE_REQUEST_DIFF_BASE_SHA" --head "$CI_COMMIT_SHA"'


def template() -> dict[str, Any]:
    document = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def job(name: str) -> dict[str, Any]:
    """The job with its ``extends`` chain merged the way GitLab merges it (hashes deeply,
    everything else replaced)."""
    document = template()
    spec = dict(document[name])
    parent = spec.pop("extends", None)
    if parent is None:
        return spec
    merged = job(parent)
    for key, value in spec.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def scripts(spec: dict[str, Any]) -> list[str]:
    return [*spec.get("before_script", []), *spec["script"]]


def test_the_merge_request_job() -> None:
    check = job("gitrot-check")
    assert check["rules"] == [{"if": MR}]
    assert check["variables"]["GIT_DEPTH"] == "0"
    assert check["variables"]["GITROT_PR_AUTHOR"] == "$GITLAB_USER_LOGIN"
    assert check["variables"]["GITROT_PR_NUMBER"] == "$CI_MERGE_REQUEST_IID"
    assert 'python -m pip install --quiet "$GITROT_INSTALL"' in check["before_script"]
    assert check["script"] == [
        f'{CHECK} --format junit --output gitrot-junit.xml || [ "$?" -eq 1 ]',
        f"{CHECK} --format text",
    ]
    assert check["artifacts"]["when"] == "always"
    assert check["artifacts"]["reports"] == {"junit": "gitrot-junit.xml"}
    assert template()["variables"]["GITROT_INSTALL"] == "gitrot"


def test_the_optional_code_quality_job() -> None:
    quality = job("gitrot-code-quality")
    assert quality["rules"] == [{"if": f'{MR} && $GITROT_CODE_QUALITY == "true"'}]
    assert quality["script"][0].startswith(f"{CHECK} --format json --output gitrot.json")
    assert quality["artifacts"]["reports"] == {"codequality": "gl-code-quality-report.json"}


def test_the_scheduled_job() -> None:
    scheduled = job("gitrot-scheduled")
    assert scheduled["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert scheduled["variables"]["GIT_DEPTH"] == "0"
    assert scheduled["script"][-1] == "gitrot validate --context scheduled"
    assert scheduled["artifacts"]["reports"] == {"junit": "gitrot-scheduled-junit.xml"}


@pytest.mark.parametrize("name", ["gitrot-check", "gitrot-code-quality", "gitrot-scheduled"])
def test_every_script_line_parses(name: str) -> None:
    assert BASH is not None
    for line in scripts(job(name)):
        parsed = subprocess.run([BASH, "-n"], input=line, text=True, check=False)
        assert parsed.returncode == 0, line


def code_quality(findings: list[dict[str, Any]], where: Path) -> list[dict[str, Any]]:
    """Run the template's conversion on ``findings`` (gitrot's JSON) in ``where``."""
    (block,) = [s for s in job("gitrot-code-quality")["script"] if "<<'PY'" in s]
    program = re.search(r"<<'PY'\n(.*)\nPY\n", block, re.DOTALL)
    assert program is not None
    (where / "gitrot.json").write_text(json.dumps(findings))
    subprocess.run(
        [sys.executable, "-c", program.group(1)], cwd=where, check=True, capture_output=True
    )
    issues = json.loads((where / "gl-code-quality-report.json").read_text())
    assert isinstance(issues, list)
    return issues


def finding(**fields: Any) -> dict[str, Any]:
    return {
        "rule_id": "version-step",
        "severity": "error",
        "file": "secrets/a.yaml",
        "line": 9,
        "column": 5,
        "message": "spec.version must go up by exactly one",
        "hint": "",
        "fingerprint": "",
        "waived": "",
        **fields,
    }


def test_the_code_quality_conversion(tmp_path: Path) -> None:
    findings = [
        finding(),
        finding(rule_id="rule-cost", severity="warning", file="", line=0, column=0,
                message="3 rules went over their cost bound"),
        finding(rule_id="max-age", file="secrets/b.yaml", line=3, message="too old",
                waived="waived by a@example.com until 2099-01-01"),
    ]  # fmt: skip
    issues = code_quality(findings, tmp_path)
    assert [i["check_name"] for i in issues] == ["version-step", "rule-cost"]
    first, second = issues
    assert first["severity"] == "critical"
    assert first["location"] == {"path": "secrets/a.yaml", "lines": {"begin": 9}}
    assert first["description"] == "[version-step] spec.version must go up by exactly one"
    assert len(first["fingerprint"]) == 64
    # about the policy as a whole: filed at its configuration
    assert second["severity"] == "minor"
    assert second["location"] == {"path": "gitrot.yaml", "lines": {"begin": 1}}
    assert code_quality(findings, tmp_path) == issues  # the same findings, the same issues


def test_code_quality_fingerprints_are_one_per_occurrence(tmp_path: Path) -> None:
    """GitLab merges issues that share a fingerprint: the same secret in three places is
    three issues; an occurrence keeps its fingerprint when lines above it move."""
    secret = {"rule_id": "github-token", "fingerprint": "hmac:0123456789abcdef"}
    findings = [
        finding(**secret, file="app/a.env", line=1, message="GitHub token"),
        finding(**secret, file="app/a.env", line=7, message="GitHub token"),
        finding(**secret, file="app/b.env", line=2, message="GitHub token"),
    ]
    issues = code_quality(findings, tmp_path)
    assert len({i["fingerprint"] for i in issues}) == 3
    moved = [{**f, "line": f["line"] + 5} for f in findings]
    assert [i["fingerprint"] for i in code_quality(moved, tmp_path)] == [
        i["fingerprint"] for i in issues
    ]


def test_a_commit_message_finding_is_filed_under_its_commit(tmp_path: Path) -> None:
    """Not at gitrot.yaml:1: no file holds it. The path names the commit, the line is the
    line of the message."""
    findings = [
        finding(rule_id="github-token", file="", line=0, column=0, fingerprint="hmac:ab",
                message="commit 0123456789ab message, line 3: GitHub token"),
    ]  # fmt: skip
    (issue,) = code_quality(findings, tmp_path)
    assert issue["location"] == {"path": "commit 0123456789ab", "lines": {"begin": 3}}


def test_code_quality_from_a_real_check(policy: PolicyRepo, tmp_path: Path) -> None:
    """End to end: gitrot check's JSON of a branch with one token in three places and in a
    commit message, through the template's conversion."""
    token = "ghp_" + "Zq7Lm2Xw9Rt4Yv8Np3Ks6" + "Hd1Fg5Jc0Bu2Ea4"
    policy.branch("pr")
    policy.write("app/a.env", f"TOKEN={token}\nOTHER=1\nAGAIN={token}\n")
    policy.write("app/b.env", f"TOKEN={token}\n")
    policy.commit(f"Add the app's settings\n\nthe token is {token}\n")
    code, findings = policy.check()
    assert code == 1
    issues = code_quality(findings, tmp_path)
    tokens = [i for i in issues if i["check_name"] == "github-token"]
    assert len(tokens) == 4 and len({i["fingerprint"] for i in tokens}) == 4
    places = sorted((i["location"]["path"], i["location"]["lines"]["begin"]) for i in tokens)
    commit = str(policy.git.head.target)[:12]
    assert places == [("app/a.env", 1), ("app/a.env", 3), ("app/b.env", 1), (f"commit {commit}", 3)]
    report = (tmp_path / "gl-code-quality-report.json").read_text()
    assert token not in report and "gitrot.yaml" not in report


def test_the_approvals_are_read_from_the_api_answer() -> None:
    (block,) = [s for s in job("gitrot-check")["before_script"] if "approvals" in s]
    program = re.search(r"python -c '([^']*)'", block)
    assert program is not None
    answer = {"approved_by": [{"user": {"username": "carol"}}, {"user": {"username": "dan"}}]}
    out = subprocess.run(
        [sys.executable, "-c", program.group(1)],
        input=json.dumps(answer),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "carol,dan\n"
    assert 'export GITROT_PR_APPROVALS="$approvals"' in block


@pytest.mark.parametrize(("answer", "status", "expected"), [
    ('{"approved_by": [{"user": {"username": "carol"}}]}', 0, "carol"),
    ('{"approved_by": []}', 0, ""),
    ("", 22, None),  # curl --fail: HTTP 403
    ("<html>", 0, None),  # not the API's answer
])  # fmt: skip
def test_the_approvals_step_runs_in_posix_sh(
    answer: str, status: int, expected: str | None, tmp_path: Path
) -> None:
    """Run by dash (no pipefail): GITROT_PR_APPROVALS is set from the answer, and stays
    unset when curl or the parse fails."""
    sh = shutil.which("dash") or shutil.which("sh")
    assert sh is not None
    (block,) = [s for s in job("gitrot-check")["before_script"] if "approvals" in s]
    fakes = tmp_path / "bin"
    fakes.mkdir()
    (fakes / "curl").write_text(f"#!/bin/sh\nprintf '%s' '{answer}'\nexit {status}\n")
    (fakes / "curl").chmod(0o755)
    (fakes / "python").symlink_to(sys.executable)
    script = block + 'printf "result=%s\\n" "${GITROT_PR_APPROVALS-<unset>}"\n'
    ran = subprocess.run(
        [sh, "-e", "-c", script],
        env={"PATH": f"{fakes}:/usr/bin:/bin", "GITROT_API_TOKEN": "t", "CI_API_V4_URL": "u"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    result = ran.stdout.splitlines()[-1]
    assert result == f"result={'<unset>' if expected is None else expected}"
    if expected is None:
        assert "cannot read the merge request's approvals" in ran.stdout
