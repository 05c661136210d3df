"""``gitrot check`` and ``gitrot validate`` on what people do with sops and age every day.

A new data key (``sops rotate -i``, ``gitrot rekey``) gives an intent's ref new
ciphertext but not a new place: with a key at hand the check compares the refs decrypted,
without one it says what it knows (``ref-reencrypted``), never that the secret moves.
Re-encrypting a sealed value for new recipients (``sops updatekeys``, ``gitrot
updatekeys``) keeps its data key and its value: no ``sealed-immutable``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.check.conftest import DAY, DB, HOUR, MAINTAINER, PolicyRepo, ids, intent_path
from tests.conftest import Key, make_key, run_sops

INTENT = intent_path(DB)
SEALED_V2 = f"secrets/{DB}.v2.sealed.yaml"
VALUE = "vendor-pass-4e1f9a"  # made up for the test  gitrot: allow test value
REF = f"{DB}#value"


def reconciler_key(policy: PolicyRepo) -> Key:
    path = policy.policy / ".gitrot" / "reconciler.key"
    recipient = next(
        line.split()[-1] for line in path.read_text().splitlines() if "public key" in line
    )
    return Key("", recipient, path)


def hide_keys(policy: PolicyRepo, tmp_path: Path) -> None:
    """No key at hand: the reconciler's identity leaves the checkout (the user has none)."""
    shutil.move(policy.policy / ".gitrot" / "reconciler.key", tmp_path / "reconciler.key")


def keyed(policy: PolicyRepo, *args: str) -> None:
    """A gitrot command that needs a key, run as its user would: with the key in
    ``SOPS_AGE_KEY_FILE`` (only for this command)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOPS_AGE_KEY_FILE", str(reconciler_key(policy).path))
        policy.gitrot(*args)


def sops(policy: PolicyRepo, *args: str) -> None:
    result = run_sops(list(args), key=reconciler_key(policy), cwd=policy.policy)
    assert result.returncode == 0, result.stderr.decode()


def leaks(policy: PolicyRepo, *texts: str) -> None:
    for text in texts:
        assert VALUE not in text and REF not in text


# -- the ref of an intent under a new data key ------------------------------------------------


@pytest.mark.parametrize("tool", ["sops", "gitrot"])
def test_a_new_data_key_on_an_intent_is_not_a_move(policy: PolicyRepo, tool: str) -> None:
    policy.branch("pr")
    before = policy.read(INTENT)
    if tool == "sops":
        sops(policy, "rotate", "-i", INTENT)
    else:
        keyed(policy, "rekey", INTENT)
    assert policy.read(INTENT) != before  # new ciphertext
    policy.commit("Re-encrypt the intent under a new data key", ago=HOUR)
    assert policy.check() == (0, [])
    result = policy.check_raw("--format", "text")
    assert result.code == 0 and "moves" not in result.out
    leaks(policy, result.out, result.err)


def test_a_new_data_key_without_a_key_says_what_is_known(
    policy: PolicyRepo, tmp_path: Path
) -> None:
    policy.branch("pr")
    keyed(policy, "rekey", INTENT)
    policy.commit("Re-encrypt the intent under a new data key", ago=HOUR)
    hide_keys(policy, tmp_path)
    code, found = policy.check()
    assert code == 0 and ids(found) == ["ref-reencrypted"]
    assert found[0]["severity"] == "warning"
    assert "cannot tell whether the secret moves" in found[0]["message"]
    assert (found[0]["file"], found[0]["line"]) == (INTENT, 15)


def test_a_real_move_is_still_a_move(policy: PolicyRepo, tmp_path: Path) -> None:
    policy.branch("pr")
    sops(policy, "set", INTENT, '["spec"]["target"]["ref"]', '"payments/other#value"')
    policy.commit("Move the secret", ago=HOUR)
    code, found = policy.check()
    assert code == 0 and ids(found) == ["target-changed"]
    assert "the secret moves" in found[0]["message"]
    leaks(policy, *(f["message"] + f.get("hint", "") for f in found))
    hide_keys(policy, tmp_path)
    code, found = policy.check()
    assert code == 0 and ids(found) == ["ref-reencrypted"]


def test_the_users_key_compares_too(
    policy: PolicyRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy.branch("pr")
    keyed(policy, "rekey", INTENT)
    policy.commit("Re-encrypt the intent under a new data key", ago=HOUR)
    hide_keys(policy, tmp_path)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "reconciler.key"))
    assert policy.check() == (0, [])


# -- sealed values for new recipients ----------------------------------------------------------


@pytest.fixture
def sealed(policy: PolicyRepo, tmp_path: Path) -> tuple[PolicyRepo, Key]:
    """``main`` with version 2 sealed, then a new recipient (a second operator) added to
    ``.sops.yaml`` by a merged policy change; the branch ``pr`` is where the sealed value
    is re-encrypted for it."""
    policy.rotate(DB, reason="Vendor issued a new password", value=VALUE)
    policy.commit("Seal the vendor's password", ago=10 * DAY, author=MAINTAINER)
    operator = make_key(tmp_path, "operator.txt")
    reconciler = reconciler_key(policy).recipient
    text = policy.read(".sops.yaml").replace(
        f"      - {reconciler}\n", f"      - {reconciler}\n      - {operator.recipient}\n"
    )
    policy.write(".sops.yaml", text)
    policy.commit("Add the operator's key", ago=5 * DAY, author=MAINTAINER)
    policy.branch("pr")
    return policy, operator


@pytest.mark.parametrize("tool", ["sops", "gitrot"])
def test_updatekeys_on_a_sealed_value_is_allowed(
    sealed: tuple[PolicyRepo, Key], tmp_path: Path, tool: str
) -> None:
    policy, operator = sealed
    if tool == "sops":
        sops(policy, "updatekeys", "-y", SEALED_V2)
    else:
        keyed(policy, "updatekeys", SEALED_V2)
    assert operator.recipient in policy.read(SEALED_V2)
    policy.commit("Give the operator the sealed value", ago=HOUR)
    assert policy.check() == (0, [])
    # without a key too: only the recipients changed, the value's ciphertext did not
    hide_keys(policy, tmp_path)
    result = policy.check_raw("--format", "text")
    assert result.code == 0, result.out
    leaks(policy, result.out, result.err)
    # the operator can open it now, with the real sops
    opened = run_sops(["-d", SEALED_V2], key=operator, cwd=policy.policy)
    assert opened.returncode == 0 and VALUE in opened.stdout.decode()


def test_updatekeys_passes_the_pre_commit_hook(sealed: tuple[PolicyRepo, Key]) -> None:
    policy, _ = sealed
    keyed(policy, "updatekeys", SEALED_V2)
    result = policy.run("validate", SEALED_V2)
    assert result.code == 0 and "sealed-immutable" not in result.out, result.out


def test_a_new_data_key_on_a_sealed_value(sealed: tuple[PolicyRepo, Key], tmp_path: Path) -> None:
    """``sops rotate`` changes the value's ciphertext: a key must show the value is equal."""
    policy, _ = sealed
    sops(policy, "rotate", "-i", SEALED_V2)
    assert policy.run("validate", SEALED_V2).code == 0  # the pre-commit hook, with the key
    policy.commit("Re-encrypt the sealed value", ago=HOUR)
    assert policy.check() == (0, [])  # the reconciler's key opens both sides: the same value
    hide_keys(policy, tmp_path)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["sealed-immutable"]
    assert "re-encrypts" in found[0]["message"] and "updatekeys" in found[0]["hint"]


