"""Where gitrot finds age identities, as sops 3.11 does: the edges of each source.

Each source's refusal is one line naming the variable or the file (never its content);
keys that cannot be used are skipped where sops skips them. The main paths (every source
merged, key commands, SSH keys of each kind) are in tests/sops/test_age.py.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gitrot.errors import InputError
from gitrot.keys import age
from gitrot.keys.identities import load_identities, user_config_dir

SSH_FILE = "SOPS_AGE_SSH_PRIVATE_KEY_FILE"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def key_file(path: Path) -> str:
    """A fresh age key file at ``path``; its recipient."""
    identity, recipient = age.generate_identity()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(age.format_key_file(identity, recipient, datetime.now(UTC)))
    return recipient


def recipients(found: list[object]) -> list[str | None]:
    return [age.recipient_of(identity) for identity in found]


def openssh(body: bytes) -> str:
    """An OpenSSH private key armor around ``body``."""
    text = base64.b64encode(body).decode()
    return f"-----BEGIN OPENSSH PRIVATE KEY-----\n{text}\n-----END OPENSSH PRIVATE KEY-----\n"


# -- SSH keys ---------------------------------------------------------------------------------


def test_a_passphrase_protected_pkcs8_key_is_skipped_like_sops(home: Path, tmp_path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"correct horse"),
    )
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in pem
    path = tmp_path / "deploy"
    path.write_bytes(pem)
    assert load_identities({SSH_FILE: str(path)}, home=home, platform="linux") == []


@pytest.mark.parametrize(
    "text",
    [
        # armor whose body is not base64
        "-----BEGIN OPENSSH PRIVATE KEY-----\nnot*base64!\n-----END OPENSSH PRIVATE KEY-----\n",
        # base64 that is not an OpenSSH key
        openssh(b"ssh-key-v0\x00 something else"),
        # the magic and nothing after it
        openssh(b"openssh-key-v1\x00"),
    ],
    ids=["not-base64", "wrong-magic", "truncated"],
)
def test_an_explicit_ssh_key_that_is_no_key_is_refused_by_variable_and_path(
    home: Path, tmp_path: Path, text: str
) -> None:
    path = tmp_path / "deploy"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_identities({SSH_FILE: str(path)}, home=home, platform="linux")
    assert info.value.message == (
        f"{SSH_FILE} does not hold an unencrypted ssh-ed25519 or ssh-rsa private key"
    )
    assert info.value.where == str(path)
    assert "else" not in info.value.render()


# -- key files ----------------------------------------------------------------------------------


def test_a_key_file_variable_naming_a_folder_says_it_cannot_be_read(
    home: Path, tmp_path: Path
) -> None:
    with pytest.raises(InputError) as info:
        load_identities({"SOPS_AGE_KEY_FILE": str(tmp_path)}, home=home, platform="linux")
    assert info.value.message == (
        f"cannot read the file SOPS_AGE_KEY_FILE points to: {tmp_path} (Is a directory)"
    )
    assert info.value.hint == "fix or unset SOPS_AGE_KEY_FILE"


def test_a_key_file_that_is_not_utf8_is_refused_at_its_path(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_bytes(b"# created: today\nAGE-SECRET-KEY-\xff\xfe\n")
    with pytest.raises(InputError) as info:
        load_identities({"SOPS_AGE_KEY_FILE": str(path)}, home=home, platform="linux")
    assert info.value.message == "an age key file must be UTF-8 text"
    assert info.value.where == str(path)


def test_a_default_key_file_that_is_not_utf8_is_refused_at_its_path(home: Path) -> None:
    path = home / ".config" / "sops" / "age" / "keys.txt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff")
    with pytest.raises(InputError) as info:
        load_identities({}, home=home, platform="linux")
    assert info.value.where == str(path)


# -- the user config dir, per platform -----------------------------------------------------------


def test_on_windows_the_default_key_file_is_under_appdata(home: Path, tmp_path: Path) -> None:
    appdata = tmp_path / "AppData" / "Roaming"
    recipient = key_file(appdata / "sops" / "age" / "keys.txt")
    key_file(home / ".config" / "sops" / "age" / "keys.txt")  # not where Windows looks
    env = {"APPDATA": str(appdata), "XDG_CONFIG_HOME": str(home / ".config")}
    assert recipients(load_identities(env, home=home, platform="win32")) == [recipient]


def test_on_windows_without_appdata_there_is_no_default_key_file(home: Path) -> None:
    key_file(home / ".config" / "sops" / "age" / "keys.txt")
    assert user_config_dir({}, home=str(home), platform="win32") is None
    assert load_identities({}, home=home, platform="win32") == []


def test_sources_are_merged_in_sops_order(home: Path, tmp_path: Path) -> None:
    inline, inline_recipient = age.generate_identity()
    from_file = key_file(tmp_path / "file.txt")
    default = key_file(home / ".config" / "sops" / "age" / "keys.txt")
    env = {"SOPS_AGE_KEY": inline, "SOPS_AGE_KEY_FILE": str(tmp_path / "file.txt")}
    found = load_identities(env, home=home, platform="linux")
    assert recipients(found) == [inline_recipient, from_file, default]
