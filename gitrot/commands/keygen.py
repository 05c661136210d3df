"""``gitrot keygen``: a new age identity, written 0600; prints the recipient."""

from __future__ import annotations

import os
from pathlib import Path

from gitrot import output
from gitrot.errors import InputError

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    import argparse


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "keygen",
        help="create an age identity; print its recipient",
        description="Create an age identity (the file sops and gitrot read by default, "
        "unless -o is given) and print its public recipient.",
    )
    parser.add_argument("-o", "--output", type=Path, default=None, help="identity file to create")
    parser.set_defaults(run=lambda args: keygen(args.output))


def default_key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sops" / "age" / "keys.txt"


def keygen(path: Path | None) -> int:
    from datetime import UTC, datetime

    from gitrot.sops import age

    target = path or default_key_file()
    identity, recipient = age.generate_identity()
    text = age.format_key_file(identity, recipient, datetime.now(UTC))
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(
            "the identity file already exists; refusing to overwrite it",
            where=str(target),
            hint="pass -o NEWFILE, or move the old file away if you really mean to replace it",
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    output.info(f"gitrot: wrote a new age identity to {target}")
    output.data(recipient + "\n")
    return 0
