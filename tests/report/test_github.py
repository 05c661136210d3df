"""GitHub Actions workflow commands: one annotation per finding, escaped as the runner expects."""

from __future__ import annotations

from gitrot.core.findings import Finding
from gitrot.report import render
from gitrot.report.github import escape_data, escape_property


def test_annotations(findings: list[Finding]) -> None:
    lines = render(findings, "github").splitlines()
    assert lines == [
        "::error file=gitrot.yaml,title=[schema]::not a mapping",
        "::notice file=gitrot.yaml,line=4,col=2,title=[waiver-unused]::unused waiver",
        "::warning file=secrets/a.yaml,line=3,title=[secret-string]::"
        "looks like a key: 100%25 <b>|x|</b>, a:b%0Anext",
        "::error file=secrets/a.yaml,line=9,col=5,title=[schema]::"
        "spec.version must be >= 1%0Ahint: bump",
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
