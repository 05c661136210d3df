"""The command trigger runs real programs (small Python scripts): its environment, exit
codes, output, timeouts that kill the whole process group, missing programs."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from gitrot.errors import ConfigError
from gitrot.triggers.command import CommandTrigger
from tests.triggers.receiver import delivery

VALUE = "s3cr3t-value-never-passed"
DUMP = """
import json, os, sys
stdin = os.readlink("/proc/self/fd/0") if os.path.exists("/proc/self/fd/0") else None
with open(sys.argv[1], "w") as f:
    json.dump({"env": dict(os.environ), "cwd": os.getcwd(), "stdin": stdin}, f)
"""


def script(directory: Path, text: str, name: str = "script.py") -> str:
    path = directory / name
    path.write_text(text)
    return str(path)


def command(
    argv: list[str], root: Path, environ: dict[str, str] | None = None, **options: object
) -> CommandTrigger:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")} if environ is None else environ
    return CommandTrigger(
        "ledger-worker", {"argv": argv, **options}, env, root=str(root), clock=lambda: 1234.9
    )


def test_the_command_learns_what_changed_and_never_the_value(tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_GB.UTF-8",
        "HOME": str(tmp_path),
        "DEPLOY_TARGET": "staging",
        "NOT_LISTED": "dropped",
        "VAULT_TOKEN": VALUE,
        "AWS_SECRET_ACCESS_KEY": VALUE,
        "SOPS_AGE_KEY_FILE": str(tmp_path / ".gitrot" / "reconciler.key"),
        "GITROT_WEBHOOK_SECRET": VALUE,  # another trigger's key: not for the command
        "GITROT_DELIVERY_ID": "stale",
    }
    argv = [sys.executable, script(tmp_path, DUMP), str(out)]
    trigger = command(argv, tmp_path, environ, env=["DEPLOY_TARGET", "MISSING"])
    receipt = trigger.fire(delivery(7))
    assert receipt.as_dict() == {
        "trigger": "ledger-worker",
        "delivery_id": delivery(7).delivery_id,
        "ok": True,
        "attempts": 1,
        "detail": "exit 0",
        "at": 1234,
    }
    seen = json.loads(out.read_text())
    gitrot = {k: v for k, v in seen["env"].items() if k.startswith("GITROT_")}
    assert gitrot == {
        "GITROT_SECRET_NAME": "payments/db-password",
        "GITROT_SECRET_VERSION": "7",
        "GITROT_COMMIT": "0123456789abcdef0123456789abcdef01234567",
        "GITROT_DELIVERY_ID": delivery(7).delivery_id,
        "GITROT_BACKEND": "vault",
        "GITROT_BACKEND_VERSION_ID": "17",
    }
    rest = {k: v for k, v in seen["env"].items() if not k.startswith(("GITROT_", "LC_CTYPE"))}
    cwd = seen["cwd"]
    assert rest == {
        "PATH": environ["PATH"],
        "LANG": "en_GB.UTF-8",
        "HOME": cwd,
        "TMPDIR": cwd,
        "DEPLOY_TARGET": "staging",  # listed in env:
    }
    assert not [k for k, v in seen["env"].items() if VALUE in v or VALUE in k]
    assert not Path(cwd).is_relative_to(tmp_path)  # outside the repository
    assert Path(cwd).name.startswith("gitrot-trigger-")
    assert not Path(cwd).exists()  # removed afterwards
    if seen["stdin"] is not None:
        assert seen["stdin"] == "/dev/null"


def test_each_delivery_gets_a_fresh_folder(tmp_path: Path) -> None:
    out = tmp_path / "pwd.log"
    argv = ["sh", "-c", f'pwd >> {out}; ls -A >> {out}; touch left-behind; echo "--" >> {out}']
    trigger = command(argv, tmp_path)
    assert trigger.fire(delivery(1)).ok
    assert trigger.fire(delivery(2)).ok
    folders = [line for line in out.read_text().splitlines() if line.startswith("/")]
    assert len(set(folders)) == 2
    assert "left-behind" not in out.read_text()
    assert not any(Path(folder).exists() for folder in folders)


def test_cwd_is_not_an_option_any_more(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"triggers\.ledger-worker\.cwd is not an option") as info:
        command(["true"], tmp_path, cwd="deploy")
    assert "make, -C" in info.value.hint


@pytest.mark.parametrize(
    "name",
    [
        "VAULT_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "SOPS_AGE_KEY",
        "SOPS_AGE_KEY_FILE",
        "SOPS_AGE_KEY_CMD",
        "GITROT_WEBHOOK_SECRET",
        "GITROT_ANYTHING",
        "GITHUB_TOKEN",
        "DB_PASSWORD",
        "SSH_AUTH_SOCK",
        "my_api_key",
    ],
)
def test_env_never_passes_a_credential(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match=rf"env must not pass {name} to a command") as info:
        command(["true"], tmp_path, env=[name])
    assert info.value.option == "env"  # type: ignore[attr-defined]


@pytest.mark.parametrize("env", ["PATH", ["1BAD"], [3], ["A B"]])
def test_env_lists_variable_names(tmp_path: Path, env: object) -> None:
    with pytest.raises(ConfigError, match=r"triggers\.ledger-worker\.env "):
        command(["true"], tmp_path, env=env)


def test_a_failing_command_reports_its_exit_code_and_last_line(tmp_path: Path) -> None:
    fails = script(
        tmp_path,
        "import sys\nprint('building ledger-worker', flush=True)\n"
        "print('make: *** No rule to make target rebuild.', file=sys.stderr)\nsys.exit(2)\n",
    )
    receipt = command([sys.executable, fails], tmp_path).fire(delivery())
    assert (receipt.ok, receipt.attempts) == (False, 1)
    assert receipt.detail == "exit 2: make: *** No rule to make target rebuild."
    silent = script(tmp_path, "raise SystemExit(5)\n", "silent.py")
    assert command([sys.executable, silent], tmp_path).fire(delivery()).detail == "exit 5"


def test_output_is_kept_only_as_a_short_last_line(tmp_path: Path) -> None:
    chatty = script(
        tmp_path,
        "import sys\nfor i in range(20000): print('line', i)\n"
        "print('x' * 1000 + '\\x1b[31m')\nprint()\nsys.exit(1)\n",
    )
    receipt = command([sys.executable, chatty], tmp_path).fire(delivery())
    assert receipt.detail.startswith("exit 1: xxxx")
    assert receipt.detail.endswith("…")
    assert len(receipt.detail) <= 210
    huge = script(tmp_path, "import sys\nprint('y' * 5000)\nsys.exit(1)\n", "huge.py")
    # a line longer than the tail is cut at its start too: none of it is kept
    assert command([sys.executable, huge], tmp_path).fire(delivery()).detail == "exit 1"
    quiet_ok = script(tmp_path, "print('done: deployed with token abc')\n", "ok.py")
    receipt = command([sys.executable, quiet_ok], tmp_path).fire(delivery())
    assert (receipt.ok, receipt.detail) == (True, "exit 0")  # success keeps no output


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    hangs = script(
        tmp_path,
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n",
    )
    started = time.monotonic()
    receipt = command([sys.executable, hangs], tmp_path, timeout=1.5).fire(delivery())
    assert time.monotonic() - started < 4
    assert (receipt.ok, receipt.detail) == (False, "timeout after 1.5s")
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 3
    while is_running(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not is_running(grandchild)


def is_running(pid: int) -> bool:
    """Whether ``pid`` is alive (a zombie waiting for its reaper is not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def test_a_missing_program_is_reported(tmp_path: Path) -> None:
    receipt = command(["gitrot-no-such-program", "rebuild"], tmp_path).fire(delivery())
    assert (receipt.ok, receipt.detail) == (False, "not found: gitrot-no-such-program")
    missing = str(tmp_path / "bin" / "deploy")
    assert command([missing], tmp_path).fire(delivery()).detail == f"not found: {missing}"
    plain = tmp_path / "not-executable"
    plain.write_text("#!/bin/sh\nexit 0\n")
    plain.chmod(0o644)
    receipt = command([str(plain)], tmp_path).fire(delivery())
    assert (receipt.ok, receipt.detail) == (False, f"not executable: {plain}")
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x7fELF\x00\x01garbage")
    garbage.chmod(0o755)
    receipt = command([str(garbage)], tmp_path).fire(delivery())
    assert (receipt.ok, receipt.detail) == (False, f"cannot run {garbage}: Exec format error")


def test_a_command_killed_by_a_signal(tmp_path: Path) -> None:
    dies = script(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n")
    receipt = command([sys.executable, dies], tmp_path).fire(delivery())
    assert (receipt.ok, receipt.detail) == (False, "killed by signal 15")


def test_the_program_is_found_on_the_given_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "rebuild-ledger"
    tool.write_text(f"#!{sys.executable}\nimport sys\nsys.exit(0)\n")
    tool.chmod(0o755)
    assert command(["rebuild-ledger"], tmp_path, {"PATH": str(bin_dir)}).fire(delivery()).ok


def test_no_shell_runs_the_arguments(tmp_path: Path) -> None:
    out = tmp_path / "args.json"
    echo = script(tmp_path, "import json, sys\njson.dump(sys.argv[2:], open(sys.argv[1], 'w'))\n")
    argv = [sys.executable, echo, str(out), "$HOME", "; touch pwned", "`id`", "SERVICE=ledger"]
    assert command(argv, tmp_path).fire(delivery()).ok
    assert json.loads(out.read_text()) == argv[3:]
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({}, r"argv must list the command"),
        ({"argv": []}, r"argv must list the command"),
        ({"argv": "make rebuild"}, r"argv must list the command"),
        ({"argv": ["make", 3]}, r"argv must list the command"),
        ({"argv": [""]}, r"argv must list the command"),
        ({"argv": ["true"], "timeout": 0}, r"timeout must be more than 0"),
        ({"argv": ["true"], "timeout": "forever"}, r"timeout is not a duration"),
        ({"argv": ["true"], "shell": True}, r"unknown option 'shell' for a command trigger"),
    ],
)
def test_bad_options_are_config_errors(
    tmp_path: Path, options: dict[str, object], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem) as info:
        CommandTrigger("ledger-worker", options, {}, root=str(tmp_path))
    assert info.value.exit_code == 2
    assert info.value.where == "gitrot.yaml"


