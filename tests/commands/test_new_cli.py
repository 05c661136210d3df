"""gitrot new's refusals: each is one error (exit 2) and leaves the repository as it was,
including an intent that was written but would not load (it is removed), and a .sops.yaml
that is missing or would leave the reference or a sealed value in clear."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gitrot.core.secret import SecretValue
from gitrot.errors import InputError
from gitrot.files import intents

ARGS = ("--backend", "local", "--owner", "team-a", "--class", "api-key")


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.fixture
def policy(gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "policy"
    assert gitrot("init", str(root)).code == 0
    monkeypatch.chdir(root)
    return root


def test_an_empty_ref_is_refused(gitrot, policy: Path) -> None:
    before = _snapshot(policy)
    result = gitrot("new", "a/b", "--ref", "  ", *ARGS)
    assert result.code == 2
    assert result.err.splitlines() == [
        "gitrot: error: --ref is empty",
        "hint: give where the secret lives in the backend",
    ]
    assert _snapshot(policy) == before


def test_an_intent_that_would_not_load_is_not_kept(gitrot, policy: Path) -> None:
    before = _snapshot(policy)
    result = gitrot("new", "a/b", "--ref", "r", "--length", "0", *ARGS)
    assert result.code == 2
    assert result.err.splitlines()[0] == (
        "gitrot: error: spec.value.generate.length must be from 8 to 4096, got 0"
        " (secrets/a/b.yaml:17:13)"
    )
    assert _snapshot(policy) == before  # the intent written was removed


def test_a_repository_without_sops_yaml_is_refused(gitrot, policy: Path) -> None:
    (policy / ".sops.yaml").unlink()
    result = gitrot("new", "a/b", "--ref", "r", *ARGS)
    assert result.code == 2
    assert result.err.splitlines() == [
        f"gitrot: error: the repository has no .sops.yaml ({policy})",
        "hint: run 'gitrot init' to create it with the repository's recipients",
    ]
    assert not (policy / "secrets" / "a" / "b.yaml").exists()


def test_a_rule_that_leaves_the_ref_in_clear_is_refused(gitrot, policy: Path) -> None:
    sops = policy / ".sops.yaml"
    sops.write_text(sops.read_text().replace("encrypted_regex: ^ref$", "encrypted_regex: ^x$"))
    result = gitrot("new", "a/b", "--ref", "where/it/lives", *ARGS)
    assert result.code == 2
    assert result.err.splitlines() == [
        "gitrot: error: the creation rule for secrets/ does not encrypt spec.target.ref"
        " (.sops.yaml)",
        "hint: use encrypted_regex: ^ref$ (as 'gitrot init' writes it)",
    ]
    assert "where/it/lives" not in result.err
    assert not (policy / "secrets" / "a" / "b.yaml").exists()


def test_a_rule_that_leaves_a_sealed_value_in_clear_is_refused(policy: Path) -> None:
    sops = policy / ".sops.yaml"
    sops.write_text(sops.read_text().replace("encrypted_regex: ^value$", "encrypted_regex: ^x$"))
    options = intents.creation_options(str(policy), "secrets/a/b.v2.sealed.yaml")
    with pytest.raises(InputError) as caught:
        intents.sealed_text(
            "a/b", 2, SecretValue("s3cr3t-value"), options=options, now=datetime.now(UTC)
        )
    assert caught.value.render() == (
        "gitrot: error: the creation rule for sealed values does not encrypt 'value' (.sops.yaml)"
    )
    assert "s3cr3t-value" not in caught.value.render() + caught.value.hint


def test_rotator_names_the_source_of_a_new_intent(gitrot, policy: Path) -> None:
    config = policy / "gitrot.yaml"
    config.write_text(
        config.read_text() + "rotators:\n  ldap: {type: command, set: [./s, set], test: [./s]}\n"
    )
    before = _snapshot(policy)
    unknown = gitrot("new", "a/b", "--ref", "x", *ARGS, "--rotator", "nope")
    assert unknown.code == 2
    assert unknown.err.splitlines()[0] == "gitrot: error: unknown rotator 'nope' (gitrot.yaml)"
    assert _snapshot(policy) == before

    assert gitrot("new", "a/b", "--ref", "x", *ARGS, "--rotator", "ldap").code == 0
    from gitrot.files import repo

    assert repo.load_intent(policy, "secrets/a/b.yaml").rotator == "ldap"
    assert (
        "    source:\n        rotator: ldap\n    target:\n"
        in (policy / "secrets/a/b.yaml").read_text()
    )
    assert gitrot("validate").code == 0
