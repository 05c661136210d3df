"""SARIF 2.1.0: valid against the schema gitrot ships, and what code scanning reads."""

from __future__ import annotations

import json

import pytest

from gitrot import resources
from gitrot.core.findings import Finding
from gitrot.report import render

from .conftest import CHECKED

jsonschema = pytest.importorskip("jsonschema")


def _validate(document: object) -> None:
    schema = json.loads(resources.schema_text("sarif-schema-2.1.0.json"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


@pytest.mark.parametrize("count", [0, 4])
def test_sarif_is_valid_against_the_shipped_schema(count: int, findings: list[Finding]) -> None:
    out = render(findings[:count], "sarif", tool_version="1.2.3", checked_files=CHECKED)
    _validate(json.loads(out))


def test_sarif_driver_results_and_locations(findings: list[Finding]) -> None:
    doc = json.loads(render(findings, "sarif", tool_version="1.2.3"))
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("gitrot", "1.2.3")
    assert driver["informationUri"].startswith("https://")
    rules = driver["rules"]
    assert [r["id"] for r in rules] == ["schema", "secret-string", "waiver-unused"]
    assert rules[0]["shortDescription"]["text"] != "schema" and rules[0]["help"]["text"]
    assert rules[1]["shortDescription"]["text"] == "secret-string"  # unknown: its id
    results = run["results"]
    assert [r["level"] for r in results] == ["error", "note", "warning", "error"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    no_line = results[0]["locations"][0]["physicalLocation"]
    assert no_line == {"artifactLocation": {"uri": "gitrot.yaml", "uriBaseId": "%SRCROOT%"}}
    located = results[3]["locations"][0]["physicalLocation"]
    assert located["region"] == {"startLine": 9, "startColumn": 5}
    assert results[3]["message"]["text"] == "spec.version must be >= 1\nhint: bump"
    assert results[2]["locations"][0]["physicalLocation"]["region"] == {"startLine": 3}
    assert results[2]["partialFingerprints"] == {"gitrot/v1": "f00d"}
    assert "partialFingerprints" not in results[3]


def test_sarif_uris_are_relative_and_encoded() -> None:
    finding = Finding("r", "error", "secrets/my dir/100%.yaml", 1, 1, "m")
    nowhere = Finding("r", "warning", "", 0, 0, "about the repository")
    doc = json.loads(render([finding, nowhere], "sarif", tool_version="0"))
    _validate(doc)
    results = doc["runs"][0]["results"]
    assert "locations" not in results[0]
    uri = results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "secrets/my%20dir/100%25.yaml"


def test_sarif_rule_descriptions_can_be_passed_in() -> None:
    finding = Finding("custom", "info", "f", 1, 1, "m")
    doc = json.loads(
        render([finding], "sarif", tool_version="0", rules={"custom": ("Short", "Longer help")})
    )
    (rule,) = doc["runs"][0]["tool"]["driver"]["rules"]
    assert rule == {
        "id": "custom",
        "shortDescription": {"text": "Short"},
        "help": {"text": "Longer help"},
    }


def test_sarif_version_defaults_to_the_installed_one() -> None:
    doc = json.loads(render([], "sarif"))
    assert doc["runs"][0]["tool"]["driver"]["version"]
