"""Atomic file writes: a reader sees the old file or the new one, never a half-written one."""

from __future__ import annotations

import os

from gitrot.errors import InputError

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from pathlib import Path


def read_text(path: str | Path, *, limit: int = 64 * 1024 * 1024) -> str:
    """Read a UTF-8 text file for gitrot; refuse huge, binary or unreadable files cleanly."""
    where = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise InputError("no such file", where=where, hint="check the path") from None
    except IsADirectoryError:
        raise InputError("is a directory, not a file", where=where, hint="name a file") from None
    except OSError as exc:
        raise InputError(
            f"cannot read the file: {exc.strerror}", where=where, hint="check its permissions"
        ) from None
    return decode_text(data, where=where, limit=limit)


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
    path: str | Path, text: str, *, mode: int | None = None, durable: bool = True
) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory.

    The temporary file is created 0600, fsync'd, given the final mode (the old file's, or
    ``mode``), and renamed over the target. On any failure the target is untouched and the
    temporary file is removed. ``durable=False`` skips the fsync (still atomic for
    readers): for rendered copies that a crash may lose but must never leave half-written.
    """
    import contextlib
    import tempfile

    target = os.fspath(path)
    directory, name = os.path.split(target)
    if mode is None:
        try:
            mode = os.stat(target).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644 & ~_umask()
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


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
