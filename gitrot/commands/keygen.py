"""``gitrot keygen``: a new age identity, written 0600; prints the recipient.

The default file (``~/.config/sops/age/keys.txt``, where sops looks) holds every identity
of its user, one after the other, as age users keep them: a new one is appended there,
never written over the others. ``-o FILE`` creates FILE and, like ``age-keygen -o``,
refuses one that exists.
"""

from __future__ import annotations

import argparse
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

from gitrot import output
from gitrot.errors import InputError
from gitrot.keys import age


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "keygen",
        help="create an age identity; print its recipient",
        description="Create an age identity and print its public recipient. It is appended "
        "to the file sops and gitrot read by default (~/.config/sops/age/keys.txt, created "
        "0600 when missing; the identities already there stay), or written to a new file "
        "with -o (an existing one is refused, as age-keygen -o does).",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="identity file to create (never an existing one)",
    )
    parser.set_defaults(run=lambda args: keygen(args.output))


def default_key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sops" / "age" / "keys.txt"


def keygen(path: Path | None) -> int:
    target = path or default_key_file()
    identity, recipient = age.generate_identity()
    text = age.format_key_file(identity, recipient, datetime.now(UTC))
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path is not None:
            raise InputError(
                "the identity file already exists; refusing to overwrite it (as age-keygen -o)",
                where=str(target),
                hint="pass -o NEWFILE; or leave out -o to add the identity to the default "
                f"key file ({default_key_file()}), which keeps several",
            ) from None
        _append(target, text)
        output.info(
            f"gitrot: added a new age identity to {target} (the identities already there are kept)"
        )
        output.data(recipient + "\n")
        return 0
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    output.info(f"gitrot: wrote a new age identity to {target}")
    output.data(recipient + "\n")
    return 0


def _append(target: Path, text: str) -> None:
    """Add ``text`` (one identity with its comment lines) at the end of the key file
    ``target``, on a line of its own. Its mode is left as it is; a file others can read
    is reported."""
    try:
        fd = os.open(target, os.O_RDWR | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0))
    except OSError as error:
        raise InputError(
            f"cannot add to the identity file ({error.strerror})",
            where=str(target),
            hint="it must be a regular file you can write (not a symbolic link); or pass "
            "-o NEWFILE",
        ) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device: checked before any stream
        os.close(fd)
        raise InputError(
            "the identity file is not a regular file", where=str(target), hint="pass -o NEWFILE"
        )
    with os.fdopen(fd, "r+b") as handle:
        size = info.st_size
        separator = b""
        if size:
            handle.seek(size - 1)
            separator = b"" if handle.read(1) == b"\n" else b"\n"
        handle.write(separator + text.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
    if info.st_mode & 0o077:
        output.info(
            f"gitrot: warning: {target} can be read by others (mode "
            f"{stat.S_IMODE(info.st_mode):o}); chmod 600 it"
        )
