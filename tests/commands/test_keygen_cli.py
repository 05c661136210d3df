"""keygen adding to the default key file: what it refuses to write through, and the warning
for a key file others can read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest


@pytest.fixture
def key_file(isolated_home: Path) -> Path:
    path = isolated_home / ".config" / "sops" / "age" / "keys.txt"
    path.parent.mkdir(parents=True)
    return path


def test_keygen_will_not_write_through_a_symlink(gitrot, key_file: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("# not a key file\n")
    key_file.symlink_to(elsewhere)
    result = gitrot("keygen")
    assert result.code == 2 and result.out == ""
    first, hint = result.err.splitlines()
    assert first.startswith("gitrot: error: cannot add to the identity file (")
    assert first.endswith(f"({key_file})")
    assert hint.startswith("hint: it must be a regular file you can write")
    assert elsewhere.read_text() == "# not a key file\n"


def test_keygen_will_not_write_into_a_fifo(gitrot, key_file: Path) -> None:
    os.mkfifo(key_file)
    result = gitrot("keygen")
    assert result.code == 2 and result.out == ""
    assert result.err.splitlines() == [
        f"gitrot: error: the identity file is not a regular file ({key_file})",
        "hint: pass -o NEWFILE",
    ]


def test_keygen_fills_an_empty_key_file_and_warns_when_others_can_read_it(
    gitrot, key_file: Path
) -> None:
    key_file.touch()
    key_file.chmod(0o644)
    result = gitrot("keygen")
    assert result.code == 0, result.err
    text = key_file.read_text()
    assert text.startswith("# created: ") and text.count("AGE-SECRET-KEY-1") == 1
    assert f"# public key: {result.out.strip()}\n" in text
    assert (
        f"gitrot: warning: {key_file} can be read by others (mode 644); chmod 600 it" in result.err
    )
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o644  # its mode is the user's to change
    assert "AGE-SECRET-KEY-1" not in result.out + result.err
