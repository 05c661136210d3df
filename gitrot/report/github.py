"""``--format github``: GitHub Actions workflow commands (annotations on the PR diff).

``::error file=PATH,line=L,col=C,title=[RULE]::MESSAGE``; warnings are ``::warning``, infos
``::notice``. Escaping follows the Actions runner (``ActionCommand``): in the message ``%``,
``\\r``, ``\\n``; in property values also ``:`` and ``,``. A hint follows the message on a
second line (``%0A``), which the annotation shows. A waived finding is a ``::notice``
whatever its severity, with its waiver on a last line: visible, never failing the check.
"""

from __future__ import annotations

from gitrot.core.findings import Severity

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gitrot.core.findings import Finding
    from gitrot.report import Meta

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def render(findings: Sequence[Finding], meta: Meta) -> str:
    del meta
    return "".join(command(f) + "\n" for f in findings)


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
    level = _COMMANDS[finding.severity]
    if finding.waived:
        level = _COMMANDS[Severity.INFO]
        message += f"\n{finding.waived}"
    return f"::{level} {','.join(properties)}::{escape_data(message)}"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
