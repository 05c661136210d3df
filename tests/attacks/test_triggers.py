"""Triggers and plugin options cannot be turned against the reconciler (issue 10, items 1, 6,
7 and 9; Ctrl-C and SIGTERM).

(a) A pull request adds a command trigger that copies the reconciler's key and dumps its
environment: after the merge, ``gitrot reconcile`` runs it outside the repository with a
minimal environment: the copy fails, no credential is in the dump.
(b) A failing consumer prints the value it pulled with ``gitrot exec`` (plain, base64, hex,
in a connection string): no note, output or git object holds it.
(c) Every option the reconciler would refuse is refused by ``gitrot validate`` at
``gitrot.yaml:LINE:COL`` (exit 2); an unset webhook key is not (it is the reconciler's
environment) and fails only that delivery.
(d) SIGTERM and SIGINT during a slow trigger end the run in 2 seconds with 143 / 130, its
process group killed.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.reconcile.conftest import intent_name
from tests.reconcile.helpers import environment, git, logger_trigger, read_log, run, start

if TYPE_CHECKING:
    from tests.reconcile.conftest import MakeRepo
    from tests.reconcile.helpers import PolicyRepo

CREDENTIALS = {
    "VAULT_TOKEN": "hvs.attack-vault-token-0001",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-attack-0002",
    "AWS_SESSION_TOKEN": "aws-session-attack-0003",
    "GITROT_WEBHOOK_SECRET": "webhook-key-attack-0004",
}


def pull_request(repo: PolicyRepo, branch: str, change: Any, message: str) -> None:
    """``change(repo)`` committed on ``branch``, then merged into main (no fast-forward)."""
    git(repo.root, "checkout", "--quiet", "-b", branch)
    change(repo)
    repo.commit(message)
    git(repo.root, "checkout", "--quiet", "main")
    git(repo.root, "merge", "--quiet", "--no-ff", "--no-edit", branch)


def add_trigger(repo: PolicyRepo, name: str, spec: dict[str, Any]) -> None:
    config = repo.root / "gitrot.yaml"
    text = config.read_text()
    config.write_text(text.replace("triggers:\n", f"triggers:\n  {name}: {json.dumps(spec)}\n", 1))


def all_objects(root: Path) -> bytes:
    return subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=root,
        env=environment(),
        capture_output=True,
        check=True,
    ).stdout


def forms(value: str) -> dict[str, bytes]:
    raw = value.encode()
    return {
        "plain": raw,
        "base64": base64.b64encode(raw).rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        "json": json.dumps(value)[1:-1].encode(),
    }


def leaks(places: dict[str, bytes], value: str) -> list[str]:
    return [f"{place} ({form})" for form, needle in forms(value).items()
            for place, data in places.items() if needle in data]  # fmt: skip


# --- (a) a command trigger added by a pull request -------------------------------------------


def test_a_merged_command_trigger_gets_no_key_no_credentials_and_not_the_repository(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    out = tmp_path / "loot"
    out.mkdir()
    repo = make_repo(1)
    key = repo.root / ".gitrot" / "reconciler.key"
    script = f"cp .gitrot/reconciler.key {out}/x; env > {out}/y; pwd > {out}/z"

    def attack(repo: PolicyRepo) -> None:
        add_trigger(repo, "audit-log", {"type": "command", "argv": ["sh", "-c", script]})
        repo.new("attack/innocent", consumers=("audit-log",))

    pull_request(repo, "audit-log", attack, "Add an audit log consumer")
    env = environment(SOPS_AGE_KEY_FILE=str(key), **CREDENTIALS)
    done = run(repo.root, "reconcile", env=env)
    assert done.returncode == 0, done.stderr
    assert "audit-log told about attack/innocent" in done.stderr + done.stdout

    assert not (out / "x").exists()  # the key is not in the trigger's working directory
    dump = (out / "y").read_text()
    names = {line.split("=", 1)[0] for line in dump.splitlines() if "=" in line}
    for name in ("VAULT_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "SOPS_AGE_KEY_FILE"):
        assert name not in names
    assert not [name for name in names if name.startswith("SOPS_")]
    assert {n for n in names if n.startswith("GITROT_")} == {
        "GITROT_SECRET_NAME",
        "GITROT_SECRET_VERSION",
        "GITROT_COMMIT",
        "GITROT_DELIVERY_ID",
        "GITROT_BACKEND",
        "GITROT_BACKEND_VERSION_ID",
    }
    for value in [*CREDENTIALS.values(), str(key), key.read_text().strip()]:
        assert value not in dump
    cwd = Path((out / "z").read_text().strip())
    assert not cwd.is_relative_to(repo.root.resolve())
    assert not cwd.exists()  # the private folder is removed


def test_a_pull_request_cannot_hand_a_credential_to_a_command(make_repo: MakeRepo) -> None:
    repo = make_repo(0)
    spec = {"type": "command", "argv": ["sh", "-c", "env"], "env": ["VAULT_TOKEN"]}
    add_trigger(repo, "leaky", spec)
    done = run(repo.root, "validate")
    assert done.returncode == 1  # a finding of validate
    assert "triggers.leaky.env must not pass VAULT_TOKEN to a command" in done.stdout
    assert "gitrot.yaml:" in done.stdout


# --- (b) a failing consumer prints the value ---------------------------------------------------

CONSUMERS = {
    "db-url": "import os, sys; print('connecting', flush=True); "
    "print(f\"FATAL: cannot connect to postgres://app:{os.environ['V']}@db:5432/app\", "
    "file=sys.stderr); sys.exit(1)",
    "plain": "import os, sys; print('the password is', os.environ['V']); sys.exit(2)",
    "b64": "import base64, os, sys; "
    "print('auth', base64.b64encode(os.environ['V'].encode()).decode()); sys.exit(3)",
    "hex": "import os, sys; print('key=' + os.environ['V'].encode().hex()); sys.exit(4)",
    "json": "import json, os, sys; print(json.dumps({'dsn': os.environ['V']})); sys.exit(5)",
}


def test_a_failing_consumer_that_prints_the_value_leaks_it_nowhere(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    root = tmp_path / "policy"
    exec_ = f'{sys.executable} -m gitrot exec --secret "$GITROT_SECRET_NAME=V" -- {sys.executable}'
    triggers = {
        name: {"type": "command", "argv": ["sh", "-c", f'cd {root} && {exec_} -c "$0"', code]}
        for name, code in CONSUMERS.items()
    }
    repo = make_repo(0, triggers=triggers, commit=False)
    repo.new(intent_name(0), consumers=tuple(CONSUMERS))
    repo.commit()
    env = environment()
    first = run(repo.root, "reconcile", env=env)
    assert first.returncode == 1, first.stderr
    value = repo.backend().read(repo.refs[intent_name(0)], 1).reveal()
    second = run(repo.root, "reconcile", env=env)  # the failed deliveries again
    assert second.returncode == 1, second.stderr

    shown = first.stdout + first.stderr
    for name in CONSUMERS:
        assert f"{name} NOT told (exit " in shown  # the consumers ran, failed and were shown
    assert "[redacted]" in shown
    assert "postgres://[redacted]@db" in shown or "postgres://app:[redacted]@db" in shown
    places = {
        "reconcile 1 stdout": first.stdout.encode(),
        "reconcile 1 stderr": first.stderr.encode(),
        "reconcile 2 stdout": second.stdout.encode(),
        "reconcile 2 stderr": second.stderr.encode(),
        "git objects": all_objects(repo.root),
    }
    notes = git(repo.root, "log", "--notes=gitrot", "--format=%N", "--all")
    places["git log --notes=gitrot"] = notes.encode()
    assert not leaks(places, value)


# --- (c) what the reconciler would refuse, validate refuses -------------------------------------


def config_with(repo: PolicyRepo, section: str, name: str, spec: str) -> int:
    """Add ``name: spec`` (flow YAML) under ``section`` of gitrot.yaml; its line number."""
    config = repo.root / "gitrot.yaml"
    lines = config.read_text().splitlines()
    if f"{section}: {{}}" in lines:
        lines[lines.index(f"{section}: {{}}")] = f"{section}:"
    index = lines.index(f"{section}:") + 1
    lines.insert(index, f"  {name}: {spec}")
    config.write_text("\n".join(lines) + "\n")
    return index + 1


def refused(repo: PolicyRepo) -> subprocess.CompletedProcess[str]:
    """``gitrot validate`` (a finding: exit 1) and ``gitrot new`` (exit 2) refuse the
    file; ``validate``'s result."""
    done = run(repo.root, "validate")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.count(": error: ") == 1, done.stdout  # one finding: the option
    new = run(repo.root, "new", "x/y", "--backend", "local", "--ref", "x/y", "--owner", "t",
              "--class", "test-key")  # fmt: skip
    assert new.returncode == 2, new.stderr
    assert "(gitrot.yaml:" in new.stderr
    return done


