"""End to end against the in-tree FAKE Secret Manager (tests/backends/gcp_fake.py, on
loopback in this process: no GCP emulator exists): ``gitrot reconcile``, ``status``,
``plan`` and ``exec`` as child processes (the real CLI) on a policy repository whose
gitrot.yaml names a ``gcp-secret-manager`` backend at the fake's http:// endpoint
(anonymous credentials). What a consumer sees is read from the fake: ``latest``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.gcp_fake import PROJECT, FakeServer, fresh, serve
from tests.reconcile.helpers import (
    PolicyRepo,
    environment,
    repo_on_backend,
    run,
)

NAME = "svc/payments-db"
REF = "payments-db"
PRINT = "import os, sys; sys.stdout.write(os.environ['DB'])"


@pytest.fixture(scope="module")
def gcp_server() -> Iterator[FakeServer]:
    yield from serve()


@pytest.fixture
def gcp(gcp_server: FakeServer) -> FakeServer:
    return fresh(gcp_server)


def gcp_repo(root: Path, endpoint: str, log: Path, *, project: str = PROJECT) -> PolicyRepo:
    """A policy repository with backend ``gcp`` at ``endpoint`` and one intent on it."""
    return repo_on_backend(
        root,
        NAME,
        REF,
        f"gcp: {{type: gcp-secret-manager, project: {project}, endpoint: '{endpoint}'}}",
        log,
    )


def latest(gcp: FakeServer) -> str:
    """What a consumer reading ``versions/latest`` gets."""
    versions = gcp.fake.versions[(PROJECT, REF)]
    assert versions[-1]["state"] == "ENABLED"
    return bytes(versions[-1]["data"]).decode()


def test_reconcile_status_plan_exec_on_the_fake(gcp: FakeServer, tmp_path: Path) -> None:
    log = tmp_path / "deliveries.log"
    repo = gcp_repo(tmp_path / "policy", gcp.endpoint, log)
    env = environment()

    first = run(repo.root, "reconcile", env=env)
    assert first.returncode == 0, first.stderr
    one = latest(gcp)
    repo.rotate(NAME)
    repo.commit()
    second = run(repo.root, "reconcile", env=env)
    assert second.returncode == 0, second.stderr
    two = latest(gcp)
    assert two != one
    assert gcp.fake.states(PROJECT, REF) == {1: "ENABLED", 2: "ENABLED"}
    annotations = gcp.fake.annotations(PROJECT, REF)
    assert sorted(annotations) == ["gitrot-v1", "gitrot-v2"]
    assert annotations["gitrot-v2"].startswith("2|gr1-")
    assert annotations["gitrot-v2"].endswith(f"|{NAME}")

    again = run(repo.root, "reconcile", "--full", env=env)  # a rerun adds no version
    assert again.returncode == 0, again.stderr
    assert gcp.fake.states(PROJECT, REF) == {1: "ENABLED", 2: "ENABLED"}
    assert [line.split()[:2] for line in log.read_text().splitlines()] == [
        [NAME, "1"],
        [NAME, "2"],
    ]

    status = run(repo.root, "status", "--exit-code", "--format", "json", env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    plan = run(repo.root, "plan", "--format", "json", env=env)
    assert (plan.returncode, json.loads(plan.stdout)["items"]) == (0, []), plan.stderr
    shown = run(repo.root, "exec", "--secret", f"{NAME}=DB", "--", "python3", "-c", PRINT, env=env)
    assert (shown.returncode, shown.stdout) == (0, two), shown.stderr
    older = ["exec", "--version", "1", "--secret", f"{NAME}=DB", "--", "python3", "-c", PRINT]
    assert run(repo.root, *older, env=env).stdout == one
    note = repo.note()
    assert note is not None
    assert json.dumps(note).count('"backend_version_id": "2"') == 1
    for done in (first, second, again, status, plan):
        assert one not in done.stdout + done.stderr
        assert two not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("trouble", "message"),
    [
        ("stopped", "gcp-secret-manager, project proj-gitrot): cannot reach Secret Manager at "),
        ("unknown", "project no-such-proj): the project is not found (HTTP 404)"),
        ("denied", "): permission denied to read a secret (HTTP 403)"),
    ],
)
def test_an_unreachable_backend_is_exit_3_in_one_line_and_a_later_run_finishes(
    gcp: FakeServer, tmp_path: Path, trouble: str, message: str
) -> None:
    """Server stopped, unknown project, permission denied: reconcile, plan and status exit
    3 with one line naming the backend and what to do, nothing written; once the cause is
    fixed, the next run finishes the work."""
    log = tmp_path / "deliveries.log"
    server = FakeServer().start() if trouble == "stopped" else gcp
    server.fake.projects.add(PROJECT)
    project = "no-such-proj" if trouble == "unknown" else PROJECT
    repo = gcp_repo(tmp_path / "policy", server.endpoint, log, project=project)
    if trouble == "stopped":
        server.stop()
    if trouble == "denied":
        gcp.fake.denied.add(PROJECT)
    env = environment()
    commands = (["reconcile"], ["plan"], ["status"]) if trouble == "stopped" else (["reconcile"],)
    for command in commands:
        done = run(repo.root, *command, env=env)
        assert done.returncode == 3, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert message in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) <= 2  # the error and its hint
        assert REF not in done.stdout + done.stderr
    assert not log.exists()
    assert (PROJECT, REF) not in gcp.fake.secrets
    if trouble == "denied":
        gcp.fake.denied.clear()
        assert run(repo.root, "reconcile", env=env).returncode == 0
        assert gcp.fake.states(PROJECT, REF) == {1: "ENABLED"}
        assert run(repo.root, "status", "--exit-code", env=env).returncode == 0


def test_two_reconcilers_at_once_write_the_version_once(gcp: FakeServer, tmp_path: Path) -> None:
    import subprocess

    from tests.reconcile.helpers import GITROT

    log = tmp_path / "deliveries.log"
    repo = gcp_repo(tmp_path / "policy", gcp.endpoint, log)
    runs = [
        subprocess.Popen(
            [*GITROT, "reconcile"],
            cwd=repo.root,
            env=environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in runs:
        process.communicate(timeout=120)
    assert gcp.fake.calls["add_version"] == 1
    assert gcp.fake.states(PROJECT, REF) == {1: "ENABLED"}
    assert run(repo.root, "status", "--exit-code", env=environment()).returncode == 0


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        ("endpoint: 'https://x.example'", "project must be a GCP project id or number"),
        ("project: my-project, region: us", "unknown option 'region' for type gcp"),
        ("project: my-project, endpoint: 'http://10.0.0.1'", "plain http:// is for loopback"),
    ],
)
def test_validate_checks_the_options_at_their_line(
    tmp_path: Path, options: str, refusal: str
) -> None:
    repo = PolicyRepo.create(tmp_path / "policy", triggers={})
    config = repo.root / "gitrot.yaml"
    line = f"  gcp: {{type: gcp-secret-manager, {options}}}\n"
    config.write_text(config.read_text().replace("backends:\n", f"backends:\n{line}", 1))
    done = run(repo.root, "validate", "gitrot.yaml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("gitrot.yaml:8:"), done.stdout
    assert refusal in done.stdout
