"""keygen, encrypt -i and the ways recipients are chosen."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.conftest import Key, require_tool, run_sops


def test_keygen_writes_0600_prints_recipient_and_appends_to_the_default_file(
    gitrot, isolated_home: Path, tmp_path: Path
) -> None:
    result = gitrot("keygen")
    assert result.code == 0, result.err
    recipient = result.out.strip()
    assert recipient.startswith("age1")
    key_file = isolated_home / ".config" / "sops" / "age" / "keys.txt"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    text = key_file.read_text()
    assert f"# public key: {recipient}" in text
    assert "AGE-SECRET-KEY-1" not in result.out + result.err
    # age users keep several identities in that file: a second one is appended
    again = gitrot("keygen")
    assert again.code == 0 and "added a new age identity" in again.err
    second = again.out.strip()
    assert second.startswith("age1") and second != recipient
    both = key_file.read_text()
    assert both.startswith(text) and f"# public key: {second}" in both[len(text) :]
    assert both.count("# created: ") == 2 and both.count("AGE-SECRET-KEY-1") == 2
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "AGE-SECRET-KEY-1" not in again.out + again.err
    # sops (and age) open what either identity can read
    plain = tmp_path / "p.yaml"
    plain.write_text("token: abc\n")
    for who in (recipient, second):
        out = tmp_path / f"{who[:10]}.yaml"
        assert gitrot("encrypt", str(plain), "--age", who, "-o", str(out)).code == 0
        opened = run_sops(["-d", str(out)])
        assert opened.returncode == 0 and opened.stdout == b"token: abc\n"


def test_keygen_appends_on_a_line_of_its_own(gitrot, isolated_home: Path) -> None:
    key_file = isolated_home / ".config" / "sops" / "age" / "keys.txt"
    key_file.parent.mkdir(parents=True)
    key_file.write_text("# my old key, no newline at the end")
    key_file.chmod(0o600)
    result = gitrot("keygen")
    assert result.code == 0, result.err
    lines = key_file.read_text().splitlines()
    assert lines[0] == "# my old key, no newline at the end" and lines[1].startswith("# created: ")


def test_keygen_o_refuses_an_existing_file_like_age_keygen(gitrot, tmp_path: Path) -> None:
    import subprocess

    target = tmp_path / "key.txt"
    assert gitrot("keygen", "-o", str(target)).code == 0
    text = target.read_text()
    again = gitrot("keygen", "-o", str(target))
    assert again.code == 2 and "refusing to overwrite" in again.err and "-o NEWFILE" in again.err
    assert target.read_text() == text
    theirs = subprocess.run(
        [require_tool("age-keygen"), "-o", str(target)], capture_output=True, check=False
    )
    assert theirs.returncode != 0 and target.read_text() == text


def test_keygen_identity_is_found_by_gitrot_and_sops(gitrot, tmp_path: Path) -> None:
    recipient = gitrot("keygen").out.strip()
    plain = tmp_path / "p.yaml"
    plain.write_text("token: abc\n")
    out = tmp_path / "e.yaml"
    assert gitrot("encrypt", str(plain), "--age", recipient, "-o", str(out)).code == 0
    assert gitrot("decrypt", str(out)).out == "token: abc\n"
    result = run_sops(["-d", str(out)])  # sops finds the same default keys.txt
    assert result.returncode == 0 and result.stdout == b"token: abc\n"


def test_encrypt_in_place_then_refuses_to_encrypt_twice(gitrot, key: Key, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a: 1\n")
    assert gitrot("encrypt", "-i", str(path), "--age", key.recipient).code == 0
    encrypted = path.read_text()
    assert "ENC[AES256_GCM" in encrypted
    again = gitrot("encrypt", "-i", str(path), "--age", key.recipient)
    assert again.code == 2 and "already" in again.err
    assert path.read_text() == encrypted


def test_recipients_from_environment_and_explicit_config(
    gitrot, key: Key, key2: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a: 1\n")
    monkeypatch.setenv("SOPS_AGE_RECIPIENTS", f"{key.recipient},{key2.recipient}")
    out = gitrot("encrypt", str(path))
    assert out.code == 0 and out.out.count("recipient: age1") == 2
    monkeypatch.delenv("SOPS_AGE_RECIPIENTS")
    config = tmp_path / "elsewhere.yaml"
    config.write_text(f"creation_rules:\n  - unencrypted_regex: ^a$\n    age: {key2.recipient}\n")
    out = gitrot("encrypt", str(path), "--config", str(config))
    assert out.code == 0, out.err
    assert "a: 1" in out.out and key2.recipient in out.out and key.recipient not in out.out
    monkeypatch.setenv("SOPS_CONFIG", str(config))
    assert gitrot("encrypt", str(path)).out.count("unencrypted_regex: ^a$") == 1


def test_no_recipients_is_a_clear_error(gitrot, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a: 1\n")
    result = gitrot("encrypt", str(path))
    assert result.code == 2
    assert "no age recipients" in result.err and "hint:" in result.err


def test_no_matching_rule_without_age_fails_like_sops(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: ^only/\n    age: {key.recipient}\n"
    )
    monkeypatch.chdir(tmp_path)
    Path("p.yaml").write_text("a: 1\n")
    result = gitrot("encrypt", "p.yaml")
    assert result.code == 2 and "no matching creation rules" in result.err
    assert run_sops(["-e", "p.yaml"], cwd=tmp_path).returncode != 0
    assert (
        gitrot("encrypt", "p.yaml", "--age", key.recipient).code == 0
    )  # explicit keys need no rule


def test_invalid_selector_regex_is_an_input_error(gitrot, key: Key, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a: 1\n")
    result = gitrot("encrypt", str(path), "--age", key.recipient, "--encrypted-regex", "(")
    assert result.code == 2
    assert "not a valid regular expression" in result.err and "Traceback" not in result.err