BAD_TRIGGERS = [
    ('{type: webhook, url: "http://hooks.example/x", secret_env: HOOK_KEY}', "must use https"),
    (
        '{type: webhook, url: "https://ci.example/a b", secret_env: HOOK_KEY}',
        "must not hold spaces",
    ),
    (
        '{type: webhook, url: "https://ci.example/a\\r\\nX-Evil: 1", secret_env: HOOK_KEY}',
        "must not hold spaces, line breaks",
    ),
    ('{type: webhook, url: "https://u:p@ci.example/x", secret_env: HOOK_KEY}', "credentials"),
    ('{type: webhook, url: "https://ci.example/x", secret_env: "not a name"}', "secret_env"),
    ('{type: webhook, url: "https://ci.example/x", secret_env: K, retries: 99}', "retries"),
    ("{type: command, argv: [make], cwd: ../..}", "cwd is not an option"),
    ("{type: command, argv: [make], timeout: -1}", "timeout must be more than 0"),
    ("{type: command, argv: [make], shell: true}", "unknown option 'shell'"),
    ("{type: command, argv: [make], env: [AWS_SECRET_ACCESS_KEY]}", "must not pass"),
    ("{type: command, argv: [make], env: [SOPS_AGE_KEY]}", "must not pass"),
    ("{type: command, argv: []}", "argv"),
    ("{type: github, repo: x}", "type 'github'"),
    ("{type: pagerduty}", "type 'pagerduty'"),
]

