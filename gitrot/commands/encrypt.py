"""``gitrot encrypt FILE``: encrypt a plaintext file the way ``sops -e`` does."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime

from gitrot import output
from gitrot.codec import document
from gitrot.commands import sopsargs
from gitrot.errors import InputError
from gitrot.files.fsutil import read_text, write_output


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "encrypt",
        help="encrypt a YAML/JSON file in the SOPS format",
        description="Encrypt FILE for the recipients of --age or of the matching .sops.yaml "
        "creation rule. With -o OUT naming an existing encrypted file you can open, its data "
        "key and the nonces of unchanged values are reused, so unchanged ENC[...] values "
        "stay byte-identical.",
    )
    parser.add_argument("file")
    parser.add_argument("-i", "--in-place", action="store_true", help="replace FILE")
    parser.add_argument("-o", "--output", default=None, help="write here instead of stdout")
    sopsargs.add_format_args(parser)
    sopsargs.add_rule_args(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.in_place and args.output:
        raise InputError("use either -i or -o, not both")
    return encrypt(args, args.file, in_place=args.in_place, output_path=args.output)


def encrypt(args: argparse.Namespace, path: str, *, in_place: bool, output_path: str | None) -> int:
    fmt = document.detect_format(path, args.input_type)
    out_fmt = args.output_type or fmt
    docs = document.parse_plain(read_text(path), fmt, where=path)
    options = sopsargs.encrypt_options(args, path)
    if output_path == "-":
        output_path = None
    previous = None
    # only a regular file is an earlier version: /dev/null or a FIFO is never read
    if output_path and os.path.isfile(output_path):
        previous = sopsargs.open_file(output_path, args.output_type)
    text = document.encrypt(docs, options, now=datetime.now(UTC), fmt=out_fmt, previous=previous)
    target = path if in_place else output_path
    if target:
        write_output(target, text)
        output.info(f"gitrot: encrypted {path}" + ("" if in_place else f" -> {target}"))
    else:
        output.data(text)
    return 0
