"""The aws-secrets-manager backend cannot be turned against the reconciler or its secrets.

All on the REAL moto server (tests/backends/moto.py), through the real CLI:

(a) gitrot.yaml carries no AWS credential: a key, a session token or an endpoint with a
user and password is refused by ``gitrot validate`` at its line, never repeated.
(b) Credentials moto's IAM does not know (a server with its IAM checks on): exit 3, one
line, and neither the access key id nor the secret key is in any output.
(c) An intent whose ref names a secret that belongs to another secret (another gitrot
repository's, by its ``gitrot:name`` tag) is refused; the secret's value is untouched.
"""

from __future__ import annotations

from pathlib import Path

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
from tests.backends.test_aws_reconcile import NAME, aws_repo
from tests.reconcile.helpers import PolicyRepo, environment, run

KEY_ID = "AKIAATTACKKEY0000001"
SECRET_KEY = "attack-secret-access-key-0002"


@pytest.mark.parametrize(
    "options",
    [
        f"region: eu-west-1, aws_secret_access_key: {SECRET_KEY}",
        f"region: eu-west-1, session_token: {SECRET_KEY}",
        f"region: eu-west-1, endpoint_url: 'https://{KEY_ID}:{SECRET_KEY}@evil.example'",
    ],
)
def test_no_credential_in_gitrot_yaml(tmp_path: Path, options: str) -> None:
    repo = PolicyRepo.create(tmp_path / "policy", triggers={})
    config = repo.root / "gitrot.yaml"
    line = f"  aws: {{type: aws-secrets-manager, {options}}}\n"
    config.write_text(config.read_text().replace("backends:\n", f"backends:\n{line}", 1))
    done = run(repo.root, "validate", "gitrot.yaml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("gitrot.yaml:8:")
    assert SECRET_KEY not in done.stdout + done.stderr
    assert KEY_ID not in done.stdout + done.stderr


def test_unknown_credentials_are_exit_3_and_never_shown(
    aws_env: dict[str, str], tmp_path: Path
) -> None:
    server = start_moto(auth=True)
    try:
        repo = aws_repo(tmp_path / "policy", server.endpoint, tmp_path / "log", unique())
        env = environment(**aws_env) | {
            "AWS_ACCESS_KEY_ID": KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }
        done = run(repo.root, "reconcile", env=env)
    finally:
        server.stop()
    assert done.returncode == 3, done.stdout + done.stderr
    assert "was denied (" in done.stderr
    assert "Traceback" not in done.stderr
    assert KEY_ID not in done.stdout + done.stderr
    assert SECRET_KEY not in done.stdout + done.stderr


def test_a_secret_of_another_owner_is_refused_and_untouched(
    moto: Moto, aws_env: dict[str, str], tmp_path: Path
) -> None:
    ref = unique("shared")
    aws = boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto.endpoint)
    aws.create_secret(
        Name=ref, SecretString="their-value", Tags=[{"Key": "gitrot:name", "Value": "theirs/db"}]
    )
    repo = aws_repo(tmp_path / "policy", moto.endpoint, tmp_path / "log", ref)
    done = run(repo.root, "reconcile", env=environment(**aws_env))
    assert done.returncode != 0
    assert "written for another secret (theirs/db)" in done.stdout + done.stderr
    assert NAME in done.stdout + done.stderr
    assert aws.get_secret_value(SecretId=ref, VersionStage="AWSCURRENT")["SecretString"] == (
        "their-value"
    )
    assert len(aws.list_secret_version_ids(SecretId=ref)["Versions"]) == 1
    assert "their-value" not in done.stdout + done.stderr