BAD_BACKENDS = [
    ("{type: local, path: .}", "not its root"),
    ("{type: local, path: ./}", "not its root"),
    ("{type: local, path: .git/store}", "must not be in .git/"),
    ("{type: local, path: secrets/store}", "must not be in secrets/"),
    ("{type: local, path: /var/lib/store}", "must be a relative path inside the repository"),
    ("{type: local, path: ../store}", "must be a relative path inside the repository"),
    ("{type: local, path: s, mode: x}", "unknown option 'mode'"),
    ("{type: gcp-secret-manager, project: p}", "must be a GCP project id"),
    ("{type: consul, address: x}", "is not one of"),
]


@pytest.mark.parametrize(("spec", "problem"), BAD_TRIGGERS)
def test_validate_refuses_each_bad_trigger_option_at_its_line(
    make_repo: MakeRepo, spec: str, problem: str
) -> None:
    repo = make_repo(0)
    line = config_with(repo, "triggers", "bad", spec)
    done = refused(repo)
    assert problem in done.stdout
    assert f"gitrot.yaml:{line}:" in done.stdout
    assert "X-Evil" not in done.stdout and "u:p@" not in done.stdout


@pytest.mark.parametrize(("spec", "problem"), BAD_BACKENDS)
def test_validate_refuses_each_bad_backend_option_at_its_line(
    make_repo: MakeRepo, spec: str, problem: str
) -> None:
    repo = make_repo(0)
    line = config_with(repo, "backends", "bad", spec)
    done = refused(repo)
    assert problem in done.stdout
    assert f"gitrot.yaml:{line}:" in done.stdout


