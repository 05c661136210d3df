"""The argparse wiring of every command (imported only when a command line needs parsing)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import import_module
from typing import Any

from gitrot.commands import COMMANDS


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter imports shutil for the terminal width on every add_argument."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            try:
                width = int(os.environ.get("COLUMNS", "")) - 2
            except ValueError:
                try:
                    width = os.get_terminal_size(sys.stderr.fileno()).columns - 2
                except (OSError, ValueError):
                    width = 78
        super().__init__(prog, indent_increment, max_help_position, max(width, 40))


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser(wanted: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``wanted`` naming a command, only that subcommand is built.

    argparse spends milliseconds per subparser (gettext look-ups), which a pre-commit hook
    should not pay for commands it does not run; ``gitrot --help`` still lists them all.
    """
    parser = _Parser(
        prog="gitrot",
        description="Credential rotation as a pull request: SOPS-compatible secrets, "
        "rotation policy, reconciler and audit.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks for unexpected errors"
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    for name in COMMANDS if wanted not in COMMANDS else (wanted,):
        import_module(f"gitrot.commands.{name}").add_parser(subparsers)
    return parser


def command_name(argv: Sequence[str]) -> str | None:
    """The first argument that is not a global option: the command, if it is one."""
    for arg in argv:
        if arg.startswith("-"):
            continue
        return arg if arg in COMMANDS else None
    return None
