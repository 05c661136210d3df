"""The command rotator runs real programs (small Python scripts in tmp_path): the pending
value reaches their standard input and nowhere else (their own /proc/self/cmdline and
environ say so), relative programs are the policy repository's, failures are RotatorErrors
naming the rotator and the step with the output redacted and cut, and a timeout kills the
whole process group."""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path

import pytest

from gitrot.core.ports import Rotator, RotatorContext
from gitrot.core.secret import SecretValue
from gitrot.errors import EXIT_ENVIRONMENT, RotatorError
from gitrot.rotators.command import CommandRotator, check_options
from gitrot.triggers.base import STOPPING
from gitrot.triggers.options import OptionError
from tests.triggers.test_command import is_running

VALUE = "Pend1ng-v4lue-Zq8rX2mK9wLt"
CURRENT = "Curr3nt-v4lue-Hs7yB3nQ5eVa"
DUMP = """\
import json, os, sys
data = sys.stdin.read()
with open("/proc/self/cmdline", "rb") as f:
    cmdline = f.read().decode()
with open("/proc/self/environ", "rb") as f:
    environ = f.read().decode()
with open(sys.argv[1], "w") as f:
    json.dump({"stdin": data, "cmdline": cmdline, "environ": environ,
               "env": dict(os.environ), "cwd": os.getcwd()}, f)
"""


def context(root: Path, *, version: int = 4) -> RotatorContext:
    def read_secret(name: str) -> SecretValue:
        raise AssertionError(f"the command rotator reads no other secret ({name})")

    return RotatorContext(name="ldap/app", version=version, root=str(root), read_secret=read_secret)


