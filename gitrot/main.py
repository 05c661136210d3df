"""Command-line entry point: argument wiring and the one error handler; no logic here.

Each command lives in ``gitrot/commands/<name>.py`` with ``add_parser(subparsers)`` and a
function that takes explicit arguments and returns an exit code. Command modules keep
their heavy imports inside functions, so ``gitrot --help`` and the pre-commit hook start
fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from gitrot import output
from gitrot.errors import EXIT_ENVIRONMENT, EXIT_INTERRUPTED, GitrotError

if TYPE_CHECKING:
    from collections.abc import Sequence

COMMANDS = ("keygen", "encrypt", "decrypt", "updatekeys", "rekey")


def build_parser() -> argparse.ArgumentParser:
    from importlib import import_module

    parser = argparse.ArgumentParser(
        prog="gitrot",
        description="Credential rotation as a pull request: SOPS-compatible secrets, "
        "rotation policy, reconciler and audit.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks for unexpected errors"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        import_module(f"gitrot.commands.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except GitrotError as exc:
        output.error(exc.render(), exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        output.error("gitrot: error: interrupted", "")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (e.g. `| head`); nothing left to say
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        output.error(
            f"gitrot: error: unexpected {type(exc).__name__}",
            "this is a bug in gitrot; run again with --debug for the traceback and report it",
        )
        return EXIT_ENVIRONMENT
