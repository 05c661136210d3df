"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning (and IDEs), one run of gitrot.

What GitHub's ingestion rules ask (Microsoft's SARIF Multitool checks them in the tests:
``validate --rule-kind "Gh;Sarif"``), and how gitrot meets them:

- Rules: every rule has a short and a full description, help as text and Markdown,
  ``properties.tags`` (``security`` and the rule's family), ``precision``, and, for the
  secret scanner's rules, ``security-severity`` (:mod:`gitrot.report.rulehelp`). There is
  no ``helpUri``: code scanning does not read it, and the help is self-contained.
- Levels: error -> ``error``, warning -> ``warning``, info -> ``note``.
- Locations: every result has one, a repository-relative URI (base ``%SRCROOT%``) and a
  region with start and end line and column. A finding with no line is at line 1, column
  1; a finding in a commit message is at the message's line in the placeholder artifact
  :data:`COMMIT_MESSAGE_URI` (git never tracks a file there); a finding about no file at
  all is at line 1 of the policy's gitrot.yaml.
- Fingerprints: code scanning only reads ``partialFingerprints.primaryLocationLineHash``.
  gitrot sets it to ``<16 hex digits>:<n>``, a SHA-256 of the rule, the file and the message
  (never of the line, which may hold the secret: the value upload-sarif would compute is an
  unkeyed hash of that line) and ``n`` counting equal hashes in the file, so the same
  secret in two places is two alerts and an alert follows its finding when lines move.
  upload-sarif, which computes its own value for results in files it can read, warns that
  it found an "inconsistent fingerprint" and keeps gitrot's. The scanner's fingerprint of
  the secret (the allowlist's key) is ``properties.fingerprint``.
- A cap: code scanning rejects a run with more than :data:`MAX_RESULTS` results. Above
  it the most severe are kept (errors, then warnings, then notes, waived findings last)
  and the run says how many were left out: ``properties.omittedResults`` (and
  ``omittedBySeverity``), and a warning in ``invocations[0].toolExecutionNotifications``.
- Waived findings: code scanning ignores ``suppressions`` (an alert stays open), so a
  waived finding is a ``note``, whatever its severity, with an accepted external
  suppression for the tools that read one, and its waiver's note in the message and in
  ``properties.waived``. Only the secret scanner's rules carry a security severity, and
  no waiver covers them; a waived finding therefore blocks a "Require code scanning
  results" ruleset only at the Alerts threshold "All".
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from hashlib import sha256
from typing import Any
from urllib.parse import quote

from gitrot.core.findings import Finding, Severity, plural
from gitrot.core.layout import CONFIG_FILE
from gitrot.report import Meta
from gitrot.report.rulehelp import RuleHelp, rule_help

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
#: the one partialFingerprints key code scanning reads
LINE_HASH = "primaryLocationLineHash"
#: code scanning rejects a run with more results than this
MAX_RESULTS = 25_000
#: where a finding in a commit message is placed (a path git never tracks)
COMMIT_MESSAGE_URI = ".git/COMMIT_EDITMSG"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_WAIVED = "waived"


def render(findings: Sequence[Finding], meta: Meta) -> str:
    return json.dumps(document(findings, meta), indent=2, ensure_ascii=False) + "\n"


def document(findings: Sequence[Finding], meta: Meta) -> dict[str, Any]:
    kept, omitted = cap(findings, MAX_RESULTS)
    rule_ids = sorted({f.rule_id for f in kept})
    helps = [rule_help(rule_id, meta) for rule_id in rule_ids]
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    driver = {
        "name": "gitrot",
        "version": meta.tool_version,
        # no informationUri: it is optional, and gitrot has no hosted page to point at
        "rules": [_rule(h) for h in helps],
    }
    config = _config_path(meta)
    counts: dict[str, int] = {}
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {
            "%SRCROOT%": {"description": {"text": "the root of the git repository"}}
        },
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index[f.rule_id], config, counts) for f in kept],
        "properties": {
            "findings": len(findings),
            "resultLimit": MAX_RESULTS,
            "omittedResults": sum(omitted.values()),
        },
    }
    if omitted:
        run["properties"]["omittedBySeverity"] = omitted
        run["invocations"] = [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [_left_out(len(findings), omitted, meta)],
            }
        ]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def cap(findings: Sequence[Finding], limit: int) -> tuple[list[Finding], dict[str, int]]:
    """(the ``limit`` most severe of ``findings`` in their order, the count left out of
    each severity: ``error``, ``warning``, ``info``, ``waived``; none when all are kept).
    Errors come first, then warnings, then infos, waived findings last; report order
    within each."""
    if len(findings) <= limit:
        return list(findings), {}
    order = sorted(range(len(findings)), key=lambda i: (_rank(findings[i]), i))
    chosen = set(order[:limit])
    omitted: dict[str, int] = {}
    for i in order[limit:]:
        key = _WAIVED if findings[i].waived else findings[i].severity
        omitted[key] = omitted.get(key, 0) + 1
    return [f for i, f in enumerate(findings) if i in chosen], omitted


