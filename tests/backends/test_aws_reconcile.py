"""End to end on the REAL moto server: ``gitrot reconcile``, ``status``, ``plan`` and
``exec`` (child processes, the real CLI) on a policy repository whose gitrot.yaml names an
``aws-secrets-manager`` backend pointed at moto on loopback (tests/backends/moto.py), with
dummy credentials in the environment. What an AWS consumer sees is read with boto3 by
stage (``AWSCURRENT``/``AWSPREVIOUS``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.backends.moto import (  # noqa: F401 - aws_env_fixture, moto_fixture: fixtures
    REGION,
    Moto,
    aws_env_fixture,
    moto_fixture,
    start_moto,
    unique,
)
from tests.reconcile.helpers import (
    PolicyRepo,
    environment,
    repo_on_backend,
    run,
)

NAME = "svc/payments-db"
PRINT = "import os, sys; sys.stdout.write(os.environ['DB'])"


def aws_repo(root: Path, endpoint: str, log: Path, ref: str) -> PolicyRepo:
    """A policy repository with backend ``aws`` at ``endpoint`` and one intent on it."""
    return repo_on_backend(
        root,
        NAME,
        ref,
        f"aws: {{type: aws-secrets-manager, region: {REGION}, endpoint_url: {endpoint}}}",
        log,
    )


def stage_value(aws: Any, ref: str, stage: str) -> str:
    return str(aws.get_secret_value(SecretId=ref, VersionStage=stage)["SecretString"])


def test_reconcile_status_plan_exec_on_moto(
    moto: Moto, aws_env: dict[str, str], tmp_path: Path
) -> None:
    ref, log = unique("gitrot-e2e"), tmp_path / "deliveries.log"
    repo = aws_repo(tmp_path / "policy", moto.endpoint, log, ref)
    env = environment(**aws_env)
    aws = boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto.endpoint)

    first = run(repo.root, "reconcile", env=env)
    assert first.returncode == 0, first.stderr
    one = stage_value(aws, ref, "AWSCURRENT")
    repo.rotate(NAME)
    repo.commit()
    second = run(repo.root, "reconcile", env=env)
    assert second.returncode == 0, second.stderr
    two = stage_value(aws, ref, "AWSCURRENT")
    assert two != one
    assert stage_value(aws, ref, "AWSPREVIOUS") == one
    versions = aws.list_secret_version_ids(SecretId=ref, IncludeDeprecated=True)["Versions"]
    assert len(versions) == 2

    again = run(repo.root, "reconcile", env=env)  # a rerun writes nothing
    assert again.returncode == 0, again.stderr
    assert len(aws.list_secret_version_ids(SecretId=ref)["Versions"]) == 2
    assert stage_value(aws, ref, "AWSCURRENT") == two
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
    for done in (first, second, again, status, plan):
        assert one not in done.stdout + done.stderr
        assert two not in done.stdout + done.stderr


def test_a_stopped_server_is_exit_3_in_one_line(aws_env: dict[str, str], tmp_path: Path) -> None:
    """The server stops before the run: exit 3, one line naming the backend and what to
    do, no traceback; plan and status say the same."""
    server = start_moto()
    ref, log = unique("gitrot-e2e"), tmp_path / "deliveries.log"
    repo = aws_repo(tmp_path / "policy", server.endpoint, log, ref)
    server.stop()
    env = environment(**aws_env)
    for command in (["reconcile"], ["plan"], ["status"]):
        done = run(repo.root, *command, env=env)
        assert done.returncode == 3, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert "aws-secrets-manager): cannot reach AWS Secrets Manager at " in done.stderr
        assert server.endpoint in done.stderr
        assert ref not in done.stdout + done.stderr
    assert not log.exists()


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        ("region: eu-west-1, access_key_id: AKIAEXAMPLE", "is a credential written into"),
        ("region: eu-west-1, role: AKIAEXAMPLE", "credentials never go in gitrot.yaml"),
        ("endpoint_url: https://x", "region must be an AWS region like eu-west-1, got nothing"),
        ("region: AKIAEXAMPLE", "region must be an AWS region like eu-west-1, got 'AKIA"),
    ],
)
def test_validate_checks_the_backends_options_at_their_line(
    tmp_path: Path, options: str, refusal: str
) -> None:
    """``gitrot validate`` refuses what the backend would, at gitrot.yaml:LINE:COL; a
    credential's value is never repeated (the region's, a short text, is)."""
    repo = PolicyRepo.create(tmp_path / "policy", triggers={})
    config = repo.root / "gitrot.yaml"
    line = f"  aws: {{type: aws-secrets-manager, {options}}}\n"
    config.write_text(config.read_text().replace("backends:\n", f"backends:\n{line}", 1))
    done = run(repo.root, "validate", "gitrot.yaml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("gitrot.yaml:8:"), done.stdout
    assert refusal in done.stdout
    if "region: AKIA" not in options:
        assert "AKIAEXAMPLE" not in done.stdout + done.stderr
