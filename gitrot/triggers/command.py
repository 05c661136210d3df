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

import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence

from gitrot.core.ports import Delivery
from gitrot.triggers import options as opts
from gitrot.triggers import process
from gitrot.triggers.base import STOPPING, Receipt
from gitrot.triggers.process import live_groups, stop_all

__all__ = ["CommandOptions", "CommandTrigger", "check", "live_groups", "stop_all"]

OPTIONS = ("argv", "env", "timeout")
DEFAULT_TIMEOUT = 300.0


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
        env = process.base_environment(self._environ, home)
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
        folder = process.private_folder(self.root)
        try:
            return self._spawn(self.environment(delivery, folder), folder, redact)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _spawn(self, env: dict[str, str], cwd: str, redact: Sequence[str]) -> tuple[bool, str]:
        try:
            code, tail = process.run(self.argv, env=env, cwd=cwd, timeout=self.timeout)
        except OSError as exc:
            return False, process.spawn_failure(exc, self.argv[0])
        if code is None:
            return False, f"timeout after {self.timeout:g}s"
        if STOPPING.is_set() and code < 0:
            return False, "killed: the reconciler was stopped"
        return code == 0, process.exit_detail(code, tail, redact)

    def __repr__(self) -> str:
        return f"CommandTrigger({self.name!r}, {self.argv[0]!r})"


def _argv(name: str, value: object) -> list[str]:
    return opts.argv(name, "argv", value, "like argv: [make, -C, deploy, rebuild]")
