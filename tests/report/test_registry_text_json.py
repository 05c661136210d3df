"""The registry, and the text and JSON formats."""

from __future__ import annotations

import json

import pytest

from gitrot.core.findings import Finding
from gitrot.report import FORMATS, render
from gitrot.report.text import summary_line

from .conftest import CHECKED


def test_unknown_format_is_refused(findings: list[Finding]) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render(findings, "yaml")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_nothing_and_something(fmt: str, findings: list[Finding]) -> None:
    empty = render([], fmt, tool_version="1.2.3", checked_files=CHECKED)
    full = render(findings, fmt, tool_version="1.2.3", checked_files=CHECKED)
    assert isinstance(empty, str) and full and full.endswith("\n")
    assert full == render(reversed(findings), fmt, tool_version="1.2.3", checked_files=CHECKED)


def test_text_lines_hints_and_no_colour_by_default(findings: list[Finding]) -> None:
    out = render(findings, "text", checked_files=CHECKED)
    assert "\033" not in out
    assert out.splitlines() == [
        "gitrot.yaml: error: [schema] not a mapping",
        "gitrot.yaml:4:2: info: [waiver-unused] unused waiver",
        "secrets/a.yaml:3: warning: [secret-string] looks like a key: 100% <b>|x|</b>, a:b\\nnext",
        "secrets/a.yaml:9:5: error: [schema] spec.version must be >= 1",
        "    hint: bump",
    ]
    assert summary_line(findings, 3) == "gitrot: 2 errors, 1 warning, 1 info in 3 files"


def test_text_colour_only_when_asked(findings: list[Finding]) -> None:
    out = render(findings, "text", color=True)
    assert "\033[1;31merror\033[0m" in out and "\033[1;33mwarning\033[0m" in out


def test_text_neutralises_terminal_control_characters() -> None:
    hostile = Finding("r", "error", "f\033]0;x\a", 1, 1, "a\033[2Jb\rc")
    out = render([hostile], "text")
    assert "\033" not in out and "\a" not in out and "\r" not in out
    assert out.count("\n") == 1


def test_json_is_a_stable_list(findings: list[Finding]) -> None:
    rows = json.loads(render(findings, "json"))
    files = [r["file"] for r in rows]
    assert files == ["gitrot.yaml", "gitrot.yaml", "secrets/a.yaml", "secrets/a.yaml"]
    assert rows[-1] == {
        "rule_id": "schema",
        "severity": "error",
        "file": "secrets/a.yaml",
        "line": 9,
        "column": 5,
        "message": "spec.version must be >= 1",
        "hint": "bump",
        "fingerprint": "",
        "waived": "",
    }
    assert json.loads(render([], "json")) == []


class _Tty:
    def isatty(self) -> bool:
        return True


def test_colour_is_wanted_only_on_a_terminal_without_no_color(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gitrot import output

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert not output.stdout_wants_color()  # pytest captures stdout: not a terminal
    monkeypatch.setattr("sys.stdout", _Tty())
    assert output.stdout_wants_color()
    monkeypatch.setenv("NO_COLOR", "1")
    assert not output.stdout_wants_color()
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not output.stdout_wants_color()
