"""Reading and writing files safely.

Reads open only regular files (a FIFO, device or socket is refused before it can block or
have side effects); writes are atomic (a reader sees the old file or the new one, never a
half-written one) and never rename over a FIFO or device (:func:`write_output`, for files
named on the command line, writes into those in place); :func:`inside` is the one check that
a repository path does not leave the repository through a symlink. Symlinks that resolve
inside the repository are followed.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys

from gitrot import output
from gitrot.errors import InputError


def read_text(
    path: str | os.PathLike[str], *, limit: int = 64 * 1024 * 1024, where: str = ""
) -> str:
    """Read a UTF-8 text file for gitrot; refuse huge, binary, special or unreadable files
    cleanly. ``where`` names the file in errors (default: ``path``)."""
    where = where or str(path)
    return decode_text(read_bytes(path, limit=limit, where=where), where=where, limit=limit)


def read_bytes(path: str | os.PathLike[str], *, limit: int, where: str = "") -> bytes:
    """At most ``limit + 1`` bytes of a regular file; InputError for anything else.

    A FIFO, socket or device is refused before it is opened (opening a FIFO blocks until
    a writer comes), and the file is opened non-blocking and checked again, so one swapped
    in between is refused too.
    """
    where = where or str(path)
    try:
        check_regular(os.stat(path).st_mode, where)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InputError("no such file", where=where, hint="check the path") from None
    except OSError as exc:
        raise InputError(
            f"cannot read the file: {exc.strerror}", where=where, hint="check its permissions"
        ) from None
    with os.fdopen(fd, "rb") as handle:
        check_regular(os.fstat(fd).st_mode, where)
        os.set_blocking(fd, True)
        try:
            return handle.read(limit + 1)
        except OSError as exc:
            raise InputError(f"cannot read the file: {exc.strerror}", where=where) from None


_SPECIAL = (
    ("S_ISFIFO", "a FIFO (named pipe)"),
    ("S_ISSOCK", "a socket"),
    ("S_ISCHR", "a character device"),
    ("S_ISBLK", "a block device"),
)


def check_regular(mode: int, where: str) -> None:
    """InputError naming ``where`` unless ``mode`` (``st_mode``) is a regular file's."""
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise InputError("is a directory, not a file", where=where, hint="name a file")
    kind = next((name for test, name in _SPECIAL if getattr(stat, test)(mode)), "not a file")
    raise InputError(
        f"is {kind}, not a regular file; refusing to open it",
        where=where,
        hint="gitrot reads only regular files; name the file itself",
    )


def inside(root: str | os.PathLike[str], relpath: str) -> str:
    """The path of the repo-relative ``relpath`` under ``root``, after checking that it
    stays in the repository once every symlink on the way is resolved (the file need not
    exist yet: a path to be created is checked through its existing folders).

    InputError (exit 2) naming ``relpath`` for a symlink that leaves the repository or a
    path with ``..``. Symlinks that resolve inside the repository are followed: they
    cannot reach anything a commit of the repository could not hold itself.
    """
    parts = relpath.split("/")
    if relpath.startswith("/") or ".." in parts:
        raise InputError(
            "the path leaves the repository",
            where=relpath,
            hint="give a path inside the policy repository",
        )
    full = os.path.join(root, *parts)
    real_root = os.path.realpath(root)
    target = os.path.realpath(full)
    if target != real_root and not target.startswith(real_root.rstrip(os.sep) + os.sep):
        raise InputError(
            "a symlink that points outside the repository",
            where=relpath,
            hint="policy files must live in the repository; replace the link with the file",
        )
    return full


def decode_text(data: bytes, *, where: str, limit: int) -> str:
    """The text of a file's bytes (read from disk or from a git blob), or one clear error."""
    if len(data) > limit:
        raise InputError(
            f"the file is larger than {limit // (1024 * 1024)} MiB",
            where=where,
            hint="gitrot refuses files this large; is this the file you meant?",
        )
    if b"\0" in data:
        raise InputError(
            "the file is binary (it contains NUL bytes)",
            where=where,
            hint="gitrot reads UTF-8 text; is this the file you meant?",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            "the file is not valid UTF-8", where=where, line=line, hint="save it as UTF-8"
        ) from None


