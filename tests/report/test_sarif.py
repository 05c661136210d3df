"""SARIF 2.1.0: valid against the schema gitrot ships, and what GitHub code scanning reads
(the Multitool runs GitHub's own ingestion rules in test_sarif_github.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest

from gitrot.core.findings import RULES, Finding
from gitrot.files import resources
from gitrot.report import render
from gitrot.report.sarif import COMMIT_MESSAGE_URI, LINE_HASH, MAX_RESULTS, cap

from .conftest import CHECKED

HASH = re.compile(r"[0-9a-f]{16}:[1-9][0-9]*")
REGION = ("startLine", "startColumn", "endLine", "endColumn")


def _validate(document: object) -> None:
    schema = json.loads(resources.schema_text("sarif-schema-2.1.0.json"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def _run(findings: list[Finding], **kwargs: Any) -> dict[str, Any]:
    doc = json.loads(render(findings, "sarif", tool_version="1.2.3", **kwargs))
    _validate(doc)
    (run,) = doc["runs"]
    return dict(run)


def _physical(result: dict[str, Any]) -> dict[str, Any]:
    (location,) = result["locations"]
    return dict(location["physicalLocation"])


@pytest.mark.parametrize("count", [0, 4])
def test_sarif_is_valid_against_the_shipped_schema(count: int, findings: list[Finding]) -> None:
    _run(findings[:count], checked_files=CHECKED)


def test_sarif_driver_results_and_locations(findings: list[Finding]) -> None:
    doc = json.loads(render(findings, "sarif", tool_version="1.2.3"))
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("gitrot", "1.2.3")
    rules = driver["rules"]
    assert [r["id"] for r in rules] == ["schema", "secret-string", "waiver-unused"]
    assert rules[1]["shortDescription"]["text"] == "secret-string"  # unknown: its id
    results = run["results"]
    assert [r["level"] for r in results] == ["error", "note", "warning", "error"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    assert results[3]["message"]["text"] == "spec.version must be >= 1\nhint: bump"
    assert run["properties"] == {"findings": 4, "resultLimit": MAX_RESULTS, "omittedResults": 0}
    assert "invocations" not in run


def test_every_result_has_a_location_with_a_whole_region(findings: list[Finding]) -> None:
    """GitHub drops a result without a location (GH1015/GH1017) and reads start and end."""
    results = _run(findings)["results"]
    places = [
        (p["artifactLocation"]["uri"], *(p["region"][k] for k in REGION))
        for p in map(_physical, results)
    ]
    assert places == [
        ("gitrot.yaml", 1, 1, 1, 2),  # no line: the first character of the file
        ("gitrot.yaml", 4, 2, 4, 3),
        ("secrets/a.yaml", 3, 1, 3, 2),  # a line, no column
        ("secrets/a.yaml", 9, 5, 9, 6),
    ]
    assert all(_physical(r)["artifactLocation"]["uriBaseId"] == "%SRCROOT%" for r in results)


def test_sarif_uris_are_relative_and_encoded() -> None:
    finding = Finding("r", "error", "secrets/my dir/100%.yaml", 1, 1, "m")
    (result,) = _run([finding])["results"]
    assert _physical(result)["artifactLocation"]["uri"] == "secrets/my%20dir/100%25.yaml"


def test_a_commit_message_finding_is_at_its_line_of_the_commit_message() -> None:
    """A secret in a commit message is at a placeholder GitHub takes (git tracks no file
    there), at the message's line; one about no file at all is at the policy's gitrot.yaml."""
    message = Finding(
        "github-token", "error", "", 0, 0, "commit 0123456789ab message, line 3: GitHub token"
    )
    nowhere = Finding("rule-budget", "error", "", 0, 0, "3 rules went over their cost bound")
    results = _run([message, nowhere], checked_files=["infra/policy/gitrot.yaml"])["results"]
    first, second = map(_physical, results)
    assert first["artifactLocation"]["uri"] == COMMIT_MESSAGE_URI == ".git/COMMIT_EDITMSG"
    assert first["region"] == {"startLine": 3, "startColumn": 1, "endLine": 3, "endColumn": 2}
    assert second["artifactLocation"]["uri"] == "infra/policy/gitrot.yaml"
    assert second["region"]["startLine"] == 1


def test_every_result_has_a_line_hash_and_the_same_secret_twice_is_two_alerts() -> None:
    """Code scanning only reads primaryLocationLineHash; equal hashes in one file would be
    one alert. The secret's own (keyed) fingerprint is a property, not the identity."""
    token = [
        Finding("github-token", "error", "app/a.env", line, 5, "GitHub token", fingerprint="hmac:1")
        for line in (2, 7)
    ]
    elsewhere = Finding(
        "github-token", "error", "app/b.env", 2, 5, "GitHub token", fingerprint="hmac:1"
    )
    policy = Finding("max-age", "warning", "secrets/db.yaml", 4, 3, "the secret is older")
    results = _run([*token, elsewhere, policy])["results"]
    hashes = [r["partialFingerprints"] for r in results]
    assert all(list(h) == [LINE_HASH] and HASH.fullmatch(h[LINE_HASH]) for h in hashes)
    assert len({h[LINE_HASH] for h in hashes}) == 4
    assert [h[LINE_HASH].split(":")[1] for h in hashes[:2]] == ["1", "2"]
    assert [r.get("properties", {}).get("fingerprint") for r in results] == [
        "hmac:1",
        "hmac:1",
        "hmac:1",
        None,
    ]
    assert "hmac:1" not in json.dumps(hashes)


