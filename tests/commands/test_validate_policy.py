"""validate with the whole built-in pack on real git repositories: the rules that compare
with HEAD (version-step, min-interval, freeze-window), read history (max-age), read
.sops.yaml (creation-rule-encrypted) and the recipients of gitrot.yaml."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

NAME = "payments/db-password"
INTENT = f"secrets/{NAME}.yaml"
OTHER_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"


def commit(root: Path, message: str, *, days_ago: float = 0) -> None:
    when = (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="Dev",
        GIT_AUTHOR_EMAIL="dev@example.com",
        GIT_COMMITTER_NAME="Dev",
        GIT_COMMITTER_EMAIL="dev@example.com",
        GIT_AUTHOR_DATE=when,
        GIT_COMMITTER_DATE=when,
    )
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", message], cwd=root, check=True, env=env)


@pytest.fixture
def policy(gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A policy repository with one database password, committed ``days_ago`` 10 days."""
    root = tmp_path / "policy"
    assert gitrot("init", str(root)).code == 0
    monkeypatch.chdir(root)
    new = ("new", NAME, "--backend", "local", "--ref", "db/payments", "--owner", "team-payments")
    result = gitrot(*new, "--class", "database-password", "--environment", "prod")
    assert result.code == 0, result.err
    commit(root, "add the payments database password", days_ago=10)
    return root


def findings(gitrot, *args: str) -> tuple[int, list[dict[str, object]]]:
    result = gitrot("validate", "--format", "json", *args)
    assert result.code in (0, 1), result.err
    return result.code, json.loads(result.out)


def ids(found: list[dict[str, object]]) -> list[str]:
    return sorted(str(f["rule_id"]) for f in found)


def test_a_clean_committed_repository_passes(gitrot, policy: Path) -> None:
    assert findings(gitrot) == (0, [])
    assert findings(gitrot, INTENT) == (0, [])


def test_a_rotation_one_day_apart_passes(gitrot, policy: Path) -> None:
    assert gitrot("rotate", NAME, "--reason", "Quarterly rotation CHG-2291").code == 0
    assert findings(gitrot, INTENT) == (0, [])


def test_a_second_rotation_too_soon_is_refused_unless_emergency(gitrot, policy: Path) -> None:
    assert gitrot("rotate", NAME, "--reason", "Quarterly rotation CHG-2291").code == 0
    commit(policy, "rotate", days_ago=0.1)
    assert gitrot("rotate", NAME, "--reason", "Another rotation CHG-2292").code == 0
    code, found = findings(gitrot, INTENT)
    assert code == 1 and ids(found) == ["min-interval"]
    assert found[0]["line"] == 10 and found[0]["severity"] == "error"  # spec.version
    intent = policy / INTENT
    intent.write_text(
        intent.read_text()
        .replace("Another rotation CHG-2292", "INC-4711 the key was exposed in CI logs, rotate now")
        .replace("emergency: false", "emergency: true")
    )
    assert findings(gitrot, INTENT) == (0, [])


def test_version_must_go_up_by_one(gitrot, policy: Path) -> None:
    intent = policy / INTENT
    text = intent.read_text()
    intent.write_text(text.replace("version: 1", "version: 3"))
    code, found = findings(gitrot, INTENT)
    assert code == 1 and ids(found) == ["version-step"]
    # and going down is caught the same way (after a real rotation is committed)
    intent.write_text(text)
    assert gitrot("rotate", NAME, "--reason", "Quarterly rotation CHG-2291").code == 0
    commit(policy, "rotate", days_ago=5)
    intent.write_text(intent.read_text().replace("version: 2", "version: 1"))
    assert ids(findings(gitrot, INTENT)[1]) == ["version-step"]


