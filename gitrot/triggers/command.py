"""The ``command`` trigger: run a program when a secret has a new version.

``argv`` runs without a shell, with stdin from /dev/null, in its own process group, in a
fresh private folder outside the policy repository (its working directory and ``HOME``,
removed afterwards): it never runs with the reconciler's identity (``.gitrot/*.key``) at
hand. Its environment is minimal: ``PATH`` and ``LANG`` from the reconciler's, the
variables ``env`` lists (never a credential of gitrot's own: see
:data:`gitrot.triggers.options.REFUSED_ENV`), and what changed, never the value::

    GITROT_SECRET_NAME  GITROT_SECRET_VERSION  GITROT_COMMIT  GITROT_DELIVERY_ID
    GITROT_BACKEND      GITROT_BACKEND_VERSION_ID

Output is read through a pipe into memory (no file holds it) and only a bounded tail is
kept: after a failure the receipt's detail is ``exit 2: <last line>``, redacted
(:mod:`gitrot.triggers.redact`). A command still running after ``timeout`` is killed with
its whole process group; so is every running command when the reconciler is interrupted
(:func:`stop_all`, called by ``gitrot reconcile``'s signal handler).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from gitrot.core.ports import Delivery
from gitrot.triggers import options as opts
from gitrot.triggers.base import STOPPING, Receipt

# tempfile and the redaction (json, base64) load when a command runs: the validate hook
# loads this module for check() alone

OPTIONS = ("argv", "env", "timeout")
DEFAULT_TIMEOUT = 300.0
TAIL_BYTES = 2048  # of output kept in memory while the command runs
TAIL_LINES = 20
DETAIL_CHARS = 200
DEFAULT_LANG = "C.UTF-8"
POLL = 0.05  # seconds between checks of a running command

_LIVE: set[int] = set()  # process groups of running commands
_LIVE_LOCK = threading.Lock()


class CommandOptions:
    """A command trigger's options, checked (:func:`check`)."""

    __slots__ = ("argv", "env", "timeout")

    def __init__(self, argv: list[str], env: tuple[str, ...], timeout: float) -> None:
        self.argv = argv
        self.env = env
        self.timeout = timeout


def check(name: str, options: Mapping[str, object]) -> CommandOptions:
    """The options of ``triggers.<name>`` (type command), or an OptionError: the one check
    the loader (``validate``, ``check``) and the reconciler share."""
    if "cwd" in options:
        raise opts.fail(
            name,
            "cwd",
            "is not an option any more: a command runs in a fresh folder outside the repository",
            "remove cwd; give the command its folder, like argv: [make, -C, /srv/deploy, rebuild]",
        )
    opts.allow(name, "command", options, OPTIONS)
    return CommandOptions(
        _argv(name, options.get("argv")),
        opts.env_names(name, options, "env"),
        opts.seconds(name, options, "timeout", DEFAULT_TIMEOUT),
    )