def test_a_command_never_gets_a_webhook_key(make_repo: MakeRepo) -> None:
    repo = make_repo(0)
    config_with(
        repo, "triggers", "hook", "{type: webhook, url: https://ci.example/x, secret_env: HOOK_KEY}"
    )
    line = config_with(repo, "triggers", "cmd", "{type: command, argv: [make], env: [HOOK_KEY]}")
    done = refused(repo)
    assert "triggers.cmd.env must not pass HOOK_KEY to a command" in done.stdout
    assert f"gitrot.yaml:{line}:" in done.stdout


def test_a_store_through_a_committed_symlink_is_refused(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo(0)
    outside = tmp_path / "outside"
    outside.mkdir()

    def attack(repo: PolicyRepo) -> None:
        repo.new("elsewhere/db", consumers=())
        intent = repo.root / "secrets" / "elsewhere" / "db.yaml"
        intent.write_text(intent.read_text().replace("backend: local", "backend: elsewhere"))
        (repo.root / "data").symlink_to(outside, target_is_directory=True)
        config_with(repo, "backends", "elsewhere", "{type: local, path: data/store}")

    pull_request(repo, "elsewhere", attack, "A store in data/")
    line = 1 + (repo.root / "gitrot.yaml").read_text().splitlines().index(
        "  elsewhere: {type: local, path: data/store}"
    )
    done = refused(repo)
    assert "backends.elsewhere.path goes through data, a symbolic link committed" in done.stdout
    assert f"gitrot.yaml:{line}:" in done.stdout
    done = run(repo.root, "reconcile")
    assert done.returncode != 0
    assert "a symbolic link committed" in done.stderr + done.stdout
    assert not list(outside.iterdir())  # nothing written where the link leads


def test_an_unset_webhook_key_fails_only_its_deliveries(
    make_repo: MakeRepo, trigger_log: Path
) -> None:
    """The webhook's key is the reconciler's environment, not the file: validate accepts
    it; reconcile writes every item, tells the other consumers and fails only the
    webhook's deliveries (exit 1, retried on the next run)."""
    hook = {"type": "webhook", "url": "https://127.0.0.1:9/x", "secret_env": "HOOK_KEY"}
    triggers = {"api": logger_trigger(trigger_log), "hook": hook}
    repo = make_repo(1, triggers=triggers, commit=False)
    repo.new("svc/hooked", consumers=("api", "hook"))
    repo.commit()
    assert run(repo.root, "validate").returncode == 0
    done = run(repo.root, "reconcile", env=environment())
    assert done.returncode == 1, done.stderr
    assert "HOOK_KEY is not set or empty" in done.stderr + done.stdout
    backend = repo.backend()
    for name in ("svc/hooked", intent_name(0)):
        assert backend.read(repo.refs[name], 1).reveal()  # every item was still written
    assert len(read_log(trigger_log)) == 2  # and its other consumers told


# --- (d) SIGTERM / SIGINT during a slow trigger ------------------------------------------------


def group_alive(group: int) -> bool:
    """Whether any process of ``group`` is alive (zombies do not count)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == group:
            return True
    return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_run_and_kills_the_trigger(
    make_repo: MakeRepo, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    pid_file = tmp_path / "trigger.pid"
    slow = {"type": "command", "argv": ["sh", "-c", f"echo $$ > {pid_file}.tmp; "
            f"mv {pid_file}.tmp {pid_file}; sleep 30; sleep 30"]}  # fmt: skip
    repo = make_repo(2, triggers={"api": slow})
    process = start(repo.root, "reconcile", "--jobs", "1")
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert pid_file.exists(), process.stderr.read() if process.stderr else ""
    group = int(pid_file.read_text())
    assert group_alive(group)
    sent = time.monotonic()
    process.send_signal(sig)
    try:
        returncode = process.wait(5)
    finally:
        if process.poll() is None:
            process.kill()
    took = time.monotonic() - sent
    assert returncode == code
    assert took < 2.0
    deadline = time.monotonic() + 1
    while group_alive(group) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not group_alive(group)
    assert process.stderr is not None
    assert "Traceback" not in process.stderr.read().decode()
