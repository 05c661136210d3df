"""gitrot scan at its edges, in process: what is skipped (a folder, a symlink, a large file
that turns out binary), what is refused (an allowlist that is a folder, no FILE outside a
git work tree), and the large-file windows' line numbers."""

from __future__ import annotations

import io
import os
import random
import string
from pathlib import Path

import pytest

from gitrot.scan.stream import scan_stream


def token(seed: int = 1) -> str:
    rng = random.Random(seed)
    return "ghp_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(36))


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "leak.py").write_text(f'GH = "{token()}"\n')
    return tmp_path


def test_a_folder_is_passed_over_and_a_symlink_skipped_with_a_notice(gitrot, files: Path) -> None:
    (files / "folder").mkdir()
    (files / "link.py").symlink_to("leak.py")
    result = gitrot("scan", "folder", "link.py")
    assert result == (0, "", "gitrot: skipped link.py: a symlink (git records its target's path)\n")
    result = gitrot("scan", "folder", "link.py", "leak.py")
    assert result.code == 1 and result.out.startswith("leak.py:1:7: error: [github-token] ")


def test_a_large_file_found_binary_after_the_first_read_is_skipped(gitrot, files: Path) -> None:
    (files / "big.dat").write_bytes(b"text\n\0" + b"x" * (5 * 1024 * 1024))
    result = gitrot("scan", "big.dat", "leak.py")
    assert result.code == 1
    assert result.err.startswith("gitrot: skipped big.dat: binary file\n")
    assert [line.split(":")[0] for line in result.out.splitlines()] == ["leak.py"]


def test_init_refuses_an_allowlist_path_that_is_a_folder(gitrot, files: Path) -> None:
    (files / "allow").mkdir()
    result = gitrot("scan", "--init", "--allowlist", "allow")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("gitrot: error: ") and "allow" in result.err
    assert list((files / "allow").iterdir()) == []


def test_init_reports_an_existing_salt_and_adds_one_to_a_file_without(gitrot, files: Path) -> None:
    assert gitrot("scan", "--init", "--allowlist", "a.yaml").code == 0
    before = (files / "a.yaml").read_text()
    result = gitrot("scan", "--init", "--allowlist", "a.yaml")
    assert result == (0, "", "gitrot: a.yaml already has a salt; nothing to do\n")
    assert (files / "a.yaml").read_text() == before


def test_without_files_outside_a_git_work_tree_is_an_input_error(gitrot, files: Path) -> None:
    result = gitrot("scan")
    assert result.code == 2 and result.out == ""
    assert result.err.splitlines()[0] == (
        "gitrot: error: no FILE given and this is not a git work tree"
    )
    assert "name the files to scan" in result.err


def test_windows_shorter_than_the_overlap_keep_their_line_numbers() -> None:
    lines = [f"line {n}\n" for n in range(1, 40)]
    lines[24] = f"key = {token()}\n"
    data = "".join(lines).encode()
    hits = scan_stream(io.BytesIO(data), path="f.txt", chunk=16, overlap=64)
    assert [(hit.rule, hit.line, hit.column) for hit in hits] == [("github-token", 25, 7)]
    whole = scan_stream(io.BytesIO(data), path="f.txt", chunk=len(data) + 1, overlap=64)
    assert [hit.fingerprint for hit in whole] == [hit.fingerprint for hit in hits]


def test_a_large_file_gone_before_its_windows_are_read_is_counted_unreadable(
    gitrot, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (files / "big.txt").write_text("x\n" * (3 * 1024 * 1024))
    real_open, opened = os.open, []

    def removed_after_the_size_check(path, flags, *args):  # type: ignore[no-untyped-def]
        if os.fspath(path) == "big.txt":
            opened.append(path)
            if len(opened) > 1:
                raise FileNotFoundError(2, "No such file or directory")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", removed_after_the_size_check)
    result = gitrot("scan", "big.txt", "leak.py")
    assert len(opened) == 2
    assert result.code == 2  # unreadable input outranks the finding, which is still shown
    assert result.out.startswith("leak.py:1:7: error: [github-token] ")
    assert result.err.splitlines()[0] == (
        "gitrot: error: cannot read the file: No such file or directory (big.txt)"
    )
