"""The one error hierarchy of gitrot, and the exit codes of README.md ("Exit codes and errors").

Every error carries what went wrong, where (a file, and a line when known) and a hint that
says what to do next. ``gitrot.main`` turns them into two lines on stderr and an exit code.
Messages never contain secret values: callers pass locations and names, not contents.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1  # policy violations, failed verification (a MAC mismatch, a tampered file)
EXIT_INPUT = 2  # usage or input error: bad arguments, unreadable or invalid file, bad config
EXIT_ENVIRONMENT = 3  # backend or remote unreachable, git failure, missing tool
EXIT_INTERRUPTED = 130


class GitrotError(Exception):
    """Base class: a failure the user can act on. ``exit_code``: see README.md, "Exit codes"."""

    exit_code = EXIT_INPUT
    default_hint = ""

    def __init__(
        self,
        message: str,
        *,
        where: str = "",
        line: int = 0,
        hint: str | None = None,
        column: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.line = line
        self.column = column
        self.hint = hint if hint is not None else self.default_hint

    def location(self) -> str:
        """``file``, ``file:line`` or ``file:line:col`` (1-based; 0 means unknown)."""
        if self.where and self.line:
            if self.column:
                return f"{self.where}:{self.line}:{self.column}"
            return f"{self.where}:{self.line}"
        return self.where

    def render(self) -> str:
        """The one-line error: ``gitrot: error: WHAT (WHERE)``."""
        location = self.location()
        suffix = f" ({location})" if location else ""
        return f"gitrot: error: {self.message}{suffix}"

    def at(self, where: str) -> GitrotError:
        """Attach the file name if the raiser did not know it; returns self."""
        if not self.where:
            self.where = where
        return self


class InputError(GitrotError):
    """A file or argument gitrot cannot use (malformed YAML, not a SOPS file, ...)."""


class ConfigError(InputError):
    """A bad ``gitrot.yaml`` or ``.sops.yaml``."""


class IntegrityError(GitrotError):
    """Verification failed: a MAC mismatch, a tampered or truncated value."""

    exit_code = EXIT_FINDINGS
    default_hint = "the file was modified outside sops/gitrot; restore it from git history"


class NoKeyError(GitrotError):
    """No identity could open the data key (wrong key, missing key)."""

    exit_code = EXIT_INPUT
    default_hint = (
        "set SOPS_AGE_KEY_FILE (or SOPS_AGE_KEY, SOPS_AGE_KEY_CMD) to an identity "
        "of one of the file's recipients"
    )


class EnvironmentFailure(GitrotError):
    """Something outside gitrot failed: a command, a service, git."""

    exit_code = EXIT_ENVIRONMENT


class GitError(EnvironmentFailure):
    """git (libgit2) failed: not a repository, a corrupt object, an unborn branch."""

    default_hint = "run gitrot inside the policy repository (a git work tree)"


class UnknownRevisionError(InputError):
    """A revision given by the user (``--rev``, ``--base``) names no commit."""

    default_hint = "give a branch, tag or commit id that exists in this repository"


class BackendError(GitrotError):
    """A backend cannot do what was asked: ``unreachable`` for a service that is down
    (exit 3), otherwise a refusal (exit 1). The message names the backend's location,
    never a value."""

    exit_code = EXIT_FINDINGS

    def __init__(
        self, message: str, *, unreachable: bool = False, where: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, where=where, hint=hint)
        self.unreachable = unreachable
        if unreachable:
            self.exit_code = EXIT_ENVIRONMENT


class RotatorError(GitrotError):
    """A rotator could not change or prove a credential at its source (the source is down,
    the admin credential is wrong, the new credential does not log in): exit 3, the version
    stays pending and the next run resumes at the ``step`` that failed. The message names
    the rotator and the step, never a value."""

    exit_code = EXIT_ENVIRONMENT

    def __init__(
        self, message: str, *, step: str = "", where: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, where=where, hint=hint)
        self.step = step


class VersionConflict(BackendError):
    """The version exists with another idempotency key, or is below the newest."""
