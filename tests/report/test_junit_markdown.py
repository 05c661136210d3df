"""JUnit XML (parsed back) and the Markdown PR comment (escaped)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gitrot.core.findings import Finding
from gitrot.report import render
from gitrot.report.markdown import code, escape

from .conftest import CHECKED


def _xml(text: str) -> ET.Element:
    """Parse gitrot's own output (trusted here: the test wrote nothing else)."""
    return ET.fromstring(text)  # noqa: S314


def test_junit_one_testcase_per_file_and_a_failure_per_error(findings: list[Finding]) -> None:
    root = _xml(render(findings, "junit", tool_version="1.2.3", checked_files=CHECKED))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "2"
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == CHECKED
    assert [f.get("message") for f in cases["gitrot.yaml"].findall("failure")] == [
        "[schema] not a mapping"
    ]
    assert "unused waiver" in (cases["gitrot.yaml"].findtext("system-out") or "")
    a = cases["secrets/a.yaml"]
    (failure,) = a.findall("failure")
    assert failure.get("type") == "schema"
    assert failure.text == (
        "secrets/a.yaml:9:5: error: [schema] spec.version must be >= 1\nhint: bump"
    )
    assert "<b>|x|</b>" in (a.findtext("system-out") or "")
    assert list(cases["secrets/clean.yaml"]) == []


def test_junit_stays_well_formed_with_hostile_text() -> None:
    hostile = Finding("r", "error", 'x"<&>\x00.yaml', 1, 1, "]]><!-- \x1b\ud800 \"'&")
    root = _xml(render([hostile], "junit", tool_version="0"))
    (case,) = root.iter("testcase")
    assert case.get("name") == 'x"<&>\ufffd.yaml'
    assert case.findtext("failure").endswith("]]><!-- \ufffd\ufffd \"'&")  # type: ignore[union-attr]


def test_junit_without_findings_or_files() -> None:
    root = _xml(render([], "junit", tool_version="0"))
    assert root.find("testsuite").get("tests") == "0"  # type: ignore[union-attr]


def test_markdown_table(findings: list[Finding]) -> None:
    out = render(findings, "markdown", checked_files=CHECKED)
    lines = out.splitlines()
    assert lines[0] == "### ❌ gitrot validate: 2 errors, 1 warning, 1 info in 3 files"
    rows = [line for line in lines if line.startswith("| ")][2:]
    assert len(rows) == 4
    assert rows[3] == (
        "| ❌ error | `schema` | `secrets/a.yaml` | 9:5 | "
        "spec.version must be \\>= 1<br>_hint:_ bump |"
    )
    # every cell keeps its table shape: unescaped pipes are only the separators
    for row in rows:
        assert row.replace("\\|", "").count("|") == 6
    assert "\\<b\\>\\|x\\|\\</b\\>" in rows[2] and "<br>next" in rows[2]


def test_markdown_clean_run() -> None:
    assert render([], "markdown", checked_files=CHECKED) == (
        "### ✅ gitrot validate: no findings in 3 files\n"
    )


def test_markdown_escaping() -> None:
    assert escape("a|b") == "a\\|b"
    assert (
        escape("*x* _y_ [l](u) <img> @team") == "\\*x\\* \\_y\\_ \\[l\\]\\(u\\) \\<img\\> \\@team"
    )
    assert escape("1\n2\r\n3") == "1<br>2<br>3"
    assert code("a|b") == "`a\\|b`"
    assert code("a`b") == "``a`b``"
    assert code("`x") == "`` `x ``"


def test_markdown_comment_stays_under_the_size_limit() -> None:
    many = [Finding("r", "error", f"secrets/{i:05}.yaml", 1, 1, "x" * 200) for i in range(2000)]
    out = render(many, "markdown")
    assert len(out) < 65_536
    assert out.rstrip().endswith("more (see the full report).")