def test_timeout_takes_seconds_or_a_duration(tmp_path: Path) -> None:
    assert command(["true"], tmp_path).timeout == 300.0
    assert command(["true"], tmp_path, timeout="5m").timeout == 300.0
    assert command(["true"], tmp_path, timeout=12).timeout == 12.0
    assert repr(command(["make", "rebuild"], tmp_path)) == "CommandTrigger('ledger-worker', 'make')"


def test_stop_all_kills_running_commands_and_starts_no_other(tmp_path: Path) -> None:
    """What gitrot reconcile's SIGINT/SIGTERM handler calls, from another thread here."""
    import threading

    from gitrot.triggers import command as module
    from gitrot.triggers.base import STOPPING

    pid_file = tmp_path / "pid"
    argv = ["sh", "-c", f"echo $$ > {pid_file}; sleep 30; sleep 30"]
    results = []
    worker = threading.Thread(
        target=lambda: results.append(command(argv, tmp_path).fire(delivery()))
    )
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not module.live_groups() and time.monotonic() < deadline:
            time.sleep(0.01)
        [group] = module.live_groups()
        started = time.monotonic()
        assert module.stop_all() == 1
        worker.join(5)
        assert time.monotonic() - started < 1.5
        assert results[0].detail == "killed: the reconciler was stopped"
        assert not is_running(group)
        assert module.live_groups() == []
        receipt = command(["true"], tmp_path).fire(delivery())
        assert (receipt.ok, receipt.detail) == (False, "not run: the reconciler is stopping")
    finally:
        STOPPING.clear()
        module.stop_all()
        STOPPING.clear()
