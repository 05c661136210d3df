"""The age side of SOPS, checked against the Go ``age`` CLI and identity discovery rules."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gitrot.codec import agewrap
from gitrot.errors import EnvironmentFailure, InputError
from gitrot.keys import age, identities
from gitrot.keys.identities import load_identities, user_config_dir
from tests.conftest import child_env, require_tool

AGE = shutil.which("age") or "age"
AGE_KEYGEN = shutil.which("age-keygen") or "age-keygen"
needs_age = pytest.mark.usefixtures("age_cli")


@pytest.fixture
def age_cli() -> None:
    """The Go age CLI (Debian's age: `make age`); skip without it, fail under make unit."""
    require_tool("age")
    require_tool("age-keygen")


DATA_KEY = bytes(range(32))


def _new_key_file(path: Path) -> str:
    """Write a fresh key file in age-keygen's layout; return its recipient."""
    identity, recipient = age.generate_identity()
    path.write_text(age.format_key_file(identity, recipient, datetime.now(UTC)))
    path.chmod(0o600)
    return recipient


def _age_encrypt(recipient: str, data: bytes, *, armor: bool = True) -> bytes:
    args = [AGE, "-e", "-r", recipient]
    if armor:
        args.insert(2, "-a")
    return subprocess.run(args, input=data, capture_output=True, check=True).stdout


def _ssh_keypair_cryptography(
    directory: Path, name: str, *, passphrase: str = ""
) -> tuple[Path, str]:
    """An ed25519 key pair in OpenSSH format, written with ``cryptography``."""
    key = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    private = directory / name
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
        )
    )
    private.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public.decode()


def _ssh_keypair(directory: Path, name: str, *, passphrase: str = "") -> tuple[Path, str]:
    """An ed25519 key pair: (private key path, public key line); ssh-keygen if installed."""
    if not shutil.which("ssh-keygen"):
        return _ssh_keypair_cryptography(directory, name, passphrase=passphrase)
    private = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "test", "-f", private],
        check=True,
        capture_output=True,
    )
    return private, (directory / f"{name}.pub").read_text().strip()


# --- wrap / unwrap -------------------------------------------------------------------------


