"""``gitrot rekey FILE``: a new data key, the same plaintext (what ``sops rotate`` does).

gitrot's own ``rotate`` is reserved for credentials, hence the different name.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from gitrot import output
from gitrot.codec import document
from gitrot.commands import sopsargs
from gitrot.files.fsutil import write_output


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "rekey",
        help="re-encrypt FILE under a new data key (sops rotate)",
        description="Decrypt FILE and encrypt it again under a fresh data key, for the same "
        "recipients, in place (or to -o OUT).",
    )
    parser.add_argument("file")
    parser.add_argument("-o", "--output", default=None, help="write here instead of FILE")
    parser.add_argument("--input-type", choices=("yaml", "json", "dotenv", "binary"), default=None)
    parser.set_defaults(run=lambda args: rekey(args.file, args.output, args.input_type))


def rekey(path: str, output_path: str | None, fmt: str | None) -> int:
    opened = sopsargs.open_file(path, fmt)
    meta = opened.source.metadata
    options = document.EncryptOptions(
        groups=meta.recipients(),
        threshold=meta.threshold,
        selector=meta.selector,
        mac_only_encrypted=meta.mac_only_encrypted,
    )
    text = document.encrypt(opened.docs, options, now=datetime.now(UTC), fmt=opened.source.fmt)
    write_output(output_path or path, text)
    output.info(f"gitrot: {path}: new data key for {sum(map(len, options.groups))} recipient(s)")
    return 0
