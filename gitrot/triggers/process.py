"""Running a program for the reconciler: a ``command`` trigger's, a ``command`` rotator's.

One place for what both need (docs/architecture.md): ``argv`` without a shell, in its own
process group, in a fresh private folder outside the policy repository (:func:`private_folder`,
its working directory and ``HOME``), with a minimal environment (:func:`base_environment`:
``PATH``, ``LANG``, ``HOME``, ``TMPDIR``), standard input from /dev/null or the bytes given
(through a pipe, never a file), output read through a pipe into memory with only a bounded
tail kept (:func:`exit_detail` redacts it). A program still running after its timeout is
killed with its whole process group; so is every running program when the reconciler is
interrupted (:func:`stop_all`, called by ``gitrot reconcile``'s signal handler).
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence

from gitrot.triggers.base import STOPPING

# tempfile and the redaction (json, base64) load when a program runs: the validate hook
# loads the command modules for their option checks alone

TAIL_BYTES = 2048  # of output kept in memory while the program runs
TAIL_LINES = 20
DETAIL_CHARS = 200
DEFAULT_LANG = "C.UTF-8"
POLL = 0.05  # seconds between checks of a running program

_LIVE: set[int] = set()  # process groups of running programs
_LIVE_LOCK = threading.Lock()


def base_environment(environ: Mapping[str, str], home: str) -> dict[str, str]:
    """The minimal environment of a program: ``PATH`` and ``LANG`` from ``environ`` (the
    reconciler's), ``HOME`` and ``TMPDIR`` its private folder ``home``."""
    return {
        "PATH": environ.get("PATH") or os.defpath,
        "HOME": home,
        "LANG": environ.get("LANG") or DEFAULT_LANG,
        "TMPDIR": home,
    }


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str,
    timeout: float,
    stdin: bytes | None = None,
) -> tuple[int | None, bytes]:
    """Run ``argv`` to its end: (exit code, negative for a signal, or None after a
    timeout; the last TAIL_BYTES of its output). ``stdin`` goes to its standard input
    through a pipe (None: /dev/null). OSError when it cannot start (:func:`spawn_failure`)."""
    read_end, write_end = os.pipe()
    given = None
    try:
        try:
            given = _filled_pipe(stdin)  # then it reads all of it even if the reconciler dies
            if given is not None:
                stdin = None
            process = subprocess.Popen(
                list(argv),
                stdin=given if given is not None else _stdin(stdin),
                stdout=write_end,
                stderr=write_end,
                cwd=cwd,
                env=dict(env),
                start_new_session=True,
                close_fds=True,
            )
        finally:
            os.close(write_end)
            if given is not None:
                os.close(given)
        _register(process)
        try:
            feeder = _feed(process, stdin)
            code, tail = _wait(process, read_end, timeout)
            if feeder is not None:
                feeder.join(1)
        except BaseException:  # interrupted: leave nothing running
            kill_group(process)
            raise
        finally:
            _unregister(process)
    finally:
        os.close(read_end)
    return code, tail


def _filled_pipe(data: bytes | None) -> int | None:
    """The read end of a pipe already holding all of ``data`` (its write end closed), when
    it fits in one atomic pipe write: a program started on it reads the whole value and
    then its end, even when the reconciler is killed as it starts (a program outlives a
    SIGKILLed reconciler: it must never read half a value). None for larger data."""
    if data is None or len(data) > select.PIPE_BUF:
        return None
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)  # at most PIPE_BUF bytes into an empty pipe: whole, at once
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return read_end


def _stdin(data: bytes | None) -> int:
    return subprocess.DEVNULL if data is None else subprocess.PIPE


def _feed(process: subprocess.Popen[bytes], data: bytes | None) -> threading.Thread | None:
    """Write ``data`` to the program's standard input from a thread (a program that does
    not read it must not block the wait), then close it."""
    pipe = process.stdin
    if data is None or pipe is None:
        return None

    def write() -> None:
        with contextlib.suppress(OSError):  # it exited or closed its input: nothing to do
            pipe.write(data)
        with contextlib.suppress(OSError):
            pipe.close()

    thread = threading.Thread(target=write, name="gitrot-stdin", daemon=True)
    thread.start()
    return thread


