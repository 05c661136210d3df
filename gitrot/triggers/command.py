"""The ``command`` trigger: run a program when a secret has a new version.

``argv`` runs without a shell, with stdin from /dev/null, in its own process group, in the
policy repository's root (or ``cwd`` below it). It learns what changed from its
environment, never the value::

    GITROT_SECRET_NAME  GITROT_SECRET_VERSION  GITROT_COMMIT  GITROT_DELIVERY_ID
    GITROT_BACKEND      GITROT_BACKEND_VERSION_ID

The rest of the environment is the reconciler's, except inherited ``GITROT_*`` variables:
they are dropped, so a webhook key kept in ``GITROT_WEBHOOK_SECRET`` (or a stale
``GITROT_DELIVERY_ID``) never reaches the command. Output goes to a temporary file and is
kept only as the receipt's detail: ``exit 0``, or ``exit 2: <last line of output>``.
A command still running after ``timeout`` is killed with its whole process group.
"""

from __future__ import annotations

import os
import subprocess
import time

from gitrot.triggers import options as opts
from gitrot.triggers.base import Receipt

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import IO

    from gitrot.triggers.base import Delivery

OPTIONS = ("argv", "cwd", "timeout")
DEFAULT_TIMEOUT = 300.0
TAIL_BYTES = 4096  # of output read back for the detail's last line
DETAIL_CHARS = 200


class CommandTrigger:
    """``triggers.<name>`` with ``type: command``."""

    __slots__ = ("_clock", "_environ", "argv", "cwd", "name", "timeout")

    def __init__(
        self,
        name: str,
        options: Mapping[str, object],
        environ: Mapping[str, str],
        *,
        root: str = ".",
        clock: Callable[[], float] = time.time,
    ) -> None:
        opts.allow(name, "command", options, OPTIONS)
        self.name = name
        self.argv = _argv(name, options.get("argv"))
        self.timeout = opts.seconds(name, options, "timeout", DEFAULT_TIMEOUT)
        self.cwd = root
        if options.get("cwd") is not None:
            self.cwd = os.path.join(root, opts.relative_path(name, options, "cwd"))
        self._environ = {k: v for k, v in environ.items() if not k.startswith("GITROT_")}
        self._clock = clock

    def environment(self, delivery: Delivery) -> dict[str, str]:
        """The command's environment for ``delivery``."""
        return {
            **self._environ,
            "GITROT_SECRET_NAME": delivery.name,
            "GITROT_SECRET_VERSION": str(delivery.version),
            "GITROT_COMMIT": delivery.commit,
            "GITROT_DELIVERY_ID": delivery.delivery_id,
            "GITROT_BACKEND": delivery.backend,
            "GITROT_BACKEND_VERSION_ID": delivery.backend_id,
        }

    def fire(self, delivery: Delivery) -> Receipt:
        at = int(self._clock())
        ok, detail = self._run(self.environment(delivery))
        return Receipt(
            trigger=self.name,
            delivery_id=delivery.delivery_id,
            ok=ok,
            attempts=1,
            detail=detail,
            at=at,
        )

    def _run(self, env: dict[str, str]) -> tuple[bool, str]:
        import tempfile

        program = self.argv[0]
        with tempfile.TemporaryFile() as output:
            try:
                process = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    cwd=self.cwd,
                    env=env,
                    start_new_session=True,
                )
            except OSError as exc:
                return False, _spawn_failure(exc, program, self.cwd)
            try:
                code = process.wait(self.timeout)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                return False, f"timeout after {self.timeout:g}s"
            except BaseException:  # interrupted: leave nothing running
                _kill_group(process)
                raise
            return code == 0, _exit_detail(code, output)

    def __repr__(self) -> str:
        return f"CommandTrigger({self.name!r}, {self.argv[0]!r})"


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


def _spawn_failure(exc: OSError, program: str, cwd: str) -> str:
    reason = exc.strerror or type(exc).__name__
    if exc.filename == cwd:
        return (
            f"cwd not found: {cwd}"
            if isinstance(exc, FileNotFoundError)
            else f"cwd {cwd}: {reason}"
        )
    if isinstance(exc, FileNotFoundError):
        return f"not found: {program}"
    if isinstance(exc, PermissionError):
        return f"not executable: {program}"
    return f"cannot run {program}: {reason}"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the command and everything it started in its process group (after a timeout
    or an interruption; a command that exits on its own keeps its background children)."""
    import contextlib
    import signal

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
        process.wait()


def _exit_detail(code: int, output: IO[bytes]) -> str:
    """``exit N``; after a failure, with the last line of output (cut to DETAIL_CHARS)."""
    detail = f"killed by signal {-code}" if code < 0 else f"exit {code}"
    if code == 0:
        return detail
    size = output.seek(0, os.SEEK_END)
    output.seek(max(0, size - TAIL_BYTES))
    text = output.read().decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return detail
    last = "".join(ch if ch.isprintable() else "?" for ch in lines[-1])
    if len(last) > DETAIL_CHARS:
        last = last[: DETAIL_CHARS - 1] + "…"
    return f"{detail}: {last}"
