"""``--format junit``: JUnit XML for CI test-report views (GitLab, Jenkins, Azure).

The document follows Jenkins' ``junit-10.xsd`` (what pytest's ``xunit2`` family writes, and
what Jenkins, GitLab and Azure read): one ``<testsuite>`` inside ``<testsuites>``, and

- one ``<testcase>`` per finding, named by where it is (``secrets/a.yaml:9:5 [schema]``,
  ``commit 0123abcd4567: message, line 2 [aws-access-key]``), with exactly one child: a
  ``<failure>`` for an error, a ``<skipped>`` for a waived finding (of any severity), a
  ``<system-out>`` for a warning or an info (a passed test that says what it saw);
- one passed ``<testcase>`` per checked file without findings, named by its path.

So ``tests``, ``failures`` and ``skipped`` count test cases and always agree with them
(GitLab counts a test case with two failures once), and no two test cases share a
``classname`` and ``name`` (GitLab keeps only the first of those). ``classname`` is the
command (``gitrot validate``); the file is in ``name`` and the failure text, never in a
``file`` attribute (the schema has none). Characters XML 1.0 cannot carry are replaced with
U+FFFD, so the document is always well-formed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from gitrot.core.findings import Finding, Severity
from gitrot.report import Meta

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: what the PR check's commit-message findings start with (gitrot.judge.scan.scan_change)
_COMMIT = re.compile(r"commit ([0-9a-f]{7,40}) message(?:, line (\d+))?")


def render(findings: Sequence[Finding], meta: Meta) -> str:
    suite = f"gitrot {meta.command}"
    named: set[str] = set()
    cases: list[str] = []
    failures = skipped = 0
    for finding in findings:
        name = _unique(_name(finding), named)
        if finding.waived:
            skipped += 1
            body = (
                f"<skipped message={_attr(finding.waived)} type={_attr(finding.rule_id)}>"
                f"{_text(_describe(finding))}</skipped>"
            )
        elif finding.severity == Severity.ERROR:
            failures += 1
            body = (
                f"<failure message={_attr(f'[{finding.rule_id}] {finding.message}')}"
                f" type={_attr(finding.rule_id)}>{_text(_describe(finding))}</failure>"
            )
        else:
            body = f"<system-out>{_text(_describe(finding))}</system-out>"
        cases.append(_case(suite, name, body))
    with_findings = {finding.path for finding in findings}
    for path in meta.checked_files:
        if path not in with_findings:
            cases.append(_case(suite, _unique(path or "(repository)", named), ""))
    tests = len(cases)
    counts = f'tests="{tests}" failures="{failures}" errors="0"'
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name={_attr(suite)} {counts} time="0">',
        f'  <testsuite name={_attr(suite)} {counts} skipped="{skipped}" time="0">',
        f'    <properties><property name="gitrot.version" value={_attr(meta.tool_version)}/>'
        "</properties>",
        *cases,
        "  </testsuite>",
        "</testsuites>",
    ]
    return "\n".join(lines) + "\n"


def _case(suite: str, name: str, body: str) -> str:
    head = f'    <testcase classname={_attr(suite)} name={_attr(name)} time="0"'
    return f"{head}/>" if not body else f"{head}>\n      {body}\n    </testcase>"


def _name(finding: Finding) -> str:
    """Where the finding is, and its rule: what a CI test view lists."""
    commit = _COMMIT.match(finding.message)
    if commit is not None:
        sha, line = commit.groups()
        where = f"commit {sha}: message" + (f", line {line}" if line else "")
    else:
        where = finding.location() or "(repository)"
    return f"{where} [{finding.rule_id}]"


def _unique(name: str, named: set[str]) -> str:
    """``name``, or ``name #2``, ``name #3``: the first not yet used (GitLab keys test cases
    by name and drops repeats)."""
    candidate, number = name, 1
    while candidate in named:
        number += 1
        candidate = f"{name} #{number}"
    named.add(candidate)
    return candidate


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
