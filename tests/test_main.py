"""gitrot.main and gitrot.cli: dispatch, the one error handler and its exit codes."""

from __future__ import annotations

import argparse
import io
import sys

import pytest

from gitrot import cli, main, output
from gitrot.commands import decrypt
from gitrot.errors import BackendError, InputError, IntegrityError
from tests.conftest import Result


def _raising(error: BaseException):  # type: ignore[no-untyped-def]
    def run(*_args: object) -> int:
        raise error

    return run


@pytest.mark.parametrize(
    ("error", "code", "lines"),
    [
        (IntegrityError("MAC mismatch", where="a.yaml", hint="restore it"), 1,
         ["gitrot: error: MAC mismatch (a.yaml)", "hint: restore it"]),
        (KeyboardInterrupt(), 130, ["gitrot: error: interrupted"]),
        (ValueError("secret detail"), 3,
         ["gitrot: error: unexpected ValueError",
          "hint: this is a bug in gitrot; run again with --debug for the traceback and report it"]),
    ],
)  # fmt: skip
def test_the_error_handler_prints_one_line_and_a_hint(  # type: ignore[no-untyped-def]
    gitrot, monkeypatch: pytest.MonkeyPatch, error: BaseException, code: int, lines: list[str]
) -> None:
    """Both the plain ``decrypt FILE`` path and the argparse path go through it; an
    unexpected error never prints its message (it may hold a value)."""
    monkeypatch.setattr(decrypt, "decrypt_to_stdout", _raising(error))
    monkeypatch.setattr(decrypt, "run", _raising(error))
    for argv in (["decrypt", "a.yaml"], ["decrypt", "--output-type", "yaml", "a.yaml"]):
        result: Result = gitrot(*argv)
        assert (result.code, result.err.splitlines(), result.out) == (code, lines, "")


def test_debug_shows_the_traceback_of_an_unexpected_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(decrypt, "run", _raising(ValueError("boom")))
    with pytest.raises(ValueError, match="boom"):
        main.main(["--debug", "decrypt", "a.yaml"])


def test_a_closed_pipe_ends_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setattr(decrypt, "decrypt_to_stdout", _raising(BrokenPipeError()))
    assert main.main(["decrypt", "a.yaml"]) == 130
    assert stderr.closed  # nothing more is written to a reader that went away


def test_without_arguments_main_reads_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def record(path: str) -> int:
        seen.append(path)
        return 0

    monkeypatch.setattr(decrypt, "decrypt_to_stdout", record)
    monkeypatch.setattr(sys, "argv", ["gitrot", "decrypt", "from-argv.yaml"])
    assert main.main() == 0
    assert seen == ["from-argv.yaml"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["no-such-command"], "argument COMMAND: invalid choice: 'no-such-command'"),
        ([], "the following arguments are required: COMMAND"),
        (["--debug"], "the following arguments are required: COMMAND"),
    ],
)
def test_usage_errors_exit_2(gitrot, argv: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = gitrot(*argv)
    assert result.code == 2
    assert result.err.startswith("usage: gitrot")
    assert message in result.err


def test_help_lists_every_command_and_one_command_builds_alone() -> None:
    from gitrot.commands import COMMANDS

    full = cli.build_parser().format_help()
    assert all(name in full for name in COMMANDS)
    only = cli.build_parser("validate")
    actions = [a for a in only._actions if isinstance(a, argparse._SubParsersAction)]
    assert list(actions[0].choices) == ["validate"]
    assert cli.command_name(["--debug", "validate", "x"]) == "validate"
    assert cli.command_name(["--debug", "nope"]) is None
    assert cli.command_name(["--debug"]) is None


@pytest.mark.parametrize(("columns", "width"), [("100", 98), ("20", 40), ("wide", 78)])
def test_help_fits_the_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], columns: str, width: int
) -> None:
    """COLUMNS sets the width (at least 40); without a usable one, the terminal's, else 78."""
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # no terminal: no fileno
    lines = cli.build_parser("validate").format_help().splitlines()
    assert width - 10 < max(len(line) for line in lines) <= width
    explicit = cli.build_parser("validate").formatter_class("gitrot", width=60)  # type: ignore[call-arg]
    explicit.add_text("word " * 30)
    assert max(len(line) for line in explicit.format_help().splitlines()) <= 60


def test_output_streams(capsys: pytest.CaptureFixture[str]) -> None:
    output.data("plain\n")
    output.info("note")
    output.error("gitrot: error: x", "")
    output.error("gitrot: error: y", "do z")
    assert capsys.readouterr() == (
        "plain\n",
        "note\ngitrot: error: x\ngitrot: error: y\nhint: do z\n",
    )


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("env", "stdout", "wanted"),
    [
        ({}, _Terminal(), True),
        ({"NO_COLOR": "1"}, _Terminal(), False),
        ({"TERM": "dumb"}, _Terminal(), False),
        ({}, io.StringIO(), False),  # a pipe or a file
        ({}, None, False),  # a closed stdout
    ],
)
def test_colour_only_on_a_terminal_that_wants_it(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], stdout: io.StringIO | None, wanted: bool
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if stdout is None:
        stdout = io.StringIO()
        stdout.close()
    monkeypatch.setattr(sys, "stdout", stdout)
    assert output.stdout_wants_color() is wanted


def test_error_locations_and_the_backend_exit_codes() -> None:
    error = InputError("bad", where="a.yaml", line=3, column=7)
    assert error.render() == "gitrot: error: bad (a.yaml:3:7)"
    assert InputError("bad", where="a.yaml", line=3).location() == "a.yaml:3"
    assert InputError("bad").at("b.yaml").render() == "gitrot: error: bad (b.yaml)"
    assert error.at("b.yaml").where == "a.yaml"  # the raiser knew better
    assert BackendError("refused").exit_code == 1
    assert BackendError("down", unreachable=True).exit_code == 3
