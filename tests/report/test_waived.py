"""A waived finding in every format: still shown, marked, and never failing the check."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from gitrot.core.findings import Finding
from gitrot.report import FORMATS, render

NOTE = "waived by alice@example.com until 2027-01-31 (waivers.yaml:7)"
CHECKED = ["secrets/a.yaml", "secrets/b.yaml"]


@pytest.fixture
def findings() -> list[Finding]:
    return [
        Finding("max-age", "error", "secrets/a.yaml", 3, 5, "too old", "rotate it").waive(NOTE),
        Finding("reason-required", "error", "secrets/b.yaml", 9, 5, "reason too short"),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_shows_the_waiver(fmt: str, findings: list[Finding]) -> None:
    out = render(findings, fmt, tool_version="0", checked_files=CHECKED)
    assert "example.com" in out and "too old" in out


def test_text_puts_the_waiver_after_the_message(findings: list[Finding]) -> None:
    assert render(findings, "text").splitlines()[:2] == [
        f"secrets/a.yaml:3:5: error: [max-age] too old [{NOTE}]",
        "    hint: rotate it",
    ]
    coloured = render(findings[:1], "text", color=True)
    assert "\033[2merror\033[0m" in coloured  # a waived error is not painted red
    from gitrot.report.text import summary_line

    assert summary_line(findings, 2) == "gitrot: 1 error, 1 waived in 2 files"


def test_json_has_the_waived_key(findings: list[Finding]) -> None:
    rows = json.loads(render(findings, "json"))
    assert [row["waived"] for row in rows] == [NOTE, ""]


def test_sarif_suppresses_it_externally_and_stays_valid(findings: list[Finding]) -> None:
    from .test_sarif import _validate

    doc = json.loads(render(findings, "sarif", tool_version="0"))
    _validate(doc)
    waived, open_ = doc["runs"][0]["results"]
    assert waived["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": NOTE}
    ]
    # code scanning ignores suppressions: a note does not block "Require code scanning results"
    assert (waived["level"], open_["level"]) == ("note", "error")
    assert "suppressions" not in open_


def test_github_makes_it_a_notice(findings: list[Finding]) -> None:
    assert render(findings, "github").splitlines()[-1] == (
        "::notice file=secrets/a.yaml,line=3,col=5,title=[max-age]::"
        f"too old%0Ahint: rotate it%0A{NOTE}"
    )


def test_junit_does_not_count_it_as_a_failure(findings: list[Finding]) -> None:
    root = ET.fromstring(render(findings, "junit", tool_version="0", checked_files=CHECKED))  # noqa: S314
    (suite,) = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "1", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    waived = cases["secrets/a.yaml:3:5 [max-age]"]
    assert waived.findall("failure") == []
    skipped = waived.find("skipped")
    assert skipped is not None and skipped.get("message") == NOTE and NOTE in (skipped.text or "")
    assert len(cases["secrets/b.yaml:9:5 [reason-required]"].findall("failure")) == 1


def test_markdown_lists_it_in_a_waived_part(findings: list[Finding]) -> None:
    lines = render(findings, "markdown", checked_files=CHECKED).splitlines()
    assert lines[0] == "### ❌ gitrot validate: 1 error, 1 waived in 2 files"
    assert lines[lines.index("#### Waived") + 2] == (
        "| Severity | Rule | File | Line | Message | Waiver |"
    )
    main = lines[: lines.index("#### Waived")]
    assert not any("too old" in line for line in main)
    assert lines[-1] == (
        "| ❌ error | `max-age` | `secrets/a.yaml` | 3:5 | too old<br>_hint:_ rotate it | "
        "waived by alice\\@example.com until 2027-01-31 \\(waivers.yaml:7\\) |"
    )
    only_waived = render(findings[:1], "markdown", checked_files=CHECKED).splitlines()
    assert only_waived[0] == "### ✅ gitrot validate: 1 waived in 2 files"
    assert only_waived[1:4] == ["", "#### Waived", ""]


def test_markdown_size_limit_counts_waived_rows_too() -> None:
    many = [
        Finding("r", "error", f"secrets/{i:05}.yaml", 1, 1, "x" * 200).waive(NOTE)
        for i in range(2000)
    ]
    out = render(many, "markdown")
    assert len(out) < 65_536
    assert out.rstrip().endswith("more (see the full report).")
    shown = sum(1 for line in out.splitlines() if line.startswith("| ❌"))
    assert f"… and {2000 - shown} more" in out
