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


def test_the_code_quality_conversion(tmp_path: Path) -> None:
    (block,) = [s for s in job("gitrot-code-quality")["script"] if "<<'PY'" in s]
    program = re.search(r"<<'PY'\n(.*)\nPY\n", block, re.DOTALL)
    assert program is not None
    findings = [
        {
            "rule_id": "version-step",
            "severity": "error",
            "file": "secrets/a.yaml",
            "line": 9,
            "column": 5,
            "message": "spec.version must go up by exactly one",
            "hint": "",
            "fingerprint": "",
            "waived": "",
        },
        {
            "rule_id": "schema",
            "severity": "warning",
            "file": "",
            "line": 0,
            "column": 0,
            "message": "about the repository",
            "hint": "",
            "fingerprint": "f00d",
            "waived": "",
        },
        {
            "rule_id": "max-age",
            "severity": "error",
            "file": "secrets/b.yaml",
            "line": 3,
            "column": 1,
            "message": "too old",
            "hint": "",
            "fingerprint": "",
            "waived": "waived by a@example.com until 2099-01-01",
        },
    ]
    (tmp_path / "gitrot.json").write_text(json.dumps(findings))
    subprocess.run(
        [sys.executable, "-c", program.group(1)], cwd=tmp_path, check=True, capture_output=True
    )
    issues = json.loads((tmp_path / "gl-code-quality-report.json").read_text())
    assert [i["check_name"] for i in issues] == ["version-step", "schema"]
    first, second = issues
    assert first["severity"] == "critical"
    assert first["location"] == {"path": "secrets/a.yaml", "lines": {"begin": 9}}
    assert first["description"] == "[version-step] spec.version must go up by exactly one"
    assert len(first["fingerprint"]) == 64
    assert second["fingerprint"] == "f00d" and second["severity"] == "minor"
    assert second["location"] == {"path": "gitrot.yaml", "lines": {"begin": 1}}


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