def test_the_line_hash_is_stable_when_lines_move() -> None:
    """The same finding after an edit above it keeps its alert; another rule does not."""
    before = Finding("max-age", "warning", "secrets/db.yaml", 4, 3, "the secret is older")
    after = Finding("max-age", "warning", "secrets/db.yaml", 9, 3, "the secret is older")
    other = Finding("min-interval", "error", "secrets/db.yaml", 4, 3, "the secret is older")
    (a,), (b,), (c,) = (_run([f])["results"] for f in (before, after, other))
    assert a["partialFingerprints"] == b["partialFingerprints"] != c["partialFingerprints"]


# -- rules -------------------------------------------------------------------------------


def _known_rules() -> dict[str, tuple[str, str]]:
    """Every rule gitrot ships, described as the commands describe them."""
    from gitrot.judge import changes
    from gitrot.policy import rules as rules_module

    return {**RULES, **changes.RULES, **rules_module.describe(rules_module.builtin_rules())}


def _rules(rule_ids: list[str], described: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    findings = [Finding(rule_id, "error", "f.yaml", 1, 1, "m") for rule_id in rule_ids]
    return list(_run(findings, rules=described)["tool"]["driver"]["rules"])


def test_every_rule_has_what_code_scanning_shows() -> None:
    """GH2012: fullDescription; help as text and Markdown; tags, precision (GitHub sorts by
    it); no pointer to documents users do not have; GitHub's 1024-character limits."""
    from gitrot.scan.detectors import RULES as SCANNER

    described = _known_rules()
    rule_ids = sorted({*described, *SCANNER})
    rules = _rules(rule_ids, described)
    assert [r["id"] for r in rules] == rule_ids and len(rule_ids) > 40
    for rule in rules:
        short, full = rule["shortDescription"]["text"], rule["fullDescription"]["text"]
        assert short and short != rule["id"] and len(short) <= 1024, rule
        assert full and len(full) <= 1024, rule
        assert rule["help"]["text"] and rule["help"]["markdown"], rule
        assert rule["properties"]["tags"][0] == "security", rule
        assert rule["properties"]["precision"] in ("very-high", "high", "medium", "low"), rule
        assert "helpUri" not in rule
        text = json.dumps(rule)
        for absent in ("DESIGN.md", "SOPS.md", "gitrot.dev", "STYLE.md"):
            assert absent not in text, (rule["id"], absent)


def test_scanner_rules_are_security_rules_with_real_descriptions() -> None:
    from gitrot.scan.detectors import RULES as SCANNER

    rules = {r["id"]: r for r in _rules(sorted(SCANNER), {})}
    for rule_id, rule in rules.items():
        props = rule["properties"]
        assert rule["fullDescription"]["text"] != SCANNER[rule_id]
        assert "secret" in props["tags"]
        if rule_id == "allow-without-reason":
            assert "security-severity" not in props  # a comment, not a credential
            continue
        # >= 7.0 (high): a ruleset's "High or higher" security threshold blocks every one
        assert 7.0 <= float(props["security-severity"]) <= 10.0, rule_id
        assert "external/cwe/cwe-798" in props["tags"]
        assert "Revoke it" in rule["help"]["text"]
    assert rules["github-token"]["shortDescription"]["text"].startswith("GitHub token")


def test_policy_rules_are_not_security_severity_rules() -> None:
    """A waivable rule has no security severity: a waived finding is then a note for every
    merge-protection threshold but Alerts: All."""
    described = _known_rules()
    for rule in _rules(sorted(described), described):
        assert "security-severity" not in rule["properties"], rule["id"]


def test_sarif_rule_descriptions_can_be_passed_in() -> None:
    (rule,) = _rules(["custom"], {"custom": ("Short", "Longer help")})
    assert rule["shortDescription"] == {"text": "Short"}
    assert rule["fullDescription"] == {"text": "Short. Longer help"}
    assert "Longer help" in rule["help"]["text"] and "Longer help" in rule["help"]["markdown"]


def test_a_policy_rule_gets_its_hint_as_what_to_do() -> None:
    described = {"r": ("Secrets are fresh. They say so at length.", "rotate it: gitrot *x*")}
    (rule,) = _rules(["r"], described)
    assert rule["shortDescription"]["text"] == "Secrets are fresh."
    assert rule["fullDescription"]["text"] == "Secrets are fresh. They say so at length."
    assert "What to do: rotate it: gitrot *x*" in rule["help"]["text"]
    assert "rotate it: gitrot \\*x\\*" in rule["help"]["markdown"]  # Markdown-escaped


def test_a_long_description_is_clipped_at_a_word() -> None:
    (rule,) = _rules(["r"], {"r": ("word " * 400 + ".", "")})
    full = rule["fullDescription"]["text"]
    assert len(full) <= 1024 and full.endswith("word\u2026")
    assert len(rule["help"]["text"]) > 2000  # the help keeps it all


# -- waived findings -----------------------------------------------------------------------


def test_a_waived_finding_is_a_note_with_an_accepted_suppression() -> None:
    """Code scanning ignores suppressions (the alert stays open): the level is what keeps a
    waived finding from blocking a merge."""
    waived = Finding(
        "min-interval", "error", "secrets/db.yaml", 11, 3, "rotated too soon",
        waived="waived by alice until 2030-01-01 (waivers.yaml:4)",
    )  # fmt: skip
    (result,) = _run([waived])["results"]
    assert result["level"] == "note"
    assert result["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "waived by alice until 2030-01-01 (waivers.yaml:4)",
        }
    ]
    assert result["properties"]["waived"].startswith("waived by alice")
    assert result["message"]["text"].startswith("Waived: rotated too soon\nwaived by alice")
    (unwaived,) = _run([Finding(*waived._fields()[:8])])["results"]
    assert unwaived["partialFingerprints"] == result["partialFingerprints"]  # the same alert