def test_a_freeze_stops_rotations_but_not_emergencies(gitrot, policy: Path) -> None:
    today = datetime.now(UTC).date()
    config = policy / "gitrot.yaml"
    freeze = (
        f'freezes:\n  - {{from: "{today - timedelta(days=1)}", to: "{today + timedelta(days=1)}",'
        " environments: [prod]}\n"
    )
    config.write_text(config.read_text().replace("freezes: []\n", freeze))
    assert findings(gitrot) == (0, [])  # nothing rotates: the freeze changes nothing
    assert gitrot("rotate", NAME, "--reason", "Quarterly rotation CHG-2291").code == 0
    code, found = findings(gitrot, INTENT)
    assert code == 1 and ids(found) == ["freeze-window"]
    result = gitrot(
        "rotate", NAME, "--emergency", "--reason", "INC-4711: key exposed in CI logs, rotate now"
    )
    assert result.code == 0, result.err
    # rotate bumped again (2 -> 3): against HEAD (1) that is a skip, so fix it by hand
    intent = policy / INTENT
    intent.write_text(intent.read_text().replace("version: 3", "version: 2"))
    assert findings(gitrot, INTENT) == (0, [])


def test_max_age_warns_in_the_hook_and_fails_the_scheduled_check(gitrot, policy: Path) -> None:
    config = policy / "gitrot.yaml"
    config.write_text(config.read_text().replace("max_age: 90d", "max_age: 7d", 1))
    commit(policy, "shorter max age", days_ago=1)
    code, found = findings(gitrot)
    assert code == 0 and ids(found) == ["max-age"] and found[0]["severity"] == "warning"
    code, found = findings(gitrot, "--context", "scheduled")
    assert code == 1 and ids(found) == ["max-age"] and found[0]["severity"] == "error"
    # a reason-only edit does not reset the clock; a rotation does
    intent = policy / INTENT
    intent.write_text(intent.read_text().replace("Initial version", "Initial version, reworded"))
    commit(policy, "reword", days_ago=0.5)
    assert ids(findings(gitrot, "--context", "scheduled")[1]) == ["max-age"]
    assert gitrot("rotate", NAME, "--reason", "Overdue rotation CHG-2300").code == 0
    assert findings(gitrot, "--context", "scheduled") == (0, [])


def test_recipients_must_match_gitrot_yaml(
    gitrot, policy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(policy / ".gitrot" / "reconciler.key"))
    config = policy / "gitrot.yaml"
    original = config.read_text()
    config.write_text(
        original.replace("recipients:\n", f"recipients:\n  break-glass: {OTHER_RECIPIENT}\n")
    )
    code, found = findings(gitrot, INTENT)
    assert code == 1 and ids(found) == ["recipients-required"]
    assert found[0]["line"] > 15  # sops.age, in the sops block
    # an extra recipient nobody named
    config.write_text(original)
    sops_yaml = policy / ".sops.yaml"
    sops_yaml.write_text(sops_yaml.read_text() + f"      - {OTHER_RECIPIENT}\n")
    result = gitrot("updatekeys", INTENT)
    assert result.code == 0, result.err
    assert ids(findings(gitrot, INTENT)[1]) == ["recipients-known"]


def test_fields_the_creation_rule_encrypts_must_be_encrypted(gitrot, policy: Path) -> None:
    sops_yaml = policy / ".sops.yaml"
    sops_yaml.write_text(sops_yaml.read_text().replace("^ref$", "^(ref|owner)$"))
    code, found = findings(gitrot, INTENT)
    assert code == 1 and ids(found) == ["creation-rule-encrypted", "creation-rule-encrypted"]
    messages = " ".join(str(f["message"]) for f in found)
    assert "metadata.owner is in cleartext" in messages
    assert "encrypted with encrypted_regex '^ref$'" in messages


