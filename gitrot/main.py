"""Command-line entry point: dispatch and the one error handler; no logic here.

Each command lives in ``gitrot/commands/<name>.py`` with ``add_parser(subparsers)`` and a
function that takes explicit arguments and returns an exit code. Command modules keep
their heavy imports inside functions, so the pre-commit hook and build jobs start fast;
the plain ``gitrot decrypt FILE`` form, the one build pipelines run per file, does not even
load argparse (about 5 ms of a 70 ms process).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from gitrot import output
from gitrot.errors import EXIT_ENVIRONMENT, EXIT_INTERRUPTED, GitrotError


def _plain_decrypt(argv: Sequence[str]) -> Callable[[], int] | None:
    """``decrypt FILE`` with no options: the same call argparse would make, without it."""
    if len(argv) == 2 and argv[0] == "decrypt" and not argv[1].startswith("-"):
        from gitrot.commands import decrypt

        return lambda: decrypt.decrypt_to_stdout(argv[1])
    return None


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    debug = "--debug" in argv
    run = _plain_decrypt(argv)
    if run is None:
        from gitrot import cli

        args = cli.build_parser(cli.command_name(argv)).parse_args(argv)
        run = lambda: args.run(args)  # noqa: E731
    try:
        code: int = run()
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
        if debug:
            raise
        output.error(
            f"gitrot: error: unexpected {type(exc).__name__}",
            "this is a bug in gitrot; run again with --debug for the traceback and report it",
        )
        return EXIT_ENVIRONMENT
