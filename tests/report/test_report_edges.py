"""Reports at their edges, as a consumer reads them: a finding with no file (GitHub), a
run with warnings only and a comment too full for its waived table (Markdown), a caller's
description of a scanner rule (SARIF), and an empty report delivered to stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitrot.core.findings import Finding
from gitrot.report import deliver, render
from gitrot.report.markdown import MAX_CHARS
from gitrot.scan.detectors import RULE_DETAILS


def test_github_a_finding_without_a_file_is_an_annotation_of_the_run() -> None:
    finding = Finding("pr-title", "error", "", 0, 0, "the title names no ticket", "add one")
    assert render([finding], "github") == (
        "::error title=[pr-title]::the title names no ticket%0Ahint: add one\n"
    )


def test_markdown_a_run_with_warnings_only_has_the_warning_icon() -> None:
    findings = [
        Finding("max-age", "warning", "secrets/a.yaml", 2, 0, "old"),
        Finding("waiver-unused", "info", "gitrot.yaml", 4, 2, "unused waiver"),
    ]
    heading = render(findings, "markdown").splitlines()[0]
    assert heading.startswith("### ⚠️ gitrot validate: ")


def test_markdown_a_waived_table_that_cannot_start_is_left_out_and_counted() -> None:
    waived = Finding("max-age", "error", "secrets/b.yaml", 1, 0, "old").waive("waived until May")

    def failing(message: str) -> Finding:
        return Finding("schema", "error", "secrets/a.yaml", 3, 0, message)

    # measure what a one-character message uses, then fill the comment to 10 characters
    # short of its limit: the failing row fits, the waived table's head does not
    lines = render([failing("x"), waived], "markdown").splitlines()
    used = sum(len(line) + 1 for line in lines[: lines.index("#### Waived") - 1])
    out = render([failing("x" * (1 + MAX_CHARS - used - 10)), waived], "markdown")
    assert len(out) < MAX_CHARS + 100
    assert "#### Waived" not in out and "waived until May" not in out
    assert out.endswith("\n\n… and 1 more (see the full report).\n")
    rows = [line for line in out.splitlines() if line.startswith("| ❌")]
    assert len(rows) == 1 and rows[0].startswith("| ❌ error | `schema` | `secrets/a.yaml` | 3 |")


def test_sarif_a_scanner_rule_the_caller_describes_keeps_the_detectors_scores() -> None:
    finding = Finding("github-token", "error", "app.py", 2, 7, "GitHub token")
    doc = json.loads(
        render(
            [finding],
            "sarif",
            tool_version="1.2.3",
            rules={"github-token": ("Token of GitHub.", "Revoke it, then remove it.")},
        )
    )
    (rule,) = doc["runs"][0]["tool"]["driver"]["rules"]
    _, _, precision, severity = RULE_DETAILS["github-token"]
    assert rule["id"] == "github-token"
    assert rule["shortDescription"]["text"] == "Token of GitHub."
    assert "What to do: Revoke it, then remove it." in rule["help"]["text"]
    assert rule["properties"]["precision"] == precision
    assert rule["properties"]["security-severity"] == severity
    assert "external/cwe/cwe-798" in rule["properties"]["tags"]


def test_deliver_writes_nothing_for_an_empty_report_to_stdout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    deliver("", None)
    assert capsys.readouterr() == ("", "")
    deliver("[]\n", None)
    assert capsys.readouterr().out == "[]\n"
    deliver("", str(tmp_path / "report.json"))  # a file is written even when empty
    assert (tmp_path / "report.json").read_text() == ""
