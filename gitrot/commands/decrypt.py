"""``gitrot decrypt FILE...``: what ``sops -d`` does, and a whole folder in one process."""

from __future__ import annotations

import os
import re

from gitrot import output
from gitrot.codec import document
from gitrot.codec.gotypes import format_float_yaml
from gitrot.codec.tree import Comment, Entry, Map, Seq, Timestamp, Value
from gitrot.commands import sopsargs
from gitrot.errors import EXIT_OK, GitrotError, InputError
from gitrot.files.fsutil import read_text, write_atomic, write_output

#: typing costs ~2 ms at start-up, which `gitrot decrypt FILE` in a build job does not pay;
#: mypy reads this name as True
TYPE_CHECKING = False
if TYPE_CHECKING:  # the plain `gitrot decrypt FILE` of build jobs does not load argparse
    import argparse

#: one step of an --extract path: ["key"], ['key'] or [0]
_EXTRACT_STEP = re.compile(r'\[(?:"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'|(\d+))\]')


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "decrypt",
        help="decrypt SOPS files (sops -d)",
        description="Decrypt FILE to stdout (or -o OUT). With --output-dir DIR, decrypt every "
        "FILE into DIR under its relative path, in one process; every file is tried and "
        "every failure reported.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("-o", "--output", default=None, help="write the plaintext here")
    parser.add_argument("--output-dir", default=None, help="decrypt many files into DIR")
    parser.add_argument(
        "--extract", default=None, metavar="PATH", help='only this value, e.g. \'["spec"]["ref"]\''
    )
    parser.add_argument(
        "--ignore-mac", action="store_true", help="do not verify the MAC (recovery only)"
    )
    sopsargs.add_format_args(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if len(args.files) > 1 and not args.output_dir:
        raise InputError("several files need --output-dir DIR")
    if args.output_dir and (args.output or args.extract):
        raise InputError("--output-dir cannot be combined with -o or --extract")
    if args.output_dir:
        return decrypt_many(args.files, args.output_dir, args.input_type, args.ignore_mac)
    text = decrypt_one(
        args.files[0], args.input_type, args.output_type, args.extract, args.ignore_mac
    )
    if args.output:
        write_output(args.output, text, mode=0o600)
    else:
        output.data(text)
    return EXIT_OK


def decrypt_to_stdout(path: str) -> int:
    """``gitrot decrypt FILE``: the plaintext on stdout, as ``sops -d FILE`` prints it."""
    output.data(decrypt_one(path, None, None, None, ignore_mac=False))
    return EXIT_OK


def decrypt_one(
    path: str,
    in_fmt: str | None,
    out_fmt: str | None,
    extract: str | None,
    ignore_mac: bool,
) -> str:
    steps = None if extract is None else parse_extract_path(extract)
    opened = sopsargs.open_file(path, in_fmt, verify_mac=not ignore_mac)
    fmt = out_fmt or opened.source.fmt
    try:
        if steps is None:
            return document.emit(opened.docs, fmt)
        return render_value(_extract(opened.docs[0], steps, path), fmt)
    except InputError as exc:  # what the output format cannot hold: name the file
        raise exc.at(path) from None


def decrypt_many(paths: list[str], directory: str, in_fmt: str | None, ignore_mac: bool) -> int:
    """Decrypt each file to DIR/<its path>; keep going, report all, exit with the worst."""
    identities = sopsargs.identities()
    worst = EXIT_OK
    root = os.path.realpath(directory)
    for path in paths:
        try:
            relative = os.path.normpath(os.path.relpath(path))
            if relative.startswith("..") or os.path.isabs(relative):
                raise InputError(
                    "the file is outside the working directory, so it has no place in --output-dir",
                    where=path,
                )
            target = os.path.join(root, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            plaintext = _decrypt_with(path, in_fmt, identities, ignore_mac)
            write_atomic(target, plaintext, mode=0o600, durable=False)
        except GitrotError as exc:
            output.error(exc.render(), exc.hint)
            worst = max(worst, exc.exit_code)
    return worst


def _decrypt_with(path: str, fmt: str | None, identities: list[object], ignore_mac: bool) -> str:
    source = document.SopsFile.parse(
        read_text(path), fmt=document.detect_format(path, fmt), where=path
    )
    opened = document.decrypt(source, identities, verify_mac=not ignore_mac)
    return document.emit(opened.docs, source.fmt)


def parse_extract_path(text: str) -> list[str | int]:
    """sops' ``--extract`` syntax: ``["key"]["other"][0]``."""
    parts: list[str | int] = []
    position = 0
    while position < len(text):
        match = _EXTRACT_STEP.match(text, position)
        if match is None:
            raise InputError(
                f"invalid --extract path {text!r}", hint='write it as ["key"]["subkey"][0]'
            )
        key = match.group(1) if match.group(1) is not None else match.group(2)
        parts.append(int(match.group(3)) if key is None else key)
        position = match.end()
    if not parts:
        raise InputError("--extract needs a path", hint='write it as ["key"]["subkey"][0]')
    return parts


def _extract(value: Value, path: list[str | int], where: str) -> Value:
    for part in path:
        if isinstance(part, str) and isinstance(value, Map):
            entry = value.entry(part)
            if entry is None:
                raise InputError(f"key {part!r} not found", where=where)
            value = entry.value
        elif isinstance(part, int) and isinstance(value, Seq):
            items = [item for item in value.items if not isinstance(item, Comment)]
            if part >= len(items):
                raise InputError(f"index {part} is out of range", where=where)
            value = items[part]
        else:
            raise InputError(f"cannot index {type(value).__name__} with {part!r}", where=where)
    return value


def render_value(value: Value, fmt: str) -> str:
    """What ``sops -d --extract`` prints: a string as its text (no newline), a map as a whole
    file of the output format, anything else as the store prints one value (YAML ends it with
    a newline, JSON does not; dotenv and binary print only strings)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):  # a !!binary value that is not UTF-8; sops prints its bytes
        return value.decode("utf-8", "replace")
    if isinstance(value, Map):
        return document.emit([value], fmt if fmt != "binary" else "yaml")
    if fmt == "json":
        # the value as it sits under one key of a JSON document, one tab less indented
        text = document.emit([Map([Entry("x", value)])], "json")
        return text[len('{\n\t"x": ') : -len("\n}\n")].replace("\n\t", "\n")
    if fmt in ("dotenv", "binary"):
        raise InputError(
            f"the {fmt} format prints only strings, and this value is a {_kind(value)}",
            hint="pass --output-type yaml or json",
        )
    if isinstance(value, Seq):
        text = document.emit([Map([Entry("x", value)])], "yaml")
        lines = text.splitlines()[1:]
        width = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
        return "".join(line[width:] + "\n" for line in lines)
    if isinstance(value, Timestamp):
        return value.text + "\n"
    if isinstance(value, bool):
        return ("true" if value else "false") + "\n"
    if value is None:
        return "null\n"
    if isinstance(value, float):
        return format_float_yaml(value) + "\n"
    return f"{value}\n"


def _kind(value: Value) -> str:
    if isinstance(value, Seq):
        return "list"
    if isinstance(value, Timestamp):
        return "timestamp"
    return "null" if value is None else type(value).__name__