def test_outside_git_the_history_rules_have_nothing_to_judge(
    gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "policy"
    assert gitrot("init", str(root)).code == 0
    monkeypatch.chdir(root)
    new = ("new", NAME, "--backend", "local", "--ref", "r", "--owner", "o", "--class", "api-key")
    assert gitrot(*new).code == 0
    # no commit yet: HEAD is unborn, so nothing is a rotation and nothing is overdue
    assert findings(gitrot, "--context", "scheduled") == (0, [])


def test_waivers_waive_expire_and_go_unused(gitrot, policy: Path) -> None:
    config = policy / "gitrot.yaml"
    config.write_text(config.read_text().replace("max_age: 90d", "max_age: 7d", 1))
    commit(policy, "shorter max age", days_ago=1)
    today = datetime.now(UTC).date()
    waivers = policy / "waivers.yaml"
    head = "apiVersion: gitrot/v1\nkind: Waivers\nwaivers:\n"
    entry = (
        "  - rule: {rule}\n    secrets: payments/*\n"
        "    reason: CHG-77 the vendor takes a new password only after the migration\n"
        '    approver: alice@example.com\n    expires: "{expires}"\n'
    )
    waivers.write_text(head + entry.format(rule="max-age", expires=today + timedelta(days=30)))
    code, found = findings(gitrot, "--context", "scheduled")
    assert code == 0 and ids(found) == ["max-age"]
    assert str(found[0]["waived"]).startswith("waived by alice@example.com until")
    # expired: it waives nothing and is itself an error
    waivers.write_text(head + entry.format(rule="max-age", expires=today - timedelta(days=1)))
    code, found = findings(gitrot, "--context", "scheduled")
    assert code == 1 and ids(found) == ["max-age", "waiver-expired"]
    # unused: a warning when the whole repository is judged, silent for a few files
    waivers.write_text(head + entry.format(rule="min-interval", expires=today))
    code, found = findings(gitrot)
    assert ids(found) == ["max-age", "waiver-unused"]
    assert ids(findings(gitrot, INTENT)[1]) == ["max-age"]
    # ...but a commit that touches waivers.yaml is judged whole
    assert ids(findings(gitrot, "waivers.yaml")[1]) == ["max-age", "waiver-unused"]
    # a waiver of an unknown rule is invalid
    waivers.write_text(head + entry.format(rule="no-such-rule", expires=today))
    code, found = findings(gitrot, "waivers.yaml")
    assert code == 1 and "waiver-invalid" in ids(found)


def test_a_committed_sealed_value_never_changes(gitrot, policy: Path, monkeypatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"s3cret-value-1\n")))
    result = gitrot("rotate", NAME, "--reason", "Vendor issued a new password", "--value-stdin")
    assert result.code == 0, result.err
    sealed = f"secrets/{NAME}.v2.sealed.yaml"
    assert findings(gitrot, INTENT, sealed) == (0, [])
    commit(policy, "seal v2", days_ago=2)
    path = policy / sealed
    path.write_text(path.read_text().replace("version: 2", "version: 2\n# edited"))
    code, found = findings(gitrot, sealed)
    assert code == 1 and ids(found) == ["sealed-immutable"]
    assert "s3cret" not in json.dumps(found)


def test_whole_repository_validate_checks_sealed_documents(
    gitrot, policy: Path, monkeypatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"s3cret-value-1\n")))
    result = gitrot("rotate", NAME, "--reason", "Vendor issued a new password", "--value-stdin")
    assert result.code == 0, result.err
    sealed = policy / f"secrets/{NAME}.v2.sealed.yaml"
    assert findings(gitrot) == (0, [])
    # a stray sealed document for another version, and one whose value is in clear
    stray = policy / f"secrets/{NAME}.v7.sealed.yaml"
    stray.write_text(sealed.read_text())
    clear = policy / "secrets/api/key.v1.sealed.yaml"
    clear.parent.mkdir()
    clear.write_text(
        "apiVersion: gitrot/v1\nkind: SealedValue\nmetadata: {name: api/key, version: 1}\n"
        "value: not-encrypted\n"
    )
    code, found = findings(gitrot)
    assert code == 1
    where = sorted((str(f["file"]), str(f["message"])) for f in found)
    assert [path for path, _ in where] == [
        "secrets/api/key.v1.sealed.yaml",
        f"secrets/{NAME}.v7.sealed.yaml",
    ]
    assert "does not match the file name" in where[1][1]
    assert "s3cret" not in json.dumps(found)
