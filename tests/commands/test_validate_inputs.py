"""``gitrot validate``: what the work tree gives the judging pipeline when its files are odd
(a linked intent, a broken gitrot.yaml with only intents named, a .sops.yaml whose rules do
not load, match nothing, or are a link), each asserted on the findings and the exit code."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

NAME = "payments/db-password"
INTENT = f"secrets/{NAME}.yaml"


@pytest.fixture
def policy(gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "policy"
    assert gitrot("init", str(root)).code == 0
    monkeypatch.chdir(root)
    new = ("new", NAME, "--backend", "local", "--ref", "db/payments", "--owner", "team-payments")
    result = gitrot(*new, "--class", "database-password", "--environment", "prod")
    assert result.code == 0, result.err
    return root


def validate(gitrot, *files: str) -> tuple[int, list[dict[str, object]]]:
    result = gitrot("validate", "--format", "json", *files)
    assert result.code in (0, 1), result.err
    return result.code, json.loads(result.out)


def at(found: list[dict[str, object]], path: str) -> list[tuple[object, ...]]:
    return [(f["rule_id"], f["line"], f["message"]) for f in found if f["file"] == path]


def test_a_linked_intent_is_refused(gitrot, policy: Path) -> None:
    os.rename(policy / INTENT, policy / "secrets/payments/real.txt")
    os.symlink("real.txt", policy / INTENT)
    code, found = validate(gitrot, INTENT)
    assert code == 1
    assert at(found, INTENT) == [
        ("schema", 0, "is a symbolic link: gitrot reads its policy files as regular files only")
    ]


def test_a_broken_config_is_reported_when_only_an_intent_is_named(gitrot, policy: Path) -> None:
    config = policy / "gitrot.yaml"
    config.write_text(config.read_text() + "backends: [\n")
    code, found = validate(gitrot, INTENT)
    assert code == 1 and [f["rule_id"] for f in found] == ["schema"]
    assert found[0]["file"] == "gitrot.yaml"


def test_a_sops_config_that_does_not_load_is_a_finding(gitrot, policy: Path) -> None:
    (policy / ".sops.yaml").write_text("creation_rules: {}\n")
    code, found = validate(gitrot, INTENT)
    assert code == 1 and [f["rule_id"] for f in found if f["file"] == ".sops.yaml"] == ["schema"]


def test_a_linked_sops_config_is_a_finding(gitrot, policy: Path) -> None:
    os.rename(policy / ".sops.yaml", policy / "sops.txt")
    os.symlink("sops.txt", policy / ".sops.yaml")
    code, found = validate(gitrot, INTENT)
    assert code == 1
    assert [f["message"] for f in found if f["file"] == ".sops.yaml"] == [
        "is a symbolic link: gitrot reads its policy files as regular files only"
    ]


def test_a_bad_path_regex_is_a_finding_at_its_line(gitrot, policy: Path) -> None:
    sops = policy / ".sops.yaml"
    sops.write_text(sops.read_text().replace(r"^secrets/.*\.yaml$", "^secrets/(.yaml$"))
    code, found = validate(gitrot, INTENT)
    assert code == 1
    problems = at(found, ".sops.yaml")
    assert len(problems) == 1 and problems[0][0] == "schema" and problems[0][1] > 0
    assert "path_regex is not a valid regular expression" in str(problems[0][2])


def test_an_intent_no_creation_rule_matches_has_no_rule(gitrot, policy: Path) -> None:
    sops = policy / ".sops.yaml"
    sops.write_text(sops.read_text().replace(r"^secrets/.*\.yaml$", r"^elsewhere/.*\.yaml$"))
    assert validate(gitrot, INTENT) == (0, [])  # nothing to compare its encryption with
