"""validate --format / --output: every report format from the command line."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

INTENT = "secrets/payments/db-password.yaml"


def _xml(text: str) -> ET.Element:
    """Parse gitrot's own output (trusted here: the test wrote nothing else)."""
    return ET.fromstring(text)  # noqa: S314


@pytest.fixture
def broken(gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "policy"
    assert gitrot("init", str(root)).code == 0
    monkeypatch.chdir(root)
    args = ["--backend", "local", "--ref", "r", "--owner", "o", "--class", "api-key"]
    assert gitrot("new", "payments/db-password", *args).code == 0
    intent = root / INTENT
    intent.write_text(intent.read_text().replace("version: 1", "version: 0"))
    return root


def test_json(gitrot, broken: Path) -> None:
    result = gitrot("validate", "--format", "json")
    assert result.code == 1 and result.err == ""
    (row,) = json.loads(result.out)
    assert row["file"] == INTENT and (row["line"], row["column"]) == (9, 5)
    assert (row["rule_id"], row["severity"]) == ("schema", "error")


def test_sarif(gitrot, broken: Path) -> None:
    result = gitrot("validate", "--format", "sarif")
    assert result.code == 1
    (res,) = json.loads(result.out)["runs"][0]["results"]
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == INTENT
    assert res["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 9,
        "startColumn": 5,
        "endLine": 9,
        "endColumn": 6,
    }


def test_github(gitrot, broken: Path) -> None:
    result = gitrot("validate", "--format", "github")
    assert result.code == 1
    assert result.out.startswith(f"::error file={INTENT},line=9,col=5,title=[schema]::spec.version")


def test_junit(gitrot, broken: Path) -> None:
    result = gitrot("validate", "--format", "junit")
    assert result.code == 1
    suite = _xml(result.out).find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"


def test_markdown(gitrot, broken: Path) -> None:
    result = gitrot("validate", "--format", "markdown")
    assert result.code == 1
    assert result.out.startswith("### ❌ gitrot validate: 1 error in 2 files\n")
    assert f"| `{INTENT}` | 9:5 |" in result.out


def test_text_has_no_colour_when_not_a_terminal(gitrot, broken: Path) -> None:
    result = gitrot("validate")
    assert result.code == 1 and "\033" not in result.out
    assert result.out.startswith(f"{INTENT}:9:5: error: [schema] spec.version must be >= 1")
    assert result.err.strip() == "gitrot: 1 error in 2 files"


def test_text_colour_on_a_terminal(gitrot, broken: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gitrot.output.stdout_wants_color", lambda: True)
    assert "\033[1;31merror" in gitrot("validate").out


@pytest.mark.parametrize("fmt", ["text", "sarif"])
def test_output_file(gitrot, broken: Path, fmt: str) -> None:
    report = broken / "out" / "report"
    report.parent.mkdir()
    result = gitrot("validate", "--format", fmt, "--output", str(report))
    assert result.code == 1 and result.out == ""
    text = report.read_text()
    assert INTENT in text and "\033" not in text
    assert [p.name for p in report.parent.iterdir()] == ["report"]  # no temporary left


def test_output_file_is_not_touched_on_an_input_error(gitrot, broken: Path, tmp_path: Path) -> None:
    report = broken / "report.json"
    report.write_text("old")
    result = gitrot("validate", "--format", "json", "--output", str(report), str(tmp_path / "x"))
    assert result.code == 2 and "outside the policy repository" in result.err
    assert report.read_text() == "old"


def test_output_into_a_missing_directory_is_an_input_error(gitrot, broken: Path) -> None:
    result = gitrot("validate", "--output", str(broken / "nope" / "r.txt"))
    assert result.code == 2 and "cannot write" in result.err


def test_clean_repository_in_every_format(gitrot, broken: Path) -> None:
    intent = broken / INTENT
    intent.write_text(intent.read_text().replace("version: 0", "version: 1"))
    assert gitrot("validate").out == ""
    assert json.loads(gitrot("validate", "--format", "json").out) == []
    assert gitrot("validate", "--format", "github").out == ""
    assert json.loads(gitrot("validate", "--format", "sarif").out)["runs"][0]["results"] == []
    junit = gitrot("validate", "--format", "junit")
    assert junit.code == 0 and _xml(junit.out).find("testsuite") is not None
    assert "no findings in 2 files" in gitrot("validate", "--format", "markdown").out


def test_unknown_format_is_a_usage_error(gitrot, broken: Path) -> None:
    result = gitrot("validate", "--format", "csv")
    assert result.code == 2 and "invalid choice" in result.err
