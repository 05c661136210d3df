"""``--output``/``-o`` of every command: a FIFO or device is written in place, never replaced.

Renaming a temporary file over ``/dev/null`` (as root on a CI runner) breaks every later
step of the machine. These tests never aim at the real device: they write through a
symlink to it (a faulty rename replaces the symlink, and the test fails) and into FIFOs they
make, and check at the end that the real ``/dev/null`` is still the device it was.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.check.conftest import DB, PolicyRepo, intent_path, policy, pr_facts
from tests.conftest import Key, Result

__all__ = ["policy", "pr_facts"]

Run = Callable[..., Result]
Command = Callable[[str], Result]  # runs one command with its output option set to a path


@pytest.fixture(autouse=True)
def real_dev_null_untouched() -> Iterator[None]:
    before = os.stat("/dev/null")
    yield
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert after.st_ino == before.st_ino


class FifoReader:
    """A FIFO and a thread reading it to the end (as ``cat fifo`` would)."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        self.data = b""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with open(self.path, "rb") as fifo:  # blocks until the command opens it for writing
            self.data = fifo.read()

    def text(self) -> str:
        """What was written; a command that never opened the FIFO releases the reader."""
        self.thread.join(timeout=0.5)
        if self.thread.is_alive():
            fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()
        return self.data.decode()


def _assert_device_link(link: Path) -> None:
    assert link.is_symlink() and os.readlink(link) == "/dev/null"
    assert stat.S_ISCHR(os.stat(link).st_mode)


# -- the commands, each with its output option ---------------------------------------------


@pytest.fixture
def changed(policy: PolicyRepo) -> PolicyRepo:
    """A pull request branch that rotates the database password (clean for the check)."""
    policy.branch("pr")
    policy.rotate(DB)
    policy.commit("Rotate the database password")
    return policy


@pytest.fixture
def encrypted(gitrot: Run, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    plain = tmp_path / "plain.yaml"
    plain.write_text("token: not-a-secret\n")
    out = tmp_path / "enc.yaml"
    assert gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(out)).code == 0
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    return out


def _validate(gitrot: Run, changed: PolicyRepo) -> Command:
    return lambda target: gitrot("validate", "--format", "json", "--output", target)


def _check(gitrot: Run, changed: PolicyRepo) -> Command:
    return lambda target: changed.check_raw("--format", "json", "--output", target)


def _due(gitrot: Run, changed: PolicyRepo) -> Command:
    return lambda target: gitrot("due", "--format", "json", "--output", target)


COMMANDS = {"validate": _validate, "check": _check, "due": _due}


@pytest.fixture(params=sorted(COMMANDS))
def report_command(request: pytest.FixtureRequest, gitrot: Run, changed: PolicyRepo) -> Command:
    return COMMANDS[request.param](gitrot, changed)


def test_reports_into_a_symlink_to_dev_null(report_command: Command, tmp_path: Path) -> None:
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    result = report_command(str(link))
    assert result.code == 0, result.err
    assert result.out == ""
    _assert_device_link(link)


def test_reports_into_a_fifo(report_command: Command, tmp_path: Path) -> None:
    reader = FifoReader(tmp_path / "fifo")
    result = report_command(str(reader.path))
    assert result.code == 0, result.err
    assert isinstance(json.loads(reader.text()), list)
    assert stat.S_ISFIFO(os.stat(reader.path).st_mode)


def test_reports_to_stdout_with_dash(report_command: Command, tmp_path: Path) -> None:
    result = report_command("-")
    assert result.code == 0, result.err
    assert isinstance(json.loads(result.out), list)
    assert not (Path.cwd() / "-").exists()


def test_a_device_that_fails_is_an_input_error(report_command: Command, tmp_path: Path) -> None:
    link = tmp_path / "full"
    link.symlink_to("/dev/full")
    result = report_command(str(link))
    assert result.code == 2 and "cannot write the output" in result.err
    assert link.is_symlink() and stat.S_ISCHR(os.stat(link).st_mode)


