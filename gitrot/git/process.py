"""The ``git`` executable as a child process: the only place gitrot spawns git.

- :func:`run_git`: one git command run to its end, its output captured;
- :func:`git_lines`: a command's output line by line, stopped when the caller has enough
  (the pre-commit hook's ``git log -G``);
- :class:`GitStream`: a long ``git log`` streamed in chunks while the caller works
  (:mod:`gitrot.git.history`), split at NULs by :func:`split_nul`.

Every child runs with :func:`git_env` and finds git with :func:`require_git`: git is
required (as pre-commit requires it), its absence an :class:`EnvironmentFailure` (exit 3).
Give the repository as ``git_dir`` (no discovery) or ``cwd`` (``git -C``, discovery from
there). docs/architecture.md, "Layers", says who may use this module.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence

from gitrot.errors import EnvironmentFailure, GitError

#: git options every child gets: replacement refs ignored (libgit2 ignores them too)
_GLOBAL_OPTIONS = ("--no-replace-objects",)
_CHUNK = 1 << 16  # a read of the pipe; 64 KiB stays below malloc's mmap threshold
_PIPE = 1 << 20  # the pipe git writes to (Linux: F_SETPIPE_SZ), about 0.2 s of git log
_PAUSE = 0.02  # between the drain thread's reads
#: the variables of the outer repository that a child keeps: identity and transport
_KEEP = (
    "GIT_EXEC_PATH",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_SSL_CAINFO",
    "GIT_SSL_NO_VERIFY",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
)


def find_git() -> str | None:
    """The ``git`` executable on ``PATH``, or None."""
    return shutil.which("git")


def require_git() -> str:
    """The ``git`` executable on ``PATH``; :class:`EnvironmentFailure` (exit 3) without one."""
    executable = find_git()
    if executable is None:
        raise EnvironmentFailure(
            "git is required, and there is no git on PATH",
            hint="install git (pre-commit needs it too) and run again",
        )
    return executable


def no_git_env() -> dict[str, str]:
    """The environment without the ``GIT_*`` variables that point at another repository.

    Inside a hook, ``GIT_DIR``, ``GIT_INDEX_FILE`` and friends point at the outer repository
    (pre-commit's ``no_git_env`` explains it); only identity and transport settings stay.
    """
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("GIT_") or name in _KEEP or name.startswith("GIT_CONFIG_KEY_")
    }


def git_env() -> dict[str, str]:
    """The environment of every git child: :func:`no_git_env`, messages in English (callers
    read some), and no optional locks (a query never writes the index)."""
    env = no_git_env()
    env["GIT_OPTIONAL_LOCKS"] = "0"
    env["LC_ALL"] = "C"
    return env


def git_argv(
    args: Sequence[str], *, git_dir: str | None = None, cwd: str | None = None
) -> list[str]:
    """The command line of ``git ARGS`` on the repository at ``git_dir`` or from ``cwd``."""
    where = [f"--git-dir={git_dir}"] if git_dir is not None else []
    if cwd is not None:
        where += ["-C", cwd]
    return [require_git(), *where, *_GLOBAL_OPTIONS, *args]


def run_git(
    args: Sequence[str],
    *,
    git_dir: str | None = None,
    cwd: str | None = None,
    input: bytes | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git ARGS`` to its end, standard output and error captured; the caller judges
    the exit code. :class:`GitError` when git cannot be started (or outlives ``timeout``)."""
    argv = git_argv(args, git_dir=git_dir, cwd=cwd)
    try:
        return subprocess.run(
            argv,
            env=git_env(),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitError(
            f"{_command(args)} did not finish within {timeout:g} s", where=git_dir or cwd or ""
        ) from exc
    except OSError as exc:
        raise GitError(f"cannot run {_command(args)}: {exc}", where=git_dir or cwd or "") from exc


@contextlib.contextmanager
def git_lines(
    args: Sequence[str], *, git_dir: str | None = None, cwd: str | None = None
) -> Iterator[Iterator[bytes]]:
    """The lines ``git ARGS`` writes (newline kept), as they come; leaving the ``with``
    block stops git. Its standard error and exit code are ignored: a caller that stops
    early kills it, so the answer is what was read."""
    argv = git_argv(args, git_dir=git_dir, cwd=cwd)
    try:
        process = subprocess.Popen(
            argv,
            env=git_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError as exc:
        raise GitError(f"cannot run {_command(args)}: {exc}", where=git_dir or cwd or "") from exc
    with process:
        assert process.stdout is not None  # noqa: S101 - stdout=PIPE
        try:
            yield iter(process.stdout)
        finally:
            process.kill()


class GitStream:
    """A running ``git`` child whose standard output the caller streams (a context manager).

    It runs on the repository at ``git_dir`` (no discovery); ``where`` names it in errors.
    Give pathspecs as ``:(top,literal)...``, as the current folder may still set a prefix
    (``core.worktree``). Until the caller starts reading, a thread empties the pipe, so git
    works on while the caller does other things. Closing (or leaving the ``with`` block)
    before the end kills the process; reading to the end and a non-zero exit raises
    :class:`GitError` with the command, the exit code and the last line git wrote to stderr.
    """

    def __init__(self, args: Sequence[str], *, git_dir: str, where: str) -> None:
        # a file for stderr, which nobody reads while git runs (a pipe could fill and stall
        # git); tempfile stays out of the module's imports: the hook never streams, and it
        # would cost the hook ~1.3 ms
        import tempfile

        self.where = where
        self.args = list(args)
        argv = git_argv(args, git_dir=git_dir)
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        try:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
                env=git_env(),
                bufsize=0,
            )
        except OSError as exc:
            self.stderr.close()
            raise GitError(f"cannot run {self.command()}: {exc}", where=where) from exc
        stdout = self.process.stdout
        assert stdout is not None  # noqa: S101 - stdout=PIPE
        self.stdout = stdout
        _grow_pipe(stdout.fileno())
        self.eof = self.closed = self.handoff = self.drained = False
        self.early: list[bytes] = []
        self.thread = threading.Thread(target=self._drain, name="git-stdout", daemon=True)
        self.thread.start()

    def command(self) -> str:
        return _command(self.args)

    def _drain(self) -> None:
        """Until :meth:`chunks` takes over: empty the pipe now and then, so git never waits.

        git writes a little per commit; the pauses let a read take many commits at once,
        where reading each as it comes would take the GIL from the caller thousands of times.
        """
        read, keep = self.stdout.read, self.early.append
        while not self.handoff:
            chunk = read(_CHUNK)
            if not chunk:
                self.drained = True
                return
            keep(chunk)
            if len(chunk) < _CHUNK:
                time.sleep(_PAUSE)

    def chunks(self) -> Iterator[bytes]:
        """Standard output as it arrives: what the thread kept, then straight from the pipe.

        The thread stops after its current read; the rest is read here, without it, since a
        thread that needs the GIL back after each read would stall git behind the parser.
        """
        self.handoff = True
        self.thread.join()
        yield from self.early
        self.early.clear()
        if not self.drained:
            read = self.stdout.read
            chunk = read(_CHUNK)
            while chunk:
                yield chunk
                chunk = read(_CHUNK)
        self.eof = True

    def close(self, *, check: bool = True) -> None:
        """Stop git unless its output was read to the end; then, with ``check``, its exit."""
        if self.closed:
            return
        self.closed = True
        if not self.eof:
            self.process.kill()
        self.thread.join()
        self.stdout.close()
        code = self.process.wait()
        try:
            if check and self.eof and code != 0:
                self.stderr.seek(0)
                text = self.stderr.read().decode("utf-8", "replace").strip()
                last = text.splitlines()[-1] if text else "no message"
                raise GitError(
                    f"{self.command()} failed with exit code {code}: {last}",
                    where=self.where,
                    hint="is the repository complete (not a partial or broken clone)?",
                )
        finally:
            self.stderr.close()

    def __enter__(self) -> GitStream:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self.close(check=kind is None)


def split_nul(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The NUL-terminated fields of a stream (``git log -z``), across chunk boundaries."""
    rest = b""
    for chunk in chunks:
        fields = (rest + chunk).split(b"\0")
        rest = fields.pop()
        yield from fields
    if rest:
        yield rest


def _command(args: Sequence[str]) -> str:
    return " ".join(["git", *args])


def _grow_pipe(fd: int) -> None:
    """Give the pipe room for ``_PIPE`` bytes where the system allows (Linux); else leave it."""
    option = getattr(fcntl, "F_SETPIPE_SZ", None)
    if option is not None:
        with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep it
            fcntl.fcntl(fd, option, _PIPE)
