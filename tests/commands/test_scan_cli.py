"""gitrot scan at its edges: folders and symlinks are skipped (a symlink with a notice),
a large binary file is skipped like a small one, an allowlist path that is not a file is
refused, and without FILEs outside git the error says what to do."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest


def _token() -> str:
    rng = random.Random(7)
    return "ghp_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(36))


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "leak.py").write_text(f'GH = "{_token()}"\n')
    return tmp_path


def test_folders_are_skipped_and_symlinks_noted(gitrot, here: Path) -> None:
    (here / "sub").mkdir()
    (here / "link.py").symlink_to("leak.py")
    result = gitrot("scan", "sub", "link.py")
    assert result == (0, "", "gitrot: skipped link.py: a symlink (git records its target's path)\n")


def test_a_large_binary_file_is_skipped(gitrot, here: Path) -> None:
    (here / "big.bin").write_bytes(b"a" * (6 * 1024 * 1024) + b"\0" + _token().encode())
    result = gitrot("scan", "big.bin")
    assert result == (0, "", "gitrot: skipped big.bin: binary file\n")


def test_an_allowlist_that_is_a_folder_is_refused_by_init(gitrot, here: Path) -> None:
    (here / "allow").mkdir()
    result = gitrot("scan", "--init", "--allowlist", "allow")
    assert result.code == 2
    assert result.err.splitlines()[0] == "gitrot: error: is a directory, not a file (allow)"
    assert list((here / "allow").iterdir()) == []


def test_init_with_a_named_allowlist_creates_it(gitrot, here: Path) -> None:
    result = gitrot("scan", "--init", "--allowlist", "ci/allow.yaml")
    assert result.code == 2  # its folder does not exist
    assert "cannot write here" in result.err
    (here / "ci").mkdir()
    result = gitrot("scan", "--init", "--allowlist", "ci/allow.yaml")
    assert result == (0, "", "gitrot: created ci/allow.yaml with a new salt; commit it\n")
    assert (here / "ci" / "allow.yaml").read_text().count("salt: ") == 1
    found = gitrot("scan", "--allowlist", "ci/allow.yaml", "leak.py")
    assert found.code == 1
    assert "or the fingerprint to ci/allow.yaml" in found.err
    assert "keyed for this run only" not in found.err  # the salt makes them stable


def test_without_files_outside_git_says_what_to_do(gitrot, here: Path) -> None:
    result = gitrot("scan")
    assert result.code == 2
    assert result.err.splitlines() == [
        "gitrot: error: no FILE given and this is not a git work tree",
        "hint: name the files to scan, or run it inside a git repository",
    ]
