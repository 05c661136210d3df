"""``gitrot due``: the intents whose class's ``max_age`` has run out, or soon will.

The clock of an intent starts at the first-parent commit that last changed its
``spec.version`` (``gitrot.git.last_version_changes``): editing the reason does not reset it,
and a rotation merged from a branch counts from its merge commit. Intents are read from
the work tree; one whose version there differs from the history's (an uncommitted bump)
counts as rotated now. A scheduled CI job runs ``gitrot due --exit-code`` or
``gitrot rotate --due``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

from gitrot import output, ui
from gitrot.codec.yaml_scan import scan_field, scan_int
from gitrot.core.due import DueItem, due
from gitrot.core.durations import format_duration, parse_duration
from gitrot.core.layout import SECRETS_PREFIX, name_of_path
from gitrot.core.models import RotationIntent
from gitrot.errors import EXIT_FINDINGS, EXIT_OK, GitrotError, InputError
from gitrot.files import repo, workspace
from gitrot.files.fsutil import write_output
from gitrot.git.history import VersionChanges
from gitrot.git.repository import open_repo

FORMATS = ("text", "json")
_DAY, _HOUR, _MINUTE = 86400, 3600, 60


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "due",
        help="list intents due for rotation",
        description="List the intents whose class's max_age has run out, or runs out within "
        "--within, most overdue first. The age of an intent counts from the first-parent "
        "commit of --rev that last changed its spec.version (a merged rotation counts from "
        "its merge commit); an intent that is not committed, or whose version in the work "
        "tree differs from the committed one, counts from now.",
    )
    parser.add_argument(
        "--within", default="14d", metavar="DURATION", help="also list what falls due this soon"
    )
    parser.add_argument("--rev", default="HEAD", help="the history to read (default: HEAD)")
    parser.add_argument("--format", choices=FORMATS, default="text", dest="fmt")
    parser.add_argument("--output", default=None, metavar="FILE", help="write the report here")
    parser.add_argument(
        "--exit-code", action="store_true", help="exit 1 when anything is due (for CI)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return list_due(
        within=args.within, rev=args.rev, fmt=args.fmt, output_file=args.output,
        exit_code=args.exit_code,
    )  # fmt: skip


def list_due(
    *,
    within: str,
    rev: str = "HEAD",
    fmt: str = "text",
    output_file: str | None = None,
    exit_code: bool = False,
    root: str | None = None,
) -> int:
    """Print (or write to ``output_file``) the due report; 1 with ``exit_code`` if any is due."""
    try:
        window = parse_duration(within)
    except ValueError as exc:
        raise InputError(f"--within: {exc}", hint="e.g. --within 14d, 2w or 36h") from None
    now = int(time.time())
    items = due_items(Path(root or workspace.find_root()), now=now, within=window, rev=rev)
    text = render_json(items) if fmt == "json" else render_text(items, now=now, within=within)
    if output_file:
        write_output(output_file, text)
    elif fmt == "text":
        rows = table_rows(items, now=now)
        styles = ["red" if item.overdue else "yellow" for item in items]
        columns = [ui.Column(h, "right" if h == "VERSION" else "left") for h in rows[0]]
        ui.table(columns, rows[1:], plain=text, styles=styles)
    else:
        output.data(text)
    return EXIT_FINDINGS if exit_code and items else EXIT_OK


def due_items(root: Path, *, now: int, within: int, rev: str = "HEAD") -> list[DueItem]:
    """The due intents of the policy repository at ``root`` (work tree + history of ``rev``)."""
    config = repo.load_config(root)
    limited = {name for name, item in config.classes.items() if item.max_age is not None}
    if not limited:
        return []
    # git walks the history while the intents load; a git failure (not a repository, an
    # unknown revision) counts only when some intent needs the history
    history: VersionChanges | GitrotError
    base = ""
    try:
        repository = open_repo(root)
        base = _base(repository.workdir, root)
        history = VersionChanges(repository, rev=rev, prefix=base + SECRETS_PREFIX)
    except GitrotError as exc:
        history = exc
    try:
        intents = _load_intents(root)
        if not any(intent.rotation_class in limited for intent in intents):
            return []
        if isinstance(history, GitrotError):
            raise history
        changes = history.result()
    finally:
        if not isinstance(history, GitrotError):
            history.close()
    if base:
        changes = {path.removeprefix(base): change for path, change in changes.items()}
    return due(intents, config.classes, changes, now=now, within=within)


class _Intent:
    """The three fields of an intent that ``due`` reads (what ``RotationIntent`` has too)."""

    __slots__ = ("name", "path", "rotation_class", "version")

    def __init__(self, name: str, path: str, version: int, rotation_class: str) -> None:
        self.name = name
        self.path = path
        self.version = version
        self.rotation_class = rotation_class


def _load_intents(root: Path) -> list[_Intent | RotationIntent]:
    """Every intent's name, class and version, by line scan where the layout allows.

    Parsing and checking 10,000 intents costs seconds; ``due`` needs three fields, which
    :func:`gitrot.codec.yaml_scan.scan_field` reads from the layout gitrot writes. A file laid out
    any other way (or a symlink) goes through the full loader, which reports what is wrong.
    Checking every field is ``gitrot validate``'s job.
    """
    plain = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._-]*")
    intents: list[_Intent | RotationIntent] = []
    for path in repo.intent_files(root):
        full = os.path.join(root, *path.split("/"))
        name = name_of_path(path)
        data = b""
        if not os.path.islink(full):
            with open(full, "rb") as stream:
                data = stream.read(repo.MAX_FILE_BYTES + 1)
        version = scan_int(scan_field(data, b"spec", b"version"))
        klass = scan_field(data, b"metadata", b"class")
        if name is None or version is None or klass is None or not plain.fullmatch(klass):
            intents.append(repo.load_intent(root, path))
        else:
            intents.append(_Intent(name, path, version, klass.decode()))
    return intents


def _base(workdir: str | None, root: Path) -> str:
    """Where the policy repository sits in its git work tree: '' or 'policy/'."""
    if not workdir:
        return ""
    relative = os.path.relpath(os.path.realpath(root), os.path.realpath(workdir))
    return "" if relative == "." else relative.replace(os.sep, "/") + "/"


def render_text(items: list[DueItem], *, now: int, within: str) -> str:
    """An aligned table, one intent per line, most overdue first."""
    if not items:
        return f"nothing is due for rotation within {within}\n"
    rows = table_rows(items, now=now)
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]))
    return "\n".join(lines) + "\n"


def table_rows(items: list[DueItem], *, now: int) -> list[tuple[str, ...]]:
    """The header, then one row of cells per item."""
    rows: list[tuple[str, ...]] = [("NAME", "VERSION", "LAST ROTATED", "AGE", "MAX AGE", "STATUS")]
    for item in items:
        if item.overdue:
            status = f"overdue by {_rough(now - item.due_at)}"
        else:
            status = f"due in {_rough(item.due_at - now)}"
        rows.append(
            (
                item.name,
                str(item.version),
                _date(item.last_rotated),
                _rough(item.age),
                format_duration(item.max_age),
                status,
            )
        )
    return rows


def render_json(items: list[DueItem]) -> str:
    """A list of objects; times are RFC 3339 UTC, durations are seconds."""
    return (
        json.dumps(
            [
                {
                    "name": item.name,
                    "path": item.path,
                    "version": item.version,
                    "last_rotated": _timestamp(item.last_rotated),
                    "age": item.age,
                    "max_age": item.max_age,
                    "due_at": _timestamp(item.due_at),
                    "overdue": item.overdue,
                }
                for item in items
            ],
            indent=2,
        )
        + "\n"
    )


def _rough(seconds: int) -> str:
    """A duration to the largest whole unit: ``3d``, ``5h``, ``12m``; under a minute ``0m``."""
    for size, unit in ((_DAY, "d"), (_HOUR, "h")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0) // _MINUTE}m"


def _date(epoch: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def _timestamp(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
