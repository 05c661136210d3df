"""``--format text``: ``path:line:col: severity: [rule] message``, hints indented below.

The one-line-per-finding shape is the compiler convention editors and CI problem matchers
read. A waived finding keeps its line, with ``[waived by ...]`` after the message (its
severity no longer fails the run). Colours (ANSI) only when the caller asks (stdout is a
terminal). The summary line is separate (:func:`summary_line`): it is for people, so
commands send it to stderr.
"""

from __future__ import annotations

from collections.abc import Sequence

from gitrot.core.findings import Finding, Severity, summary
from gitrot.report import Meta

_RESET = "\033[0m"
_BOLD = "\033[1m"
_DIM = "\033[2m"
_COLORS = {
    Severity.ERROR: "\033[1;31m",
    Severity.WARNING: "\033[1;33m",
    Severity.INFO: "\033[1;36m",
}


def render(findings: Sequence[Finding], meta: Meta) -> str:
    return "".join(line(finding, color=meta.color) for finding in findings)


def line(finding: Finding, *, color: bool = False) -> str:
    """One finding: its line, and an indented ``hint:`` line when it has a hint."""
    where = _clean(finding.location()) or "gitrot"
    message = _clean(finding.message)
    severity = finding.severity
    rule = f"[{_clean(finding.rule_id)}]"
    hint = _clean(finding.hint)
    waived = f" [{_clean(finding.waived)}]" if finding.waived else ""
    if color:
        where = f"{_BOLD}{where}{_RESET}"
        severity = f"{_DIM if waived else _COLORS[severity]}{severity}{_RESET}"
        rule = f"{_DIM}{rule}{_RESET}"
        waived = f"{_DIM}{waived}{_RESET}" if waived else ""
    text = f"{where}: {severity}: {rule} {message}{waived}\n"
    if hint:
        text += f"    hint: {hint}\n"
    return text


def summary_line(findings: Sequence[Finding], checked_files: int) -> str:
    """``gitrot: 2 errors, 1 warning in 5 files``."""
    return f"gitrot: {summary(findings, checked_files)}"


def _clean(text: str) -> str:
    """One line of text: no newlines, and no control characters a terminal would obey."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else ("\\n" if c == "\n" else f"\\x{ord(c):02x}") for c in text
    )