def write_atomic(
    path: str | os.PathLike[str], text: str, *, mode: int | None = None, durable: bool = True
) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory.

    The temporary file is created 0600, fsync'd, given the final mode (the old file's, or
    ``mode``), and renamed over the target. On any failure the target is untouched and the
    temporary file is removed. ``durable=False`` skips the fsync (still atomic for
    readers): for rendered copies that a crash may lose but must never leave half-written.

    An existing target that is a FIFO, socket or device is refused (InputError), never
    renamed over; a file the user names on the command line goes through
    :func:`write_output`, which writes into such a target instead.
    """
    import tempfile

    target = os.fspath(path)
    directory, name = os.path.split(target)
    try:
        current = os.stat(target).st_mode
    except FileNotFoundError:
        current = None
    except OSError as exc:
        raise InputError(f"cannot write here: {exc.strerror}", where=target) from None
    if current is not None and not (stat.S_ISREG(current) or stat.S_ISDIR(current)):
        # a rename would replace the FIFO or device itself (as root, /dev/null for everyone)
        kind = next((name for test, name in _SPECIAL if getattr(stat, test)(current)), "special")
        raise InputError(
            f"is {kind}, not a regular file; refusing to replace it",
            where=target,
            hint="name a regular file, or remove what is there first",
        )
    if mode is None:
        mode = 0o644 & ~_umask() if current is None else current & 0o7777
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory or ".")
    except OSError as exc:
        raise InputError(
            f"cannot write here: {exc.strerror}",
            where=target,
            hint="give a path in an existing folder you can write to",
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


#: Names of this process's own open files: written through the descriptor they name, so the
#: output lands where the shell's redirection points (at its offset), never renamed over.
_FD_NAMES = {"/dev/stdout": 1, "/dev/stderr": 2, "/proc/self/fd/1": 1, "/proc/self/fd/2": 2}


def write_output(
    path: str | os.PathLike[str], text: str, *, mode: int | None = None, durable: bool = True
) -> None:
    """Write ``text`` to a file the user named (``--output``/``-o``), the way a shell's ``>``
    would, but atomically where that is possible.

    ``-`` is standard output. ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N`` and
    ``/proc/self/fd/N`` are written through that descriptor. An existing target that is not
    a regular file (``/dev/null``, a FIFO, a terminal, a symlink to one) is opened for
    writing and written in place: never replaced, never truncated, never read. Anything
    else (a regular file, a new one) is written by :func:`write_atomic` with ``mode`` and
    ``durable``. Failures are InputError naming ``path``.
    """
    target = os.fspath(path)
    if target == "-":
        output.data(text)
        return
    fd_number = _fd_name(target)
    try:
        if fd_number is not None:
            _write_fd(fd_number, text)
            return
        try:
            current = os.stat(target).st_mode
        except FileNotFoundError:
            current = None
        if current is None or stat.S_ISREG(current) or stat.S_ISDIR(current):
            write_atomic(target, text, mode=mode, durable=durable)
            return
        if stat.S_ISSOCK(current):
            check_regular(current, target)  # a socket cannot be opened like a file
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOCTTY", 0))
        try:
            _write_all(fd, text)
        finally:
            os.close(fd)
    except OSError as exc:
        raise InputError(
            f"cannot write the output: {exc.strerror}",
            where=target,
            hint="give a file path in a folder you can write to, or - for standard output",
        ) from None


def _fd_name(target: str) -> int | None:
    """The descriptor ``target`` names in this process (``/dev/fd/3``), else None."""
    if target in _FD_NAMES:
        return _FD_NAMES[target]
    for prefix in ("/dev/fd/", "/proc/self/fd/"):
        if target.startswith(prefix) and target[len(prefix) :].isdigit():
            return int(target[len(prefix) :])
    return None


def _write_fd(number: int, text: str) -> None:
    """Write to our own descriptor ``number`` after what Python buffered for it."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # replaced or closed stream
            continue
    _write_all(number, text)


def _write_all(fd: int, text: str) -> None:
    data = memoryview(text.encode("utf-8"))
    while data:
        data = data[os.write(fd, data) :]


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def refuse_special(path: str | os.PathLike[str], where: str) -> None:
    """InputError naming ``where`` when ``path`` is a FIFO, socket or device (a missing
    file, a folder or a regular file pass): for paths named on the command line."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        check_regular(mode, where)
