"""Python rules: gitrot's built-in ones and rules other packages register under the
``gitrot.rules`` entry-point group."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gitrot import plugins
from gitrot.core.models import Config, GeneratedValue, RotationIntent
from gitrot.errors import InputError
from gitrot.policy import engine
from gitrot.policy.rules import load_rules

NOW = datetime(2025, 1, 31, 12, tzinfo=UTC)
ENC = "ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]"

RULE_MODULE = """
class OwnerIsATeam:
    id = "owner-is-a-team"
    severity = "warning"
    description = "Owners are teams, so a rotation never waits for one person."
    hint = "set metadata.owner to a team-... name"
    select = {"environment": "prod"}

    def check(self, document):
        owner = document["intent"]["metadata"]["owner"]
        if not owner.startswith("team-"):
            yield ("metadata.owner", f"metadata.owner {owner!r} is not a team")


class Broken:
    id = "broken"
    severity = "error"
    description = "raises"
    hint = "fix it"

    def check(self, document):
        raise KeyError("spec.nothing")


class BadYield:
    id = "bad-yield"
    severity = "error"
    description = "yields a string"
    hint = "fix it"

    def check(self, document):
        yield "not a pair"


class NoCheck:
    id = "no-check"
    severity = "error"
    description = "d"
    hint = "h"


class BadSeverity:
    id = "bad-severity"
    severity = "fatal"
    description = "d"
    hint = "h"

    def check(self, document):
        return []
"""


def site(tmp_path: Path, entries: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder that looks like site-packages with one distribution registering rules."""
    folder = tmp_path / "site"
    info = folder / "acme_gitrot-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "entry_points.txt").write_text(
        "[console_scripts]\nacme = acme_gitrot:main\n\n[gitrot.rules]\n" + entries
    )
    (folder / "acme_gitrot_rules.py").write_text(RULE_MODULE)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "acme_gitrot_rules", raising=False)
    return folder


def intent(owner: str = "alice", environment: str = "prod") -> RotationIntent:
    return RotationIntent(
        name="payments/db-password",
        owner=owner,
        environment=environment,
        rotation_class="database-password",
        version=2,
        reason="Scheduled rotation",
        backend="local",
        ref=ENC,
        value=GeneratedValue(32),
        lines={"metadata.owner": (6, 5)},
    )


def config() -> Config:
    from gitrot.files.repo import parse_config

    return parse_config(
        "apiVersion: gitrot/v1\nkind: Config\n"
        "recipients: {reconciler: age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq}\n"
        "backends: {local: {type: local, path: .gitrot/store}}\n"
        "classes: {database-password: {max_age: 90d}}\n"
    )


def test_entry_points_are_read_from_dist_info(tmp_path: Path, monkeypatch) -> None:
    folder = site(tmp_path, "owner = acme_gitrot_rules:OwnerIsATeam\n", monkeypatch)
    assert plugins.entry_points("gitrot.rules", [str(folder)]) == [
        ("acme-gitrot", "owner", "acme_gitrot_rules:OwnerIsATeam")
    ]
    assert plugins.entry_points("console_scripts", [str(folder)]) == [
        ("acme-gitrot", "acme", "acme_gitrot:main")
    ]
    # gitrot's own distribution registers no third-party rules; nothing else is installed
    assert all(dist != "gitrot" for dist, _n, _t in plugins.entry_points("gitrot.rules"))


def test_an_installed_rule_joins_the_pack_and_reports_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site(tmp_path, "owner = acme_gitrot_rules:OwnerIsATeam\n", monkeypatch)
    rules = load_rules(str(tmp_path), config())
    assert "owner-is-a-team" in [rule.id for rule in rules]
    found = engine.evaluate(rules, [intent(), intent(owner="team-payments")], config(), now=NOW)
    mine = [f for f in found if f.rule_id == "owner-is-a-team"]
    assert len(mine) == 1
    assert (mine[0].severity, mine[0].line, mine[0].column) == ("warning", 6, 5)
    assert mine[0].message == "metadata.owner 'alice' is not a team"
    # its selector: staging intents are not judged
    staging = engine.evaluate(rules, [intent(environment="staging")], config(), now=NOW)
    assert not [f for f in staging if f.rule_id == "owner-is-a-team"]


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("acme_gitrot_rules:NoCheck", r"check\(document\) is missing"),
        ("acme_gitrot_rules:BadSeverity", "severity 'fatal' is not valid"),
        ("acme_gitrot_rules:Missing", r"cannot load the rule \(AttributeError"),
        ("no_such_module:Rule", r"cannot load the rule \(ModuleNotFoundError"),
    ],
)
def test_a_bad_installed_rule_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, problem: str
) -> None:
    site(tmp_path, f"bad = {target}\n", monkeypatch)
    with pytest.raises(InputError, match=problem) as info:
        load_rules(str(tmp_path), config())
    assert info.value.exit_code == 2
    assert info.value.where.startswith("entry point gitrot.rules: bad = ")


@pytest.mark.parametrize(
    ("target", "problem"), [("Broken", "KeyError"), ("BadYield", r"not a \(field, message\) pair")]
)
def test_a_python_rule_that_fails_never_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, problem: str
) -> None:
    site(tmp_path, f"r = acme_gitrot_rules:{target}\n", monkeypatch)
    rules = load_rules(str(tmp_path), config())
    with pytest.raises(InputError, match=problem) as info:
        engine.evaluate(rules, [intent()], config(), now=NOW)
    assert info.value.exit_code == 2
    assert "cannot judge secrets/payments/db-password.yaml" in info.value.message


def test_an_installed_rule_cannot_reuse_a_built_in_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = site(tmp_path, "dup = acme_gitrot_rules:Dup\n", monkeypatch)
    (folder / "acme_gitrot_rules.py").write_text(
        RULE_MODULE + "\nclass Dup(OwnerIsATeam):\n    id = 'max-age'\n"
    )
    with pytest.raises(InputError, match="duplicate rule id 'max-age'"):
        load_rules(str(tmp_path), config())