def _rank(finding: Finding) -> int:
    return len(Severity.RANK) if finding.waived else Severity.RANK[finding.severity]


def _left_out(total: int, omitted: dict[str, int], meta: Meta) -> dict[str, Any]:
    left = sum(omitted.values())
    kinds = ", ".join(
        plural(omitted[key], key) if key != _WAIVED else f"{omitted[key]} waived"
        for key in (*Severity.ALL, _WAIVED)
        if key in omitted
    )
    return {
        "level": "warning",
        "descriptor": {"id": "results-omitted"},
        "message": {
            "text": f"{left} of {total} findings are not in this report ({kinds}): code "
            f"scanning takes at most {MAX_RESULTS} results per run, so the most severe were "
            f"kept. gitrot {meta.command} --format json lists every finding."
        },
    }


def _rule(rule: RuleHelp) -> dict[str, Any]:
    properties: dict[str, Any] = {"tags": rule.tags, "precision": rule.precision}
    if rule.security_severity:
        properties["security-severity"] = rule.security_severity
    return {
        "id": rule.id,
        "shortDescription": {"text": rule.short},
        "fullDescription": {"text": rule.full},
        "help": {"text": rule.help_text, "markdown": rule.help_markdown},
        "properties": properties,
    }


def _result(
    finding: Finding, rule_index: int, config: str, counts: dict[str, int]
) -> dict[str, Any]:
    text = finding.message
    if finding.waived:
        text = f"Waived: {text}\n{finding.waived}"
    if finding.hint:
        text += f"\nhint: {finding.hint}"
    uri, line, column = _place(finding, config)
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": "note" if finding.waived else _LEVELS[finding.severity],
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                    "region": {
                        "startLine": line,
                        "startColumn": column,
                        "endLine": line,
                        "endColumn": column + 1,
                    },
                }
            }
        ],
        "partialFingerprints": {LINE_HASH: _line_hash(finding, uri, counts)},
    }
    properties: dict[str, str] = {}
    if finding.fingerprint:
        properties["fingerprint"] = finding.fingerprint
    if finding.waived:
        properties[_WAIVED] = finding.waived
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": finding.waived}
        ]
    if properties:
        result["properties"] = properties
    return result


def _place(finding: Finding, config: str) -> tuple[str, int, int]:
    """(URI, line, column) of a finding's location (see the module)."""
    if finding.path and not finding.path.startswith("commit "):
        return _uri(finding.path), finding.line or 1, finding.column or 1

    commit = re.match(r"commit [0-9a-f]{4,64} message, line (\d+)", finding.message)
    if commit is not None:
        return COMMIT_MESSAGE_URI, max(int(commit.group(1)), 1), 1
    return _uri(config), 1, 1


def _config_path(meta: Meta) -> str:
    """The policy's gitrot.yaml among the checked files (from the top of the git tree),
    else at the top."""
    return min(
        (p for p in meta.checked_files if p.rsplit("/", 1)[-1] == CONFIG_FILE),
        key=len,
        default=CONFIG_FILE,
    )


def _line_hash(finding: Finding, uri: str, counts: dict[str, int]) -> str:
    """``<16 hex digits>:<n>``: a hash of what the finding is about, never of the file's
    text; ``n`` numbers equal hashes in report order."""
    digest = sha256(
        "\0".join(("gitrot/sarif/v1", finding.rule_id, uri, finding.message)).encode()
    ).hexdigest()[:16]
    counts[digest] = counts.get(digest, 0) + 1
    return f"{digest}:{counts[digest]}"


def _uri(path: str) -> str:
    """A relative URI reference of a repository path (``/`` kept, the rest percent-encoded)."""
    return quote(path.replace("\\", "/").lstrip("/"), safe="/")
