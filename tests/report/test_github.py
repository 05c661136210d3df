"""GitHub Actions workflow commands: annotations escaped as the runner expects, no more of
each level than GitHub shows, and the full list in the job summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitrot.core.findings import Finding
from gitrot.report import publish_github_summary, render
from gitrot.report.github import MAX_PER_LEVEL, escape_data, escape_property


def test_annotations_errors_first_then_report_order(findings: list[Finding]) -> None:
    lines = render(findings, "github").splitlines()
    assert lines == [
        "::error file=gitrot.yaml,title=[schema]::not a mapping",
        "::error file=secrets/a.yaml,line=9,col=5,title=[schema]::"
        "spec.version must be >= 1%0Ahint: bump",
        "::warning file=secrets/a.yaml,line=3,title=[secret-string]::"
        "looks like a key: 100%25 <b>|x|</b>, a:b%0Anext",
        "::notice file=gitrot.yaml,line=4,col=2,title=[waiver-unused]::unused waiver",
    ]
    assert render([], "github") == ""


def test_escaping_rules() -> None:
    assert escape_data("a%b\r\nc:d,e") == "a%25b%0D%0Ac:d,e"
    assert escape_property("a%b\r\nc:d,e") == "a%25b%0D%0Ac%3Ad%2Ce"
    assert escape_property("%3A") == "%253A"  # % first, so escapes are not decoded twice


def test_a_hostile_path_cannot_end_the_command_or_start_another() -> None:
    finding = Finding("r,x", "error", "a,line=1::x\n::error::forged", 2, 0, "m\n::warning::no")
    (line,) = render([finding], "github").splitlines()
    assert line == (
        "::error file=a%2Cline=1%3A%3Ax%0A%3A%3Aerror%3A%3Aforged,line=2,title=[r%2Cx]::"
        "m%0A::warning::no"
    )


def _many(severity: str, count: int) -> list[Finding]:
    return [
        Finding("r", severity, f"secrets/{severity}-{i:02}.yaml", 1, 1, "m") for i in range(count)
    ]


def _levels(out: str) -> list[str]:
    return [line.split(" ", 1)[0].split("::")[1] for line in out.splitlines()]


def test_no_more_of_each_level_than_github_shows_and_a_count_of_the_rest() -> None:
    findings = _many("info", 12) + _many("warning", 3) + _many("error", 25)
    lines = render(findings, "github").splitlines()
    assert _levels("\n".join(lines)) == ["error"] * 10 + ["warning"] * 3 + ["notice"] * 10
    # the first ones in report order are kept
    assert "secrets/error-00.yaml" in lines[0] and "secrets/error-09.yaml" in lines[9]
    assert "secrets/info-08.yaml" in lines[-2]
    assert lines[-1] == (
        "::notice title=gitrot::18 more findings not annotated (GitHub shows 10 errors, "
        "10 warnings and 10 notices per step); the full list is in the job summary"
    )


def test_exactly_the_limit_needs_no_count() -> None:
    findings = _many("error", MAX_PER_LEVEL) + _many("info", MAX_PER_LEVEL)
    assert _levels(render(findings, "github")) == ["error"] * 10 + ["notice"] * 10


def test_the_count_takes_a_notice_place_so_it_is_always_shown() -> None:
    out = render(_many("info", MAX_PER_LEVEL + 1), "github")
    assert _levels(out) == ["notice"] * 10
    assert out.splitlines()[-1].startswith("::notice title=gitrot::2 more findings not")
    one = render(_many("warning", MAX_PER_LEVEL + 1), "github").splitlines()
    assert one[-1].startswith("::notice title=gitrot::1 more finding not annotated")


def test_waived_errors_count_as_notices() -> None:
    waived = [f.waive("waived by a@example.com until 2099-01-01") for f in _many("error", 11)]
    out = render(waived, "github")
    assert _levels(out) == ["notice"] * 10 and "2 more findings" in out


def test_the_summary_gets_every_finding_as_markdown(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    findings = _many("error", 25)
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    written = publish_github_summary(
        findings, "github", environ=env, checked_files=["a", "b"], command="check"
    )
    assert written == str(summary)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("### ❌ gitrot check: 25 errors in 2 files\n")
    assert all(f"`secrets/error-{i:02}.yaml`" in text for i in range(25))


def test_the_summary_is_appended_to_never_overwritten(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    publish_github_summary(_many("error", 1), "github", environ=env, command="validate")
    publish_github_summary([], "github", environ=env, command="check")
    text = summary.read_text(encoding="utf-8")
    first = render(_many("error", 1), "markdown", command="validate")
    assert text == first + "\n" + "### ✅ gitrot check: no findings in 0 files\n"


def test_no_summary_outside_github_or_for_other_formats(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    assert publish_github_summary(_many("error", 1), "github", environ={}) is None
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    assert publish_github_summary(_many("error", 1), "sarif", environ=env) is None
    assert not summary.exists()
    assert publish_github_summary([], "github", environ={"GITHUB_STEP_SUMMARY": ""}) is None


def test_an_unwritable_summary_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"GITHUB_STEP_SUMMARY": str(tmp_path / "missing" / "summary.md")}
    assert publish_github_summary(_many("error", 1), "github", environ=env) is None
    err = capsys.readouterr().err
    assert err.startswith("gitrot: warning: cannot append to the job summary ")