def test_a_new_value_under_the_same_version_is_refused(sealed: tuple[PolicyRepo, Key]) -> None:
    policy, _ = sealed
    sops(policy, "set", SEALED_V2, '["value"]', '"another-value-81c2"')
    result = policy.run("validate", SEALED_V2)
    assert result.code == 1 and "sealed-immutable" in result.out
    policy.commit("Change the sealed value", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["sealed-immutable"]
    assert "modifies" in found[0]["message"]


def test_recipients_and_a_comment_are_refused(sealed: tuple[PolicyRepo, Key]) -> None:
    policy, _ = sealed
    keyed(policy, "updatekeys", SEALED_V2)
    policy.edit(SEALED_V2, "    version: 2\n", "    version: 2\n# and a note\n")
    policy.commit("Give the operator the sealed value, with a note", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["sealed-immutable"]


def test_a_stanza_for_another_data_key_is_refused_when_a_key_can_tell(
    sealed: tuple[PolicyRepo, Key],
) -> None:
    """Without a key a pull request can wrap some other data key for the reconciler (the
    value's ciphertext unchanged): it cannot change the value, only break it. A key at
    hand sees that the new data key does not open the value."""
    import os

    from gitrot.codec import agewrap, document

    policy, _ = sealed
    source = document.SopsFile.parse(policy.read(SEALED_V2), fmt="yaml", where=SEALED_V2)
    reconciler = reconciler_key(policy).recipient
    for stanza in source.metadata.groups[0]:
        if stanza.recipient == reconciler:
            stanza.enc = agewrap.wrap(os.urandom(32), reconciler)
    docs = document.with_metadata(source.docs, source.metadata)
    policy.write(SEALED_V2, document.emit(docs, "yaml"))
    policy.commit("Re-wrap the sealed value", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["sealed-immutable"]
