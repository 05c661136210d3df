"""Tampering, bad input and atomic writes: one-line errors, the exit codes of README.md, no leaks."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import Key, make_key, run_sops

SECRET = "hunter2-Sup3rSecret"
TEXT = f"""\
db:
    user: admin
    password: {SECRET}
list:
    - first-{SECRET}
    - second
port: 5432
"""


@pytest.fixture
def encrypted(gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    plain = tmp_path / "plain.yaml"
    plain.write_text(TEXT)
    out = tmp_path / "enc.yaml"
    assert gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(out)).code == 0
    return out


def _enc_lines(text: str) -> list[int]:
    return [i for i, line in enumerate(text.splitlines()) if "ENC[" in line and "mac:" not in line]


def _assert_clean_error(result, code: int, where: Path) -> None:  # type: ignore[no-untyped-def]
    assert result.code == code, result.err
    lines = result.err.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.err
    assert lines[0].startswith("gitrot: error: ")
    assert str(where) in lines[0]
    assert "Traceback" not in result.err
    assert SECRET not in result.err + result.out


def _sops_agrees(path: Path, key: Key, code: int) -> None:
    assert run_sops(["-d", str(path)], key=key).returncode == code


def test_modified_value_is_caught(gitrot, encrypted: Path, key: Key) -> None:
    lines = encrypted.read_text().splitlines()
    index = _enc_lines(encrypted.read_text())[1]
    lines[index] = re.sub(
        r"data:(.)", lambda m: "data:" + ("A" if m.group(1) != "A" else "B"), lines[index]
    )
    encrypted.write_text("\n".join(lines) + "\n")
    _assert_clean_error(gitrot("decrypt", str(encrypted)), 1, encrypted)
    _sops_agrees(encrypted, key, 25)


def test_value_swapped_between_keys_is_caught(gitrot, encrypted: Path, key: Key) -> None:
    lines = encrypted.read_text().splitlines()
    a, b = _enc_lines(encrypted.read_text())[:2]
    va, vb = lines[a].split(": ", 1)[1], lines[b].split(": ", 1)[1]
    lines[a], lines[b] = lines[a].replace(va, vb), lines[b].replace(vb, va)
    encrypted.write_text("\n".join(lines) + "\n")
    _assert_clean_error(gitrot("decrypt", str(encrypted)), 1, encrypted)
    _sops_agrees(encrypted, key, 25)


def test_reordered_list_is_caught_by_the_mac(gitrot, encrypted: Path, key: Key) -> None:
    lines = encrypted.read_text().splitlines()
    items = [i for i in _enc_lines(encrypted.read_text()) if lines[i].lstrip().startswith("- ")]
    lines[items[0]], lines[items[1]] = lines[items[1]], lines[items[0]]
    encrypted.write_text("\n".join(lines) + "\n")
    result = gitrot("decrypt", str(encrypted))
    _assert_clean_error(result, 1, encrypted)
    assert "MAC mismatch" in result.err
    _sops_agrees(encrypted, key, 51)


def test_changed_cleartext_value_is_caught_by_the_mac(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    plain = tmp_path / "p.yaml"
    plain.write_text("a_unencrypted: 1\nb: 2\n")
    out = tmp_path / "e.yaml"
    assert gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(out)).code == 0
    out.write_text(out.read_text().replace("a_unencrypted: 1", "a_unencrypted: 2"))
    _assert_clean_error(gitrot("decrypt", str(out)), 1, out)
    _sops_agrees(out, key, 51)


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_truncated_file_is_refused(gitrot, encrypted: Path, cut: float) -> None:
    text = encrypted.read_text()
    encrypted.write_text(text[: int(len(text) * cut)])
    result = gitrot("decrypt", str(encrypted))
    assert result.code in (1, 2), result.err
    _assert_clean_error(result, result.code, encrypted)


def test_wrong_key_is_refused(
    gitrot, encrypted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = make_key(tmp_path, "other.txt")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(other.path))
    result = gitrot("decrypt", str(encrypted))
    _assert_clean_error(result, 2, encrypted)
    assert "recipient" in result.err


def test_no_key_at_all_is_refused(gitrot, encrypted: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    _assert_clean_error(gitrot("decrypt", str(encrypted)), 2, encrypted)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("plain.yaml", "a: 1\nb: two\n"),
        ("list.yaml", "- a\n- b\n"),
        ("bad.yaml", "a: [1, 2\nb: {\n"),
        ("dup.yaml", "a: 1\na: 2\n"),
        (
            "bomb.yaml",
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n"
                for i in range(6)
            ),
        ),
        ("empty.json", ""),
        ("bad.json", '{"a": 1,}'),
    ],
)
def test_not_sops_or_malformed_input_is_refused(
    gitrot, tmp_path: Path, name: str, content: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    _assert_clean_error(gitrot("decrypt", str(path)), 2, path)


def test_binary_and_missing_files_are_refused(gitrot, tmp_path: Path) -> None:
    binary = tmp_path / "x.yaml"
    binary.write_bytes(b"a: \x00\x01\x02")
    _assert_clean_error(gitrot("decrypt", str(binary)), 2, binary)
    latin = tmp_path / "l.yaml"
    latin.write_bytes(b"a: caf\xe9\n")
    _assert_clean_error(gitrot("decrypt", str(latin)), 2, latin)
    missing = tmp_path / "missing.yaml"
    _assert_clean_error(gitrot("decrypt", str(missing)), 2, missing)


def test_malformed_plaintext_yaml_names_the_line(gitrot, key: Key, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a: 1\nb: 2\nb: 3\n")
    result = gitrot("encrypt", str(path), "--age", key.recipient)
    _assert_clean_error(result, 2, path)
    assert f"{path}:3" in result.err


def test_in_place_failure_leaves_the_file_untouched(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(TEXT)
    result = gitrot("encrypt", "-i", str(path), "--age", "age1notarecipient")
    assert result.code == 2
    assert path.read_text() == TEXT

    def boom(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    result = gitrot("encrypt", "-i", str(path), "--age", key.recipient)
    assert result.code != 0
    assert path.read_text() == TEXT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml"]


def test_secret_never_in_encrypted_output_or_errors(gitrot, encrypted: Path) -> None:
    assert SECRET not in encrypted.read_text()
    result = gitrot("decrypt", str(encrypted), "--extract", '["nope"]')
    _assert_clean_error(result, 2, encrypted)


def test_decrypt_many_reports_each_failure_and_goes_on(
    gitrot, encrypted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    broken = tmp_path / "broken.yaml"
    broken.write_text("not: sops\n")
    result = gitrot("decrypt", "enc.yaml", "broken.yaml", "--output-dir", "out")
    assert result.code == 2
    assert "broken.yaml" in result.err
    rendered = tmp_path / "out" / "enc.yaml"
    assert SECRET in rendered.read_text()
    assert rendered.stat().st_mode & 0o777 == 0o600
    outside = gitrot("decrypt", "../x.yaml", "--output-dir", "out")
    assert outside.code == 2 and "outside" in outside.err


def test_plain_decrypt_fast_path_matches_the_parsed_command(gitrot, encrypted: Path) -> None:
    """``decrypt FILE`` skips argparse; with an option it goes through it: same output."""
    fast = gitrot("decrypt", str(encrypted))
    parsed = gitrot("decrypt", "--input-type", "yaml", str(encrypted))
    assert fast.code == parsed.code == 0
    assert fast.out == parsed.out
    assert SECRET in fast.out


def test_usage_errors_exit_2(gitrot) -> None:
    assert gitrot("decrypt").code == 2
    assert gitrot("frobnicate").code == 2
    assert gitrot("decrypt", "a.yaml", "b.yaml").code == 2