def test_a_regular_file_is_still_replaced_atomically(
    report_command: Command, tmp_path: Path
) -> None:
    report = tmp_path / "out" / "report.json"
    report.parent.mkdir()
    report.write_text("old")
    assert report_command(str(report)).code == 0
    assert isinstance(json.loads(report.read_text()), list)
    assert [p.name for p in report.parent.iterdir()] == ["report.json"]


def test_validate_through_our_own_stdout_descriptor(changed: PolicyRepo, tmp_path: Path) -> None:
    """``--output /proc/self/fd/1`` (what ``/dev/stdout`` links to) with stdout a regular
    file: written through the descriptor, at the shell's offset. (Not ``/dev/stdout``
    itself: a faulty rename there would replace the machine's link.)"""
    out = tmp_path / "stdout.txt"
    argv = ["validate", "--format", "json", "--output", "/proc/self/fd/1"]
    with out.open("w") as handle:
        handle.write("before\n")
        handle.flush()
        result = subprocess.run(
            [sys.executable, "-m", "gitrot", *argv],
            stdout=handle,
            stderr=subprocess.PIPE,
            cwd=changed.policy,
            check=False,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    first, rest = out.read_text().split("\n", 1)
    assert first == "before" and json.loads(rest) == []


def test_fd_names_are_descriptors() -> None:
    from gitrot.files.fsutil import _fd_name

    assert _fd_name("/dev/stdout") == 1 and _fd_name("/dev/stderr") == 2
    assert _fd_name("/dev/fd/7") == 7 and _fd_name("/proc/self/fd/1") == 1
    assert _fd_name("/dev/null") is None and _fd_name("/dev/fd/x") is None


# -- encrypt, decrypt, rekey: -o ------------------------------------------------------------


def test_encrypt_into_dev_null_does_not_read_it_as_an_earlier_version(
    gitrot: Run, key: Key, tmp_path: Path
) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("token: not-a-secret\n")
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    result = gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(link))
    assert result.code == 0, result.err
    _assert_device_link(link)
    reader = FifoReader(tmp_path / "fifo")
    result = gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(reader.path))
    assert result.code == 0, result.err
    assert "ENC[AES256_GCM" in reader.text() and "not-a-secret" not in reader.data.decode()
    dash = gitrot("encrypt", str(plain), "--age", key.recipient, "-o", "-")
    assert dash.code == 0 and "ENC[AES256_GCM" in dash.out
    assert not (Path.cwd() / "-").exists()


@pytest.mark.parametrize("command", ["decrypt", "rekey"])
def test_decrypt_and_rekey_into_devices_fifos_and_stdout(
    gitrot: Run, encrypted: Path, tmp_path: Path, command: str
) -> None:
    before = encrypted.read_text()
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    result = gitrot(command, str(encrypted), "-o", str(link))
    assert result.code == 0, result.err
    _assert_device_link(link)
    reader = FifoReader(tmp_path / "fifo")
    result = gitrot(command, str(encrypted), "-o", str(reader.path))
    assert result.code == 0, result.err
    written = reader.text()
    dash = gitrot(command, str(encrypted), "-o", "-")
    assert dash.code == 0, dash.err
    if command == "decrypt":
        assert written == dash.out == "token: not-a-secret\n"
    else:
        assert "ENC[AES256_GCM" in written and "ENC[AES256_GCM" in dash.out
    assert encrypted.read_text() == before  # -o never touches the input
    assert not (Path.cwd() / "-").exists()


def test_keygen_never_replaces_a_device(gitrot: Run, tmp_path: Path) -> None:
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    result = gitrot("keygen", "-o", str(link))
    assert result.code in (0, 2), result.err
    _assert_device_link(link)
    assert "AGE-SECRET-KEY-1" not in result.out + result.err


def test_in_repository_writes_refuse_to_replace_a_fifo(changed: PolicyRepo) -> None:
    """write_atomic (intents, rotate, scan's allowlist) never renames over a FIFO."""
    from gitrot.errors import InputError
    from gitrot.files.fsutil import write_atomic

    fifo = changed.policy / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"FIFO .*refusing to replace it"):
        write_atomic(fifo, "x")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert (changed.policy / intent_path(DB)).exists()