# -- the cap -------------------------------------------------------------------------------


def test_the_cap_keeps_the_most_severe_in_report_order() -> None:
    findings = [
        Finding("r", "info", "a", 1, 1, "i1"),
        Finding("r", "error", "a", 2, 1, "e1", waived="waived"),
        Finding("r", "warning", "a", 3, 1, "w1"),
        Finding("r", "error", "a", 4, 1, "e2"),
        Finding("r", "warning", "a", 5, 1, "w2"),
    ]
    kept, omitted = cap(findings, 3)
    assert [f.message for f in kept] == ["w1", "e2", "w2"]
    assert omitted == {"info": 1, "waived": 1}
    assert cap(findings, 5) == (findings, {})


def test_more_findings_than_code_scanning_takes() -> None:
    """GitHub rejects a run with more than 25,000 results: the report keeps 25,000, the
    errors first, and says how many were left out, in the run's properties and as a
    notification."""
    findings = [
        Finding("high-entropy-secret", "error", f"config/{i // 1000}.yaml", i % 1000 + 1, 8, "s")
        for i in range(25_000)
    ]
    findings += [Finding("max-age", "warning", "secrets/db.yaml", i, 1, "old") for i in (1, 2)]
    findings += [Finding("waiver-unused", "info", "waivers.yaml", 3, 1, "unused")] * 1
    doc = json.loads(render(findings, "sarif", tool_version="1.2.3", command="check"))
    (run,) = doc["runs"]
    assert len(run["results"]) == MAX_RESULTS
    assert {r["level"] for r in run["results"]} == {"error"}
    assert run["properties"] == {
        "findings": 25_003,
        "resultLimit": 25_000,
        "omittedResults": 3,
        "omittedBySeverity": {"warning": 2, "info": 1},
    }
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is True
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "warning"
    assert note["message"]["text"].startswith(
        "3 of 25003 findings are not in this report (2 warnings, 1 info)"
    )
    assert "gitrot check --format json" in note["message"]["text"]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["high-entropy-secret"]
    assert len({r["partialFingerprints"][LINE_HASH] for r in run["results"]}) == MAX_RESULTS


def test_sarif_version_defaults_to_the_installed_one() -> None:
    doc = json.loads(render([], "sarif"))
    assert doc["runs"][0]["tool"]["driver"]["version"]