def stop_all() -> int:
    """Stop every running program (SIGKILL to its process group) and start no other one;
    the number of groups killed. Safe to call from a signal handler."""
    STOPPING.set()
    killed = 0
    for group in list(_LIVE):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
            killed += 1
    return killed


def live_groups() -> list[int]:
    """The process groups of the programs running now."""
    return sorted(_LIVE)


def _register(process: subprocess.Popen[bytes]) -> None:
    with _LIVE_LOCK:
        _LIVE.add(process.pid)
    if STOPPING.is_set():  # stop_all ran between the start and the registration
        kill_group(process)


def _unregister(process: subprocess.Popen[bytes]) -> None:
    with _LIVE_LOCK:
        _LIVE.discard(process.pid)


def private_folder(root: str, prefix: str = "gitrot-trigger-") -> str:
    """A fresh 0700 folder outside the repository ``root`` (a real path)."""
    import tempfile

    folder = tempfile.mkdtemp(prefix=prefix)
    real = os.path.realpath(folder)
    if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
        os.rmdir(folder)  # TMPDIR points into the repository: use the system's
        folder = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    return folder


def _wait(
    process: subprocess.Popen[bytes], read_end: int, timeout: float
) -> tuple[int | None, bytes]:
    """(exit code, or None after a timeout; the last TAIL_BYTES of output). Output left in
    the pipe by background children after the program exits is not waited for."""
    deadline = time.monotonic() + timeout
    tail = bytearray()
    os.set_blocking(read_end, False)
    with selectors.DefaultSelector() as selector:
        selector.register(read_end, selectors.EVENT_READ)
        open_pipe = True
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                kill_group(process)
                return None, bytes(tail)
            if open_pipe and selector.select(min(left, POLL)):
                open_pipe = _read(read_end, tail)
            elif not open_pipe:  # output closed: wait for the exit itself, not a whole POLL
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=min(left, POLL))
            code = process.poll()
            if code is not None:
                while open_pipe and _read(read_end, tail, final=True):
                    pass
                return code, bytes(tail)


def _read(fd: int, tail: bytearray, *, final: bool = False) -> bool:
    """Read what is there into ``tail`` (kept to TAIL_BYTES, plus one byte that marks a cut
    first line); False at the end of the output, or when ``final`` and nothing is left."""
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        return not final
    if not chunk:
        return False
    tail.extend(chunk)
    if len(tail) > TAIL_BYTES:
        del tail[: len(tail) - TAIL_BYTES - 1]
        tail[0] = 0  # the first line is cut: exit_detail drops it
    return True


def spawn_failure(exc: OSError, program: str) -> str:
    """Why ``program`` did not start, in a few words."""
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, FileNotFoundError):
        return f"not found: {program}"
    if isinstance(exc, PermissionError):
        return f"not executable: {program}"
    return f"cannot run {program}: {reason}"


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the program and everything it started in its process group (after a timeout
    or an interruption; a program that exits on its own keeps its background children)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
        process.wait()


def exit_detail(code: int, tail: bytes, redact: Sequence[str]) -> str:
    """``exit N``; after a failure, with the last line of output: the last TAIL_LINES
    lines are redacted as a whole, then the last one is cut to DETAIL_CHARS."""
    from gitrot.triggers.redact import redact as scrub

    detail = f"killed by signal {-code}" if code < 0 else f"exit {code}"
    if code == 0:
        return detail
    text = tail.decode("utf-8", "replace")
    lines = text.splitlines()
    if tail[:1] == b"\0":
        lines = lines[1:]  # a line the tail cut: what is left of it could be half a value
    kept = "\n".join(line.strip() for line in lines[-TAIL_LINES:] if line.strip())
    kept = "".join(ch if ch.isprintable() or ch == "\n" else "?" for ch in scrub(kept, redact))
    if not kept:
        return detail
    last = kept.rsplit("\n", 1)[-1]
    if len(last) > DETAIL_CHARS:
        last = last[: DETAIL_CHARS - 1] + "…"
    return f"{detail}: {last}"
