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


def test_junit_one_testcase_per_finding_and_per_clean_file(findings: list[Finding]) -> None:
    root = _xml(render(findings, "junit", tool_version="1.2.3", checked_files=CHECKED))
    assert root.tag == "testsuites" and root.get("skipped") is None
    (suite,) = root.findall("testsuite")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == [
        "gitrot.yaml [schema]",
        "gitrot.yaml:4:2 [waiver-unused]",
        "secrets/a.yaml:3 [secret-string]",
        "secrets/a.yaml:9:5 [schema]",
        "secrets/clean.yaml",
    ]
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "2", "0")
    assert (root.get("tests"), root.get("failures")) == ("5", "2")
    assert all(case.get("file") is None for case in cases.values())
    assert {case.get("classname") for case in cases.values()} == {"gitrot validate"}
    for case in cases.values():
        assert len(list(case)) <= 1  # one failure, skipped or system-out per test case
    assert cases["gitrot.yaml [schema]"].find("failure").get("message") == (  # type: ignore[union-attr]
        "[schema] not a mapping"
    )
    assert "unused waiver" in (
        cases["gitrot.yaml:4:2 [waiver-unused]"].findtext("system-out") or ""
    )
    failure = cases["secrets/a.yaml:9:5 [schema]"].find("failure")
    assert failure is not None and failure.get("type") == "schema"
    assert failure.text == (
        "secrets/a.yaml:9:5: error: [schema] spec.version must be >= 1\nhint: bump"
    )
    assert "<b>|x|</b>" in (cases["secrets/a.yaml:3 [secret-string]"].findtext("system-out") or "")
    assert list(cases["secrets/clean.yaml"]) == []


def test_junit_waived_is_skipped_and_repeats_get_unique_names() -> None:
    same = Finding("r", "error", "a.yaml", 2, 1, "first")
    findings = [
        same,
        Finding("r", "error", "a.yaml", 2, 1, "second"),
        Finding("r", "error", "a.yaml", 2, 1, "waived", waived="waived by bob until 2099-01-01"),
        Finding("aws-key", "error", "", 0, 0, "commit 0123abcd4567 message, line 3: an AWS key"),
    ]
    root = _xml(render(findings, "junit", tool_version="0", command="check"))
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    names = [case.get("name") for case in cases]
    assert names == [
        "commit 0123abcd4567: message, line 3 [aws-key]",
        "a.yaml:2:1 [r]",
        "a.yaml:2:1 [r] #2",
        "a.yaml:2:1 [r] #3",
    ]
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "3", "1")
    skipped = cases[3].find("skipped")
    assert skipped is not None and skipped.get("message") == "waived by bob until 2099-01-01"
    assert cases[0].get("classname") == "gitrot check"


def test_junit_stays_well_formed_with_hostile_text() -> None:
    hostile = Finding("r", "error", 'x"<&>\x00.yaml', 1, 1, "]]><!-- \x1b\ud800 \"'&")
    root = _xml(render([hostile], "junit", tool_version="0"))
    (case,) = root.iter("testcase")
    assert case.get("name") == 'x"<&>\ufffd.yaml:1:1 [r]'
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