def program(root: Path, text: str, name: str = "rotate") -> Path:
    """An executable Python script at ``root/name``."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\n{text}")
    path.chmod(0o755)
    return path


def rotator(
    root: Path, set_argv: list[str], test_argv: list[str] | None = None, **options: object
) -> CommandRotator:
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_GB.UTF-8",
        "VAULT_TOKEN": "hvs.reconciler-token",
        "SOPS_AGE_KEY_FILE": str(root / ".gitrot" / "reconciler.key"),
        "PGPASSWORD": "admin-pass",
    }
    opts = {"set": set_argv, "test": test_argv or set_argv, **options}
    return CommandRotator("legacy-ldap", opts, context(root), environ=environ)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    made = tmp_path / "policy"
    made.mkdir()
    return made


def test_the_value_goes_to_stdin_only(root: Path, tmp_path: Path) -> None:
    program(root, DUMP)
    out = tmp_path / "set.json"
    made = rotator(root, ["./rotate", str(out)])
    assert isinstance(made, Rotator)
    made.set(SecretValue(VALUE), SecretValue(CURRENT))
    seen = json.loads(out.read_text())
    assert seen["stdin"] == VALUE + "\n"
    for where in ("cmdline", "environ"):
        assert VALUE not in seen[where] and CURRENT not in seen[where]
    assert seen["cmdline"].split("\0")[1:3] == [str(root / "rotate"), str(out)]
    given = dict(item.split("=", 1) for item in seen["environ"].split("\0") if item)
    assert given == {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_GB.UTF-8",
        "HOME": seen["cwd"],
        "TMPDIR": seen["cwd"],
        "GITROT_SECRET": "ldap/app",
        "GITROT_VERSION": "4",
        "GITROT_STEP": "set",
        "GITROT_ROTATOR": "legacy-ldap",
    }
    # a fresh folder outside the repository, removed afterwards
    assert not seen["cwd"].startswith(str(root)) and not os.path.exists(seen["cwd"])


def test_test_gets_the_pending_value_and_its_step(root: Path, tmp_path: Path) -> None:
    program(root, DUMP, "bin/check")
    out = tmp_path / "test.json"
    made = rotator(root, ["bin/check", str(out)], ["bin/check", str(out)])
    made.test(SecretValue(VALUE))
    seen = json.loads(out.read_text())
    assert seen["stdin"] == VALUE + "\n" and seen["env"]["GITROT_STEP"] == "test"
    assert VALUE not in seen["cmdline"] + seen["environ"]


def test_prepare_keeps_the_value_and_close_does_nothing(root: Path) -> None:
    made = rotator(root, ["true"])
    generated = SecretValue(VALUE)
    assert made.prepare(generated, None) is generated
    assert made.prepare(generated, SecretValue(CURRENT)) is generated
    made.close()
    assert repr(made) == "CommandRotator('legacy-ldap', 'true')"
    assert made.options.timeout == 30.0


def test_a_bare_program_is_found_on_path(root: Path) -> None:
    rotator(root, ["true"]).set(SecretValue(VALUE), None)
    assert rotator(root, ["/bin/true"]).argv(["/bin/true", "x"]) == ["/bin/true", "x"]


def failure(made: CommandRotator, step: str = "set") -> RotatorError:
    with pytest.raises(RotatorError) as caught:
        if step == "set":
            made.set(SecretValue(VALUE), SecretValue(CURRENT))
        else:
            made.test(SecretValue(VALUE))
    error = caught.value
    assert error.exit_code == EXIT_ENVIRONMENT and error.step == step
    for text in (error.message, error.hint or "", str(error)):
        assert VALUE not in text and CURRENT not in text
    return error


def test_a_nonzero_exit_names_the_rotator_the_step_and_the_last_line(root: Path) -> None:
    program(
        root, "import sys\nprint('binding as cn=admin')\nprint('bind failed: 49')\nsys.exit(3)\n"
    )
    error = failure(rotator(root, ["./rotate"]), "test")
    assert error.message == "rotator legacy-ldap (command) failed at test: exit 3: bind failed: 49"
    assert "fix the test command of rotators.legacy-ldap in gitrot.yaml" in (error.hint or "")


def test_the_output_is_redacted_of_the_value_in_any_encoding(root: Path) -> None:
    encoded = base64.b64encode(VALUE.encode()).decode()
    for line in (
        f"ldap_modify: cannot set {VALUE}",
        f"sent {encoded} to the server",
        f"password={VALUE[:12]}",
        f"user app: {VALUE.encode().hex()}",
    ):
        program(root, f"import sys\nsys.stdin.read()\nprint({line!r})\nsys.exit(1)\n")
        error = failure(rotator(root, ["./rotate"]))
        assert "[redacted]" in error.message
        assert VALUE[:12] not in error.message and encoded not in error.message


def test_a_long_line_is_cut(root: Path) -> None:
    program(root, "import sys\nprint('x' * 500)\nsys.exit(2)\n")
    error = failure(rotator(root, ["./rotate"]))
    assert error.message.endswith("…") and len(error.message) < 300


def test_a_killed_program(root: Path) -> None:
    program(root, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    error = failure(rotator(root, ["./rotate"]))
    assert error.message == "rotator legacy-ldap (command) failed at set: killed by signal 9"


def test_a_program_that_does_not_read_its_input(root: Path) -> None:
    marker = root / "ran"
    program(root, f"import pathlib, sys\npathlib.Path({str(marker)!r}).touch()\nsys.exit(0)\n")
    # more than a pipe holds: the unread value must not block or fail the step
    assert rotator(root, ["./rotate"]).set(SecretValue(VALUE * 4000), None) is None
    assert marker.exists()


@pytest.mark.parametrize(
    ("argv", "why"),
    [(["./missing"], "not found: ./missing"), (["./plain"], "not executable: ./plain")],
)
def test_a_program_that_cannot_start(root: Path, argv: list[str], why: str) -> None:
    (root / "plain").write_text("not a program")
    error = failure(rotator(root, argv))
    assert error.message == f"rotator legacy-ldap (command) failed at set: {why}"


def test_a_timeout_kills_the_process_group(root: Path, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    program(
        root,
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen(['sleep', '30'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        "time.sleep(30)\n",
    )
    started = time.monotonic()
    error = failure(rotator(root, ["./rotate"], timeout=2))
    assert time.monotonic() - started < 10
    assert error.message == "rotator legacy-ldap (command) failed at set: timed out after 2s"
    deadline = time.monotonic() + 3
    for pid in map(int, pids.read_text().split()):
        while is_running(pid) and time.monotonic() < deadline:
            time.sleep(0.02)  # SIGKILL is delivered, then the orphan reaped
        assert not is_running(pid)


def test_nothing_runs_while_the_reconciler_stops(root: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    program(root, f"open({str(marker)!r}, 'w').write('ran')\n")
    STOPPING.set()
    try:
        error = failure(rotator(root, ["./rotate"]), "test")
    finally:
        STOPPING.clear()
    assert error.message.endswith("failed at test: not run: the reconciler is stopping")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("options", "message", "option"),
    [
        ({"test": ["./t"]}, "rotators.r.set must list the command and its arguments", "set"),
        ({"set": "./s", "test": ["./t"]}, "rotators.r.set must list", "set"),
        ({"set": ["./s"], "test": [""]}, "rotators.r.test must list", "test"),
        ({"set": ["../s"], "test": ["./t"]}, "rotators.r.set names a program outside", "set"),
        (
            {"set": ["./s"], "test": ["./t"], "timeout": "soon"},
            "rotators.r.timeout is not a duration",
            "timeout",
        ),
        (
            {"set": ["./s"], "test": ["./t"], "timeout": 0},
            "rotators.r.timeout must be more than 0",
            "timeout",
        ),
        (
            {"set": ["./s"], "test": ["./t"], "shell": True},
            "rotators.r: unknown option 'shell' for a command rotator",
            "shell",
        ),
        (
            {"set": ["./s", "--password=hunter2"], "test": ["./t"]},
            "rotators.r.set holds a credential",
            "set",
        ),
        (
            {"set": ["./s"], "test": ["env", "API_KEY=abc123", "./t"]},
            "rotators.r.test holds a credential",
            "test",
        ),
    ],
)
def test_options_are_checked(options: dict[str, object], message: str, option: str) -> None:
    with pytest.raises(OptionError) as caught:
        check_options("r", options)
    assert caught.value.message.startswith(message) and caught.value.option == option
    assert "hunter2" not in caught.value.message and "abc123" not in caught.value.message


def test_options_that_pass() -> None:
    checked = check_options(
        "r", {"set": ["./s", "--password-file=/run/p"], "test": ["./t"], "timeout": "2m"}
    )
    assert (checked.set, checked.test, checked.timeout) == (
        ["./s", "--password-file=/run/p"],
        ["./t"],
        120.0,
    )


def test_stopping_the_reconciler_kills_a_running_program(root: Path, tmp_path: Path) -> None:
    """What gitrot reconcile's signal handler calls (process.stop_all), from another thread."""
    import threading

    from gitrot.triggers import process

    program(root, "import sys, time\nsys.stdin.read()\ntime.sleep(30)\n")
    errors: list[RotatorError] = []

    def run() -> None:
        try:
            rotator(root, ["./rotate"]).set(SecretValue(VALUE), None)
        except RotatorError as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not process.live_groups() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.stop_all() == 1
        worker.join(5)
    finally:
        STOPPING.clear()
    assert errors[0].message.endswith("failed at set: killed: the reconciler was stopped")


def test_a_temp_folder_inside_the_repository_is_not_used(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    inside = root / "tmp"
    inside.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(inside))
    program(root, DUMP)
    out = tmp_path / "set.json"
    rotator(root, ["./rotate", str(out)]).set(SecretValue(VALUE), None)
    cwd = json.loads(out.read_text())["cwd"]
    assert cwd.startswith("/tmp/gitrot-rotator-") and not os.listdir(inside)