@needs_age
def test_go_age_decrypts_what_wrap_produced(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    recipient = _new_key_file(keys)
    armored = agewrap.wrap(DATA_KEY, recipient)
    assert armored.startswith("-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert armored.endswith("-----END AGE ENCRYPTED FILE-----\n")
    body = armored.splitlines()[1:-1]
    assert all(len(line) <= 64 for line in body)
    payload = tmp_path / "key.age"
    payload.write_text(armored)
    result = subprocess.run(
        [AGE, "-d", "-i", str(keys), str(payload)], capture_output=True, check=True
    )
    assert result.stdout == DATA_KEY


@needs_age
def test_go_age_decrypts_wrap_to_an_ssh_recipient(tmp_path: Path) -> None:
    private, public = _ssh_keypair(tmp_path, "id_ed25519")
    payload = tmp_path / "key.age"
    payload.write_text(agewrap.wrap(DATA_KEY, public))
    result = subprocess.run(
        [AGE, "-d", "-i", str(private), str(payload)], capture_output=True, check=True
    )
    assert result.stdout == DATA_KEY


@needs_age
@pytest.mark.parametrize("armor", [True, False])
def test_unwrap_opens_what_go_age_produced(tmp_path: Path, armor: bool) -> None:
    keys = tmp_path / "keys.txt"
    subprocess.run([AGE_KEYGEN, "-o", str(keys)], check=True, capture_output=True)
    recipient = subprocess.run(
        [AGE_KEYGEN, "-y", str(keys)], check=True, capture_output=True, text=True
    ).stdout.strip()
    identities = age.parse_identities(keys.read_text(), source=str(keys))
    assert [age.recipient_of(i) for i in identities] == [recipient]
    payload = _age_encrypt(recipient, DATA_KEY, armor=armor)
    enc: str | bytes = payload.decode() if armor else payload
    assert agewrap.unwrap(enc, identities) == DATA_KEY
    # a payload without its final newline (YAML "|-") is fine too
    if armor:
        assert agewrap.unwrap(payload.decode().rstrip("\n"), identities) == DATA_KEY


@needs_age
def test_unwrap_opens_go_age_ssh_payload(tmp_path: Path) -> None:
    private, public = _ssh_keypair(tmp_path, "id_ed25519")
    payload = _age_encrypt(public, DATA_KEY).decode()
    identities = load_identities(
        {"SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(private)}, home=tmp_path / "home"
    )
    assert len(identities) == 1
    assert age.recipient_of(identities[0]) is None
    assert agewrap.unwrap(payload, identities) == DATA_KEY


def test_unwrap_tries_every_identity() -> None:
    one, _ = age.generate_identity()
    two, recipient = age.generate_identity()
    identities = age.parse_identities(f"{one}\n{two}\n", source="test")
    assert agewrap.unwrap(agewrap.wrap(DATA_KEY, recipient), identities) == DATA_KEY


def test_unwrap_returns_none_when_nothing_fits() -> None:
    _, recipient = age.generate_identity()
    other, _ = age.generate_identity()
    identities = age.parse_identities(other, source="test")
    enc = agewrap.wrap(DATA_KEY, recipient)
    assert agewrap.unwrap(enc, identities) is None
    assert agewrap.unwrap(enc, []) is None
    assert agewrap.unwrap("not age at all", identities) is None
    assert agewrap.unwrap(enc[:-60] + "\n", identities) is None
    assert agewrap.unwrap(b"", identities) is None


def test_wrap_is_randomised() -> None:
    _, recipient = age.generate_identity()
    assert agewrap.wrap(DATA_KEY, recipient) != agewrap.wrap(DATA_KEY, recipient)


def test_wrap_accepts_surrounding_spaces() -> None:
    identity, recipient = age.generate_identity()
    identities = age.parse_identities(identity, source="test")
    assert agewrap.unwrap(agewrap.wrap(DATA_KEY, f"  {recipient} "), identities) == DATA_KEY


@pytest.mark.parametrize(
    ("recipient", "message"),
    [
        ("age1notbech32atall", "invalid age recipient"),
        ("ssh-ed25519 AAAAnotakey", "invalid age recipient"),
        ("ecdsa-sha2-nistp256 AAAA", "unknown age recipient type"),
        ("", "unknown age recipient type"),
        ("age1yubikey1qwerty", "plugin"),
    ],
)
def test_wrap_rejects_bad_recipients(recipient: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        agewrap.wrap(DATA_KEY, recipient)
    assert repr(recipient) in info.value.message
    assert info.value.hint


# --- key files -----------------------------------------------------------------------------


def test_parse_identities_skips_comments_and_blank_lines() -> None:
    one, r1 = age.generate_identity()
    two, r2 = age.generate_identity()
    text = f"# created: x\n\n# public key: {r1}\r\n{one}\r\n   \n#{two}\n{two}"
    identities = age.parse_identities(text, source="keys.txt")
    assert [age.recipient_of(i) for i in identities] == [r1, r2]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("AGE-SECRET-KEY-1NOTVALIDBECH32", "invalid age identity"),
        ("hunter2-not-a-key", "not an age identity"),
        ("AGE-PLUGIN-YUBIKEY-1QQQQQQ", "plugin identities are not supported"),
        ("AGE-SECRET-KEY-PQ-1QQQQQ", "post-quantum"),
        ("-----BEGIN AGE ENCRYPTED FILE-----", "passphrase-protected"),
    ],
)
def test_bad_key_file_names_the_line_not_its_content(line: str, message: str) -> None:
    good, recipient = age.generate_identity()
    text = f"# public key: {recipient}\n{good}\n\n{line}\n"
    with pytest.raises(InputError, match=message) as info:
        age.parse_identities(text, source="/keys/keys.txt")
    error = info.value
    assert error.where == "/keys/keys.txt"
    assert error.line == 4
    assert error.location() == "/keys/keys.txt:4"
    for shown in (error.render(), error.message, error.hint, repr(error), str(error)):
        assert line not in shown
        assert good not in shown
    # no chained pyrage exception that could carry the line along
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def test_two_identities_on_one_line_are_rejected() -> None:
    one, _ = age.generate_identity()
    two, _ = age.generate_identity()
    with pytest.raises(InputError) as info:
        age.parse_identities(f"{one} {two}\n", source="SOPS_AGE_KEY")
    assert info.value.line == 1
    assert one not in info.value.render()


@needs_age
def test_format_key_file_matches_age_keygen(tmp_path: Path) -> None:
    identity, recipient = age.generate_identity()
    assert identity.startswith("AGE-SECRET-KEY-1")
    assert recipient.startswith("age1")
    created = datetime(2006, 1, 2, 15, 4, 5, 999, tzinfo=UTC)
    text = age.format_key_file(identity, recipient, created)
    assert text == (f"# created: 2006-01-02T15:04:05Z\n# public key: {recipient}\n{identity}\n")
    offset = datetime(2006, 1, 2, 15, 4, 5, tzinfo=timezone(timedelta(hours=-7)))
    assert age.format_key_file(identity, recipient, offset).startswith(
        "# created: 2006-01-02T15:04:05-07:00\n"
    )
    # age-keygen's own file has the same shape
    theirs = tmp_path / "theirs.txt"
    subprocess.run([AGE_KEYGEN, "-o", str(theirs)], check=True, capture_output=True)

    def shape(lines: str) -> list[str]:
        return [
            line.split(": ")[0] if line.startswith("#") else line[:16]
            for line in lines.splitlines()
        ]

    assert shape(theirs.read_text()) == shape(text)
    # and age-keygen reads ours
    keys = tmp_path / "keys.txt"
    keys.write_text(text)
    derived = subprocess.run(
        [AGE_KEYGEN, "-y", str(keys)], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert derived == recipient


def test_recipient_of_other_objects_is_none() -> None:
    assert age.recipient_of(object()) is None


# --- identity discovery --------------------------------------------------------------------


class Keys:
    """A fresh X25519 key written to a key file, plus a data key wrapped to it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.recipient = _new_key_file(path)
        self.enc = agewrap.wrap(DATA_KEY, self.recipient)


def _opens(identities: list[object], keys: Keys) -> bool:
    return agewrap.unwrap(keys.enc, identities) == DATA_KEY


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture(autouse=True)
def _no_real_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # load_identities takes env and home explicitly; make sure nothing leaks in anyway
    for name in (
        "SOPS_AGE_KEY",
        "SOPS_AGE_KEY_FILE",
        "SOPS_AGE_KEY_CMD",
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        "XDG_CONFIG_HOME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "nonexistent-home"))


def test_nothing_configured_gives_no_identities(home: Path) -> None:
    assert load_identities({}, home=home, platform="linux") == []


def test_sops_age_key(home: Path, tmp_path: Path) -> None:
    keys = Keys(tmp_path / "k.txt")
    env = {"SOPS_AGE_KEY": keys.path.read_text()}
    assert _opens(load_identities(env, home=home, platform="linux"), keys)


def test_sops_age_key_with_several_lines(home: Path) -> None:
    one, r1 = age.generate_identity()
    two, r2 = age.generate_identity()
    identities = load_identities({"SOPS_AGE_KEY": f"{one}\n{two}"}, home=home)
    assert [age.recipient_of(i) for i in identities] == [r1, r2]


def test_bad_sops_age_key_names_the_variable(home: Path) -> None:
    with pytest.raises(InputError) as info:
        load_identities({"SOPS_AGE_KEY": "\nsecret-garbage"}, home=home)
    assert info.value.location() == "SOPS_AGE_KEY:2"
    assert "secret-garbage" not in info.value.render()


def test_sops_age_key_file(home: Path, tmp_path: Path) -> None:
    keys = Keys(tmp_path / "elsewhere" / "k.txt")
    env = {"SOPS_AGE_KEY_FILE": str(keys.path)}
    assert _opens(load_identities(env, home=home, platform="linux"), keys)


def test_missing_sops_age_key_file_is_an_input_error(home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    with pytest.raises(InputError) as info:
        load_identities({"SOPS_AGE_KEY_FILE": str(missing)}, home=home)
    assert "SOPS_AGE_KEY_FILE" in info.value.message
    assert str(missing) in info.value.message


def test_bad_sops_age_key_file_has_path_and_line(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("# comment\nAGE-SECRET-KEY-1XYZ\n")
    with pytest.raises(InputError) as info:
        load_identities({"SOPS_AGE_KEY_FILE": str(bad)}, home=home)
    assert info.value.location() == f"{bad}:2"
    assert "XYZ" not in info.value.render()


def test_default_key_file_under_dot_config(home: Path) -> None:
    keys = Keys(home / ".config" / "sops" / "age" / "keys.txt")
    assert _opens(load_identities({}, home=home, platform="linux"), keys)


def test_default_key_file_under_xdg_config_home(home: Path, tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    keys = Keys(xdg / "sops" / "age" / "keys.txt")
    ignored = Keys(home / ".config" / "sops" / "age" / "keys.txt")
    env = {"XDG_CONFIG_HOME": str(xdg)}
    identities = load_identities(env, home=home, platform="linux")
    assert _opens(identities, keys)
    assert not _opens(identities, ignored)


def test_relative_xdg_config_home_is_ignored_like_go(home: Path) -> None:
    assert user_config_dir({"XDG_CONFIG_HOME": "rel"}, home=home, platform="linux") is None


def test_default_key_file_on_macos(home: Path, tmp_path: Path) -> None:
    keys = Keys(home / "Library" / "Application Support" / "sops" / "age" / "keys.txt")
    assert _opens(load_identities({}, home=home, platform="darwin"), keys)
    xdg = tmp_path / "xdg"
    xdg_keys = Keys(xdg / "sops" / "age" / "keys.txt")
    env = {"XDG_CONFIG_HOME": str(xdg)}
    identities = load_identities(env, home=home, platform="darwin")
    assert _opens(identities, xdg_keys)
    assert not _opens(identities, keys)


def test_unreadable_default_key_file_is_an_input_error(home: Path) -> None:
    (home / ".config" / "sops" / "age" / "keys.txt").mkdir(parents=True)
    with pytest.raises(InputError, match="default age key file"):
        load_identities({}, home=home, platform="linux")


def test_all_sources_are_merged(home: Path, tmp_path: Path) -> None:
    default = Keys(home / ".config" / "sops" / "age" / "keys.txt")
    from_file = Keys(tmp_path / "file.txt")
    from_env = Keys(tmp_path / "env.txt")
    from_cmd = Keys(tmp_path / "cmd.txt")
    (home / ".ssh").mkdir()
    _, public = _ssh_keypair(home / ".ssh", "id_ed25519")
    ssh_enc = agewrap.wrap(DATA_KEY, public)
    env = {
        "SOPS_AGE_KEY": from_env.path.read_text(),
        "SOPS_AGE_KEY_FILE": str(from_file.path),
        "SOPS_AGE_KEY_CMD": f"cat {from_cmd.path}",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    identities = load_identities(env, home=home, platform="linux")
    assert len(identities) == 5
    for keys in (default, from_file, from_env, from_cmd):
        assert _opens(identities, keys)
    assert agewrap.unwrap(ssh_enc, identities) == DATA_KEY


# --- SSH keys ------------------------------------------------------------------------------


def test_default_ssh_keys_are_loaded(home: Path) -> None:
    ssh = home / ".ssh"
    ssh.mkdir()
    _, ed_public = _ssh_keypair(ssh, "id_ed25519")
    identities = load_identities({}, home=home, platform="linux")
    assert len(identities) == 1
    assert agewrap.unwrap(agewrap.wrap(DATA_KEY, ed_public), identities) == DATA_KEY


def test_default_rsa_key_is_loaded_next_to_ed25519(home: Path) -> None:
    # sops 3.11 loads both id_ed25519 and id_rsa (checked against the binary)
    from cryptography.hazmat.primitives.asymmetric import rsa

    ssh = home / ".ssh"
    ssh.mkdir()
    _ssh_keypair(ssh, "id_ed25519")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (ssh / "id_rsa").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    (ssh / "id_rsa").chmod(0o600)
    rsa_public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    identities = load_identities({}, home=home, platform="linux")
    assert len(identities) == 2
    assert agewrap.unwrap(agewrap.wrap(DATA_KEY, rsa_public), identities) == DATA_KEY


def test_explicit_ssh_key_and_defaults_are_merged(home: Path, tmp_path: Path) -> None:
    ssh = home / ".ssh"
    ssh.mkdir()
    _, default_public = _ssh_keypair(ssh, "id_ed25519")
    explicit, explicit_public = _ssh_keypair(tmp_path, "deploy")
    env = {"SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(explicit)}
    identities = load_identities(env, home=home, platform="linux")
    assert len(identities) == 2
    for public in (default_public, explicit_public):
        assert agewrap.unwrap(agewrap.wrap(DATA_KEY, public), identities) == DATA_KEY


def test_encrypted_ssh_keys_are_skipped_silently(home: Path, tmp_path: Path) -> None:
    ssh = home / ".ssh"
    ssh.mkdir()
    _ssh_keypair(ssh, "id_ed25519", passphrase="correct horse")
    explicit, _ = _ssh_keypair(tmp_path, "deploy", passphrase="battery staple")
    env = {"SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(explicit)}
    assert load_identities(env, home=home, platform="linux") == []


@pytest.mark.parametrize("passphrase", ["", "secret"])
def test_ssh_keys_written_by_cryptography(home: Path, tmp_path: Path, passphrase: str) -> None:
    private, public = _ssh_keypair_cryptography(tmp_path, "k", passphrase=passphrase)
    env = {"SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(private)}
    identities = load_identities(env, home=home, platform="linux")
    if passphrase:
        assert identities == []
    else:
        assert agewrap.unwrap(agewrap.wrap(DATA_KEY, public), identities) == DATA_KEY


def test_unusable_default_ssh_key_is_skipped(home: Path) -> None:
    ssh = home / ".ssh"
    ssh.mkdir()
    (ssh / "id_ed25519").write_text("not a key\n")
    (ssh / "id_rsa").mkdir()
    assert load_identities({}, home=home, platform="linux") == []


def test_bad_explicit_ssh_key_is_an_input_error(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad_key"
    bad.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecretish\n")
    env = {"SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(bad)}
    with pytest.raises(InputError, match="SOPS_AGE_SSH_PRIVATE_KEY_FILE") as info:
        load_identities(env, home=home)
    assert info.value.where == str(bad)
    assert "secretish" not in info.value.render()
    env = {"SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(tmp_path / "missing")}
    with pytest.raises(InputError, match="does not exist"):
        load_identities(env, home=home)


# --- SOPS_AGE_KEY_CMD ----------------------------------------------------------------------


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_key_cmd_output_is_a_key_file(home: Path, tmp_path: Path) -> None:
    keys = Keys(tmp_path / "cmd-keys.txt")
    script = _script(tmp_path / "print keys.sh", f'cat "{keys.path}"')
    # shlex-split, no shell: quoting protects the space in the path
    env = {"SOPS_AGE_KEY_CMD": f"'{script}' --flag"}
    assert _opens(load_identities(env, home=home, platform="linux"), keys)


def test_key_cmd_gets_the_given_environment(home: Path, tmp_path: Path) -> None:
    keys = Keys(tmp_path / "cmd-keys.txt")
    script = _script(tmp_path / "env.sh", 'cat "$KEYS_PATH"')
    env = {"SOPS_AGE_KEY_CMD": str(script), "KEYS_PATH": str(keys.path)}
    assert _opens(load_identities(env, home=home, platform="linux"), keys)


def test_key_cmd_is_not_run_through_a_shell(home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    env = {"SOPS_AGE_KEY_CMD": f"/bin/echo hi; touch {marker}"}
    # echo prints "hi; touch ..." which is not a key file
    with pytest.raises(InputError, match="not an age identity"):
        load_identities(env, home=home)
    assert not marker.exists()


def test_failing_key_cmd_names_the_command_not_its_output(home: Path, tmp_path: Path) -> None:
    script = _script(tmp_path / "fail.sh", "echo AGE-SECRET-KEY-1LEAKED; echo oops >&2; exit 3")
    with pytest.raises(EnvironmentFailure) as info:
        load_identities({"SOPS_AGE_KEY_CMD": str(script)}, home=home)
    rendered = info.value.render()
    assert str(script) in rendered
    assert "exit status 3" in rendered
    assert "LEAKED" not in rendered
    assert "oops" not in rendered
    assert info.value.exit_code == 3


def test_missing_key_cmd_program(home: Path, tmp_path: Path) -> None:
    env = {"SOPS_AGE_KEY_CMD": str(tmp_path / "no-such-program")}
    with pytest.raises(EnvironmentFailure, match="cannot run"):
        load_identities(env, home=home)


def test_key_cmd_timeout(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identities, "KEY_CMD_TIMEOUT", 0.5)
    # the shell's child keeps stdout open; we must not wait for it
    script = _script(tmp_path / "slow.sh", "sleep 20")
    started = datetime.now(UTC)
    with pytest.raises(EnvironmentFailure, match="did not finish"):
        load_identities({"SOPS_AGE_KEY_CMD": str(script)}, home=home)
    assert datetime.now(UTC) - started < timedelta(seconds=10)


@pytest.mark.parametrize("command", ["'unbalanced", "   "])
def test_unparseable_key_cmd(home: Path, command: str) -> None:
    with pytest.raises(InputError, match="SOPS_AGE_KEY_CMD"):
        load_identities({"SOPS_AGE_KEY_CMD": command}, home=home)


def test_bad_key_cmd_output_has_a_line_number(home: Path, tmp_path: Path) -> None:
    script = _script(tmp_path / "bad.sh", "echo '# fine'; echo garbage-material")
    with pytest.raises(InputError) as info:
        load_identities({"SOPS_AGE_KEY_CMD": str(script)}, home=home)
    assert info.value.line == 2
    assert "garbage-material" not in info.value.render()


# --- import cost ---------------------------------------------------------------------------


def test_importing_the_module_does_not_load_pyrage() -> None:
    code = (
        "import sys; import gitrot.keys.age, gitrot.keys.identities; "
        "bad = [m for m in ('pyrage', 'subprocess') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=child_env()
    )
    assert result.stdout.strip() == ""


# --- sops itself ---------------------------------------------------------------------------

SOPS = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "sops"


def test_sops_accepts_wrap_and_unwrap_reads_sops(home: Path, tmp_path: Path) -> None:
    require_tool("sops", str(SOPS))
    keys = Keys(tmp_path / "keys.txt")
    plain = tmp_path / "plain.yaml"
    plain.write_text("password: hunter2\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
    encrypted = subprocess.run(
        [str(SOPS), "-e", "--age", keys.recipient, str(plain)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = encrypted.split("\n")
    at = next(i for i, line in enumerate(lines) if line.strip() == "enc: |") + 1
    pad = len(lines[at]) - len(lines[at].lstrip())
    stop = next(i for i in range(at, len(lines)) if not lines[i].startswith(" " * pad))
    theirs = "".join(line[pad:] + "\n" for line in lines[at:stop])
    # unwrap reads what sops wrote, with identities found the way sops finds them
    identities = load_identities({"SOPS_AGE_KEY_FILE": str(keys.path)}, home=home)
    data_key = agewrap.unwrap(theirs, identities)
    assert data_key is not None
    assert len(data_key) == 32
    # sops reads what wrap wrote (same data key, so the values and MAC still fit)
    ours = [" " * pad + line for line in agewrap.wrap(data_key, keys.recipient).split("\n")[:-1]]
    assert ours != lines[at:stop]
    (tmp_path / "enc.yaml").write_text("\n".join([*lines[:at], *ours, *lines[stop:]]))
    decrypted = subprocess.run(
        [str(SOPS), "-d", str(tmp_path / "enc.yaml")],
        env={**env, "SOPS_AGE_KEY_FILE": str(keys.path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert decrypted.returncode == 0, decrypted.stderr
    assert decrypted.stdout == "password: hunter2\n"
