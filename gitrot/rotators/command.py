"""The ``command`` rotator: any source gitrot has no rotator for (MySQL, LDAP, a vendor's
API), through two programs of the policy repository's owners (docs/rotators.md)::

    rotators:
      legacy-ldap:
        type: command
        set: [./rotate-ldap, set]     # make the source accept the pending value
        test: [./rotate-ldap, test]   # prove it does (log in with it)
        timeout: 30s                  # each run; default 30s

Each runs as a ``command`` trigger does (:mod:`gitrot.triggers.process`): ``argv`` without a
shell (a relative program, ``./rotate-ldap``, is the policy repository's file), in its own
process group, in a fresh private folder outside the repository, with a minimal
environment: ``PATH``, ``LANG``, ``HOME``, ``TMPDIR`` and what is rotated, never the value::

    GITROT_SECRET  GITROT_VERSION  GITROT_STEP (set or test)  GITROT_ROTATOR

The pending value, followed by a newline, goes to its standard input and nowhere else (never
an argument, the environment or a file): ``IFS= read -r value`` in a shell script. A
nonzero exit, a timeout or a
program that cannot start is a :class:`~gitrot.errors.RotatorError` naming the rotator and
the step, with the last line of the program's output redacted of both values and cut short.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping

from gitrot.core.ports import RotatorContext
from gitrot.core.secret import SecretValue
from gitrot.errors import RotatorError
from gitrot.triggers import options as opts
from gitrot.triggers import process
from gitrot.triggers.base import STOPPING

OPTIONS = ("set", "test", "timeout")
DEFAULT_TIMEOUT = 30.0
SECTION = "rotators"
#: an argument like ``--password=hunter2`` or ``PGPASSWORD=x``: a credential in gitrot.yaml
#: (``--password-file=PATH`` names where one is, and passes)
_CREDENTIAL_ARGUMENT = re.compile(
    r"(?i)([\w-]*(?:password|passwd|secret|token|api[_-]?key|credential|private[_-]?key)[\w-]*)"
    r"\s*[=:]\s*\S"
)
_REFERENCE = ("file", "env", "stdin", "path")
#: the step a failure names (RotatorError.step) and GITROT_STEP
SET, TEST = "set", "test"


class CommandOptions:
    """A command rotator's options, checked (:func:`check_options`)."""

    __slots__ = ("set", "test", "timeout")

    def __init__(self, set_argv: list[str], test_argv: list[str], timeout: float) -> None:
        self.set = set_argv
        self.test = test_argv
        self.timeout = timeout


def check_options(name: str, options: Mapping[str, object]) -> CommandOptions:
    """The options of ``rotators.<name>`` (type command), or an OptionError at the option:
    the one check the loader (``validate``, ``check``) and the reconciler share."""
    opts.allow(name, "command", options, OPTIONS, section=SECTION)
    return CommandOptions(
        _argv(name, options, "set"),
        _argv(name, options, "test"),
        opts.seconds(name, options, "timeout", DEFAULT_TIMEOUT, section=SECTION),
    )


class CommandRotator:
    """``rotators.<name>`` with ``type: command``, opened for one secret."""

    __slots__ = ("_environ", "context", "name", "options", "root")

    def __init__(
        self,
        name: str,
        options: Mapping[str, object],
        context: RotatorContext,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.options = check_options(name, options)
        self.context = context
        self.root = os.path.realpath(context.root)
        self._environ = dict(os.environ if environ is None else environ)

    def prepare(self, generated: SecretValue, current: SecretValue | None) -> SecretValue:
        """The generated (or sealed) value, unchanged."""
        return generated

    def set(self, pending: SecretValue, current: SecretValue | None) -> None:
        """Run ``set`` with the pending value on standard input."""
        self._run(SET, self.options.set, pending)

    def test(self, pending: SecretValue) -> None:
        """Run ``test`` with the pending value on standard input."""
        self._run(TEST, self.options.test, pending)

    def close(self) -> None:
        """Nothing stays open between runs."""

    def argv(self, argv: list[str]) -> list[str]:
        """``argv`` with a relative program (``./rotate``, ``bin/rotate``) made the policy
        repository's file; a bare name (``ldapmodify``) is looked up on ``PATH``."""
        program = argv[0]
        if os.sep in program and not os.path.isabs(program):
            program = os.path.normpath(os.path.join(self.root, program))
        return [program, *argv[1:]]

    def environment(self, step: str, home: str) -> dict[str, str]:
        """The program's minimal environment (the module docstring); never a value."""
        env = process.base_environment(self._environ, home)
        env.update(
            GITROT_SECRET=self.context.name,
            GITROT_VERSION=str(self.context.version),
            GITROT_STEP=step,
            GITROT_ROTATOR=self.name,
        )
        return env

    def _run(self, step: str, argv: list[str], value: SecretValue) -> None:
        if STOPPING.is_set():
            raise self._failure(step, "not run: the reconciler is stopping")
        revealed = value.reveal()
        stdin = (revealed + "\n").encode("utf-8", "surrogatepass")
        folder = process.private_folder(self.root, "gitrot-rotator-")
        try:
            try:
                code, tail = process.run(
                    self.argv(argv),
                    env=self.environment(step, folder),
                    cwd=folder,
                    timeout=self.options.timeout,
                    stdin=stdin,
                )
            except OSError as exc:
                raise self._failure(step, process.spawn_failure(exc, argv[0])) from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if code == 0:
            return
        if code is None:
            raise self._failure(step, f"timed out after {self.options.timeout:g}s")
        if STOPPING.is_set() and code < 0:
            raise self._failure(step, "killed: the reconciler was stopped")
        raise self._failure(step, process.exit_detail(code, tail, [revealed]))

    def _failure(self, step: str, why: str) -> RotatorError:
        return RotatorError(
            f"rotator {self.name} (command) failed at {step}: {why}",
            step=step,
            hint=f"fix the {step} command of rotators.{self.name} in gitrot.yaml "
            "(or the source it talks to); the next run resumes with the same pending value",
        )

    def __repr__(self) -> str:
        return f"CommandRotator({self.name!r}, {self.options.set[0]!r})"


def _argv(name: str, options: Mapping[str, object], option: str) -> list[str]:
    example = f"like {option}: [./rotate-ldap, {option}]; the value comes on standard input"
    value = opts.argv(name, option, options.get(option), example, section=SECTION)
    if ".." in value[0].split("/"):
        raise opts.fail(
            name,
            option,
            "names a program outside the policy repository ('..')",
            "give a program of the repository (./rotate-ldap), an absolute path, or a name on PATH",
            section=SECTION,
        )
    for part in value:
        found = _CREDENTIAL_ARGUMENT.search(part)
        if found and not found[1].lower().endswith(_REFERENCE):
            raise opts.fail(
                name,
                option,
                "holds a credential: gitrot.yaml is no place for one",
                "the program reads what it needs itself (its own configuration, a file, its "
                "environment); the value it sets comes on standard input",
                section=SECTION,
            )
    return list(value)
