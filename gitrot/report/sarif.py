"""``--format sarif``: SARIF 2.1.0 (GitHub code scanning, IDEs), one run of gitrot.

Levels: error -> ``error``, warning -> ``warning``, info -> ``note``. Locations are
repository-relative URIs (base ``%SRCROOT%``); the region is omitted when the line is
unknown. A finding's fingerprint becomes ``partialFingerprints["gitrot/v1"]``. A waived
finding keeps its level and carries an external suppression whose justification is the
waiver's note (code scanning shows it as dismissed, not as open).
Tests validate the output against ``gitrot/schemas/sarif-schema-2.1.0.json``.
"""

from __future__ import annotations

import json

from gitrot.core.findings import Severity
from gitrot.report import INFORMATION_URI

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from gitrot.core.findings import Finding
    from gitrot.report import Meta

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "gitrot/v1"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def render(findings: Sequence[Finding], meta: Meta) -> str:
    return json.dumps(document(findings, meta), indent=2, ensure_ascii=False) + "\n"


def document(findings: Sequence[Finding], meta: Meta) -> dict[str, Any]:
    rule_ids = sorted({f.rule_id for f in findings})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    driver = {
        "name": "gitrot",
        "version": meta.tool_version,
        "informationUri": INFORMATION_URI,
        "rules": [_rule(rule_id, meta) for rule_id in rule_ids],
    }
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "originalUriBaseIds": {
                    "%SRCROOT%": {"description": {"text": "the policy repository's root"}}
                },
                "columnKind": "unicodeCodePoints",
                "results": [_result(f, index[f.rule_id]) for f in findings],
            }
        ],
    }


def _rule(rule_id: str, meta: Meta) -> dict[str, Any]:
    short, help_text = meta.describe(rule_id)
    return {
        "id": rule_id,
        "shortDescription": {"text": short},
        "help": {"text": help_text or short},
    }


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    text = finding.message
    if finding.hint:
        text += f"\nhint: {finding.hint}"
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": text},
    }
    if finding.path:
        physical: dict[str, Any] = {
            "artifactLocation": {"uri": _uri(finding.path), "uriBaseId": "%SRCROOT%"}
        }
        if finding.line:
            region = {"startLine": finding.line}
            if finding.column:
                region["startColumn"] = finding.column
            physical["region"] = region
        result["locations"] = [{"physicalLocation": physical}]
    if finding.fingerprint:
        result["partialFingerprints"] = {FINGERPRINT_KEY: finding.fingerprint}
    if finding.waived:
        result["suppressions"] = [{"kind": "external", "justification": finding.waived}]
    return result


def _uri(path: str) -> str:
    """A relative URI reference of a repository path (``/`` kept, the rest percent-encoded)."""
    from urllib.parse import quote

    return quote(path.replace("\\", "/").lstrip("/"), safe="/")