class CommandTrigger:
    """``triggers.<name>`` with ``type: command``."""

    __slots__ = ("_clock", "_environ", "argv", "env", "name", "root", "timeout")

    def __init__(
        self,
        name: str,
        options: Mapping[str, object],
        environ: Mapping[str, str],
        *,
        root: str = ".",
        clock: Callable[[], float] = time.time,
    ) -> None:
        checked = check(name, options)
        self.name = name
        self.argv = checked.argv
        self.env = checked.env
        self.timeout = checked.timeout
        self.root = os.path.realpath(root)
        self._environ = dict(environ)
        self._clock = clock

    def environment(self, delivery: Delivery, home: str) -> dict[str, str]:
        """The command's environment for ``delivery``: minimal (see the module docstring);
        ``home`` is its private folder."""
        env = {
            "PATH": self._environ.get("PATH") or os.defpath,
            "HOME": home,
            "LANG": self._environ.get("LANG") or DEFAULT_LANG,
            "TMPDIR": home,
        }
        env.update({k: self._environ[k] for k in self.env if k in self._environ})
        env.update(
            GITROT_SECRET_NAME=delivery.name,
            GITROT_SECRET_VERSION=str(delivery.version),
            GITROT_COMMIT=delivery.commit,
            GITROT_DELIVERY_ID=delivery.delivery_id,
            GITROT_BACKEND=delivery.backend,
            GITROT_BACKEND_VERSION_ID=delivery.backend_id,
        )
        return env

    def fire(self, delivery: Delivery, *, redact: Sequence[str] = ()) -> Receipt:
        """Run the command for ``delivery``; ``redact``: values its output must not
        show in the detail (in any encoding)."""
        at = int(self._clock())
        ok, detail = self._run(delivery, redact)
        return Receipt(
            trigger=self.name,
            delivery_id=delivery.delivery_id,
            ok=ok,
            attempts=1,
            detail=detail,
            at=at,
        )

    def _run(self, delivery: Delivery, redact: Sequence[str]) -> tuple[bool, str]:
        if STOPPING.is_set():
            return False, "not run: the reconciler is stopping"
        folder = _private_folder(self.root)
        try:
            return self._spawn(self.environment(delivery, folder), folder, redact)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _spawn(self, env: dict[str, str], cwd: str, redact: Sequence[str]) -> tuple[bool, str]:
        program = self.argv[0]
        read_end, write_end = os.pipe()
        try:
            try:
                process = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=write_end,
                    stderr=write_end,
                    cwd=cwd,
                    env=env,
                    start_new_session=True,
                    close_fds=True,
                )
            except OSError as exc:
                return False, _spawn_failure(exc, program)
            finally:
                os.close(write_end)
            _register(process)
            try:
                code, tail = _wait(process, read_end, self.timeout)
            except BaseException:  # interrupted: leave nothing running
                _kill_group(process)
                raise
            finally:
                _unregister(process)
        finally:
            os.close(read_end)
        if code is None:
            return False, f"timeout after {self.timeout:g}s"
        if STOPPING.is_set() and code < 0:
            return False, "killed: the reconciler was stopped"
        return code == 0, _exit_detail(code, tail, redact)

    def __repr__(self) -> str:
        return f"CommandTrigger({self.name!r}, {self.argv[0]!r})"


def stop_all() -> int:
    """Stop every running command (SIGKILL to its process group) and start no other one;
    the number of groups killed. Safe to call from a signal handler."""
    STOPPING.set()
    killed = 0
    for group in list(_LIVE):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
            killed += 1
    return killed


def live_groups() -> list[int]:
    """The process groups of the commands running now."""
    return sorted(_LIVE)


def _register(process: subprocess.Popen[bytes]) -> None:
    with _LIVE_LOCK:
        _LIVE.add(process.pid)
    if STOPPING.is_set():  # stop_all ran between the start and the registration
        _kill_group(process)


def _unregister(process: subprocess.Popen[bytes]) -> None:
    with _LIVE_LOCK:
        _LIVE.discard(process.pid)


def _private_folder(root: str) -> str:
    """A fresh 0700 folder outside the repository ``root``."""
    import tempfile

    folder = tempfile.mkdtemp(prefix="gitrot-trigger-")
    real = os.path.realpath(folder)
    if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
        os.rmdir(folder)  # TMPDIR points into the repository: use the system's
        folder = tempfile.mkdtemp(prefix="gitrot-trigger-", dir="/tmp")
    return folder


def _wait(
    process: subprocess.Popen[bytes], read_end: int, timeout: float
) -> tuple[int | None, bytes]:
    """(exit code, or None after a timeout; the last TAIL_BYTES of output). Output left in
    the pipe by background children after the command exits is not waited for."""
    deadline = time.monotonic() + timeout
    tail = bytearray()
    os.set_blocking(read_end, False)
    with selectors.DefaultSelector() as selector:
        selector.register(read_end, selectors.EVENT_READ)
        open_pipe = True
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                _kill_group(process)
                return None, bytes(tail)
            if open_pipe and selector.select(min(left, POLL)):
                open_pipe = _read(read_end, tail)
            elif not open_pipe:
                time.sleep(min(left, POLL))
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
        tail[0] = 0  # the first line is cut: _exit_detail drops it
    return True


def _argv(name: str, value: object) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(part, str) for part in value)
        or not value[0]
    ):
        raise opts.fail(
            name,
            "argv",
            "must list the command and its arguments (strings; no shell)",
            "like argv: [make, -C, deploy, rebuild]",
        )
    return list(value)


def _spawn_failure(exc: OSError, program: str) -> str:
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, FileNotFoundError):
        return f"not found: {program}"
    if isinstance(exc, PermissionError):
        return f"not executable: {program}"
    return f"cannot run {program}: {reason}"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the command and everything it started in its process group (after a timeout
    or an interruption; a command that exits on its own keeps its background children)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
        process.wait()


def _exit_detail(code: int, tail: bytes, redact: Sequence[str]) -> str:
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
