"""The ``git`` executable as a child process: :class:`_Git`, the only place gitrot spawns git.

:func:`~gitrot.git.history.last_version_changes` streams ``git log`` through it; the
output arrives in chunks (:meth:`_Git.chunks`) that :func:`_tokens` splits at the NULs of
``git log -z``.
"""

from __future__ import annotations

from gitrot.errors import GitError
from gitrot.git.repository import _where, no_git_env

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Iterator

    from gitrot.git.repository import Repo

_GLOBAL_OPTIONS = ("--no-replace-objects",)
_CHUNK = 1 << 16  # a read of the pipe; 64 KiB stays below malloc's mmap threshold
_PIPE = 1 << 20  # the pipe git writes to (Linux: F_SETPIPE_SZ), about 0.2 s of git log
_PAUSE = 0.02  # between the drain thread's reads


class _Git:
    """A running ``git`` child whose standard output the caller streams (a context manager).

    The only place gitrot spawns git. It runs on ``repo``'s git directory (``--git-dir``, no
    discovery) with :func:`no_git_env`, replacement refs ignored (libgit2 ignores them too);
    give pathspecs as ``:(top,literal)...``, as the current folder may still set a prefix
    (``core.worktree``). Until the caller starts reading, a thread empties the pipe, so git
    works on while the caller does other things. Closing (or leaving the ``with`` block)
    before the end kills the process; reading to the end and a non-zero exit raises
    :class:`GitError` with the command, the exit code and the last line git wrote to stderr.
    """

    def __init__(self, executable: str, repo: Repo, args: list[str]) -> None:
        import subprocess
        import tempfile
        import threading

        self.where = _where(repo)
        self.argv = [executable, f"--git-dir={repo.path}", *_GLOBAL_OPTIONS, *args]
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        try:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
                env=no_git_env(),
                bufsize=0,
            )
        except OSError as exc:
            self.stderr.close()
            raise GitError(f"cannot run {self.command()}: {exc}", where=self.where) from exc
        stdout = self.process.stdout
        assert stdout is not None  # noqa: S101 - stdout=PIPE
        self.stdout = stdout
        _grow_pipe(stdout.fileno())
        self.eof = self.closed = self.handoff = self.drained = False
        self.early: list[bytes] = []
        self.thread = threading.Thread(target=self._drain, name="git-stdout", daemon=True)
        self.thread.start()

    def command(self) -> str:
        return " ".join(["git", *self.argv[2 + len(_GLOBAL_OPTIONS) :]])

    def _drain(self) -> None:
        """Until :meth:`chunks` takes over: empty the pipe now and then, so git never waits.

        git writes a little per commit; the pauses let a read take many commits at once,
        where reading each as it comes would take the GIL from the caller thousands of times.
        """
        import time

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

    def __enter__(self) -> _Git:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self.close(check=kind is None)


def _grow_pipe(fd: int) -> None:
    """Give the pipe room for ``_PIPE`` bytes where the system allows (Linux); else leave it."""
    import contextlib
    import fcntl

    option = getattr(fcntl, "F_SETPIPE_SZ", None)
    if option is not None:
        with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep it
            fcntl.fcntl(fd, option, _PIPE)


def _tokens(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The NUL-terminated fields of a stream (``git log -z``), across chunk boundaries."""
    rest = b""
    for chunk in chunks:
        fields = (rest + chunk).split(b"\0")
        rest = fields.pop()
        yield from fields
    if rest:
        yield rest
