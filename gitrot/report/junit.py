"""``--format junit``: JUnit XML for CI test-report views (GitLab, Jenkins, Azure).

One ``<testsuite>`` (inside ``<testsuites>``), one ``<testcase>`` per checked file (and per
other file a finding names), a ``<failure>`` per error finding, and warnings, infos and
waived findings (of any severity, never failures) as the test case's ``<system-out>``.
Characters XML 1.0 cannot carry are replaced with U+FFFD, so the document is always
well-formed.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape, quoteattr

from gitrot.core.findings import Severity

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gitrot.core.findings import Finding
    from gitrot.report import Meta

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render(findings: Sequence[Finding], meta: Meta) -> str:
    by_file: dict[str, list[Finding]] = {path: [] for path in meta.checked_files}
    for finding in findings:
        by_file.setdefault(finding.path, []).append(finding)
    failures = sum(_fails(f) for f in findings)
    suite = f"gitrot {meta.command}"
    counts = f'tests="{len(by_file)}" failures="{failures}" errors="0" skipped="0"'
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<testsuites name={_attr(suite)} {counts}>",
        f"  <testsuite name={_attr(suite)} {counts}>",
        f'    <properties><property name="gitrot.version" value={_attr(meta.tool_version)}/>'
        "</properties>",
    ]
    for path, items in by_file.items():
        name = _attr(path or "(repository)")
        head = f'    <testcase classname={_attr(suite)} name={name} file={_attr(path)} time="0"'
        if not items:
            lines.append(head + "/>")
            continue
        lines.append(head + ">")
        out = []
        for finding in items:
            if _fails(finding):
                lines.append(
                    f"      <failure message={_attr(f'[{finding.rule_id}] {finding.message}')}"
                    f" type={_attr(finding.rule_id)}>{_text(_describe(finding))}</failure>"
                )
            else:
                out.append(_describe(finding))
        if out:
            lines.append(f"      <system-out>{_text(chr(10).join(out))}</system-out>")
        lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>"]
    return "\n".join(lines) + "\n"


def _fails(finding: Finding) -> bool:
    return finding.severity == Severity.ERROR and not finding.waived


def _describe(finding: Finding) -> str:
    where = finding.location() or "gitrot"
    text = f"{where}: {finding.severity}: [{finding.rule_id}] {finding.message}"
    if finding.waived:
        text += f" [{finding.waived}]"
    return text + (f"\nhint: {finding.hint}" if finding.hint else "")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _attr(text: str) -> str:
    return quoteattr(_clean(text), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _text(text: str) -> str:
    return escape(_clean(text))
