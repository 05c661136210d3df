"""The standard input of a program the reconciler runs (gitrot/triggers/process.py): a
value is in the pipe before the program starts, so a program that outlives a SIGKILLed
reconciler (its own process group) still reads all of it, never an empty or cut value."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitrot.triggers import process

READ = 'IFS= read -r v && printf "%s" "$v" > "$0"'


def run_reading(tmp_path: Path, data: bytes) -> tuple[int | None, str]:
    out = tmp_path / "read"
    code, _ = process.run(
        ["sh", "-c", READ, str(out)],
        env=process.base_environment({}, str(tmp_path)),
        cwd=str(tmp_path),
        timeout=10,
        stdin=data,
    )
    return code, out.read_text() if out.exists() else ""


# Regression: the value was written by a thread after the program started; a reconciler
# SIGKILLed in between left the program (still running: its own process group) an empty
# standard input, and a command rotator's `set` ran with an empty value.
def test_a_value_is_read_whole_even_if_the_reconciler_never_feeds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process, "_feed", lambda *_: None)  # died before feeding
    assert run_reading(tmp_path, b"pending-value-1\n") == (0, "pending-value-1")


def test_a_value_larger_than_an_atomic_pipe_write_is_fed(tmp_path: Path) -> None:
    value = "x" * 70_000  # more than a pipe holds: written while the program reads
    assert run_reading(tmp_path, (value + "\n").encode()) == (0, value)
