"""``--format github``: GitHub Actions workflow commands (annotations on the PR diff).

``::error file=PATH,line=L,col=C,title=[RULE]::MESSAGE``; warnings are ``::warning``, infos
``::notice``. Escaping follows the Actions runner (``ActionCommand``): in the message ``%``,
``\\r``, ``\\n``; in property values also ``:`` and ``,``. A hint follows the message on a
second line (``%0A``), which the annotation shows. A waived finding is a ``::notice``
whatever its severity, with its waiver on a last line: visible, never failing the check.

GitHub shows at most 10 annotations of each level per step (and 50 per job) and drops the
rest without a word, so at most :data:`MAX_PER_LEVEL` of each are written, errors first,
then warnings, then notices, each in report order. When some are left out, one last
``::notice`` counts them and points to the job summary, where
:func:`gitrot.report.publish_github_summary` puts the full list (that notice takes one of
the notices' places, so it is always shown).
"""

from __future__ import annotations

from collections.abc import Sequence

from gitrot.core.findings import Finding, Severity, plural
from gitrot.report import Meta

#: Annotations of one level that GitHub shows for one step.
MAX_PER_LEVEL = 10
_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
_LEVELS = tuple(_COMMANDS.values())  # the order they are written in: errors first


def render(findings: Sequence[Finding], meta: Meta) -> str:
    del meta
    groups: dict[str, list[Finding]] = {level: [] for level in _LEVELS}
    for finding in findings:
        groups[level(finding)].append(finding)
    shown = {name: group[:MAX_PER_LEVEL] for name, group in groups.items()}
    if _left_out(findings, shown):
        shown["notice"] = groups["notice"][: MAX_PER_LEVEL - 1]  # room for the count
    lines = [command(finding) for name in _LEVELS for finding in shown[name]]
    left_out = _left_out(findings, shown)
    if left_out:
        lines.append(
            f"::notice title=gitrot::{plural(left_out, 'more finding')} not annotated "
            f"(GitHub shows {MAX_PER_LEVEL} errors, {MAX_PER_LEVEL} warnings and "
            f"{MAX_PER_LEVEL} notices per step); the full list is in the job summary"
        )
    return "".join(line + "\n" for line in lines)


def _left_out(findings: Sequence[Finding], shown: dict[str, list[Finding]]) -> int:
    return len(findings) - sum(len(group) for group in shown.values())


def level(finding: Finding) -> str:
    """``error``, ``warning`` or ``notice``: a waived finding is a notice."""
    return _COMMANDS[Severity.INFO if finding.waived else finding.severity]


def command(finding: Finding) -> str:
    properties = []
    if finding.path:
        properties.append(f"file={escape_property(finding.path)}")
        if finding.line:
            properties.append(f"line={finding.line}")
            if finding.column:
                properties.append(f"col={finding.column}")
    properties.append(f"title={escape_property(f'[{finding.rule_id}]')}")
    message = finding.message + (f"\nhint: {finding.hint}" if finding.hint else "")
    if finding.waived:
        message += f"\n{finding.waived}"
    return f"::{level(finding)} {','.join(properties)}::{escape_data(message)}"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
