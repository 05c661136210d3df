"""``--format markdown``: a pull-request comment (GitHub-flavoured Markdown table).

A heading with the counts, then one row per finding; waived findings (which no longer fail
the check) follow in a table of their own under "Waived", with the waiver's note. Everything
from a finding is escaped: ``|`` (which would end a table cell), newlines (``<br>``), and the
Markdown and HTML punctuation that would otherwise format or inject markup. Paths and rule
ids are code spans. The comment stays under GitHub's 65,536-character limit: rows that do
not fit are counted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gitrot.core.findings import Finding, Severity, summary
from gitrot.report import Meta

MAX_CHARS = 60_000
_ICONS = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.INFO: "ℹ️"}  # noqa: RUF001
_PUNCTUATION = re.compile(r"([\\`*_{}\[\]<>()#+!|~&@$])")
_BACKTICKS = re.compile(r"`+")


def render(findings: Sequence[Finding], meta: Meta) -> str:
    counts = summary(findings, len(meta.checked_files))
    failing = [f for f in findings if not f.waived]
    waived = [f for f in findings if f.waived]
    severities = {f.severity for f in failing}  # the icon of the worst (_ICONS: worst first)
    icon = next((mark for severity, mark in _ICONS.items() if severity in severities), "✅")
    lines = [f"### {icon} gitrot {meta.command}: {counts}"]
    budget = MAX_CHARS - len(lines[0]) - 1
    shown = 0
    for part, head in ((failing, ["", *_HEAD]), (waived, ["", "#### Waived", "", *_WAIVED_HEAD])):
        if part and budget >= 0:
            rows, budget = _table(head, part, budget)
            lines += rows
            shown += max(len(rows) - len(head), 0)
    if shown < len(findings):
        lines += ["", f"… and {len(findings) - shown} more (see the full report)."]
    return "\n".join(lines) + "\n"


def _table(head: list[str], part: Sequence[Finding], budget: int) -> tuple[list[str], int]:
    """The lines of ``part``'s table that fit in ``budget`` characters, and what is left
    (-1 once a row did not fit, so that later tables are left out too)."""
    budget -= sum(len(line) + 1 for line in head)
    if budget < 0:
        return [], -1
    lines = list(head)
    for finding in part:
        row = _row(finding)
        if len(row) + 1 > budget:
            return lines, -1
        lines.append(row)
        budget -= len(row) + 1
    return lines, budget


_HEAD = ("| Severity | Rule | File | Line | Message |", "| --- | --- | --- | ---: | --- |")
_WAIVED_HEAD = (
    "| Severity | Rule | File | Line | Message | Waiver |",
    "| --- | --- | --- | ---: | --- | --- |",
)


def _row(finding: Finding) -> str:
    where = ""
    if finding.line:
        where = f"{finding.line}:{finding.column}" if finding.column else str(finding.line)
    message = escape(finding.message)
    if finding.hint:
        message += f"<br>_hint:_ {escape(finding.hint)}"
    cells = [
        f"{_ICONS[finding.severity]} {finding.severity}",
        code(finding.rule_id),
        code(finding.path) if finding.path else "",
        where,
        message,
    ]
    if finding.waived:
        cells.append(escape(finding.waived))
    return "| " + " | ".join(cells) + " |"


def escape(text: str) -> str:
    """Text for a table cell: literal, on one line, with no markup of its own."""
    text = _PUNCTUATION.sub(r"\\\1", text)
    return text.replace("\r\n", "<br>").replace("\n", "<br>").replace("\r", "<br>")


def code(text: str) -> str:
    """A code span for a table cell: literal backticks fenced, ``|`` escaped (GFM tables)."""
    text = text.replace("\r", " ").replace("\n", " ")
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text.replace('|', chr(92) + '|')}{pad}{fence}"
