"""The aws-secrets-manager backend against the REAL moto server (tests/backends/moto.py).

Every test here runs on moto (``moto_server`` on loopback, one per session, or one of the
test's own when it stops it or turns moto's IAM checks on), through boto3, as gitrot runs.
AWS's documented rules moto does not follow are tested on the fake, in
tests/backends/test_aws_contract.py. A plain ``GetSecretValue`` is only used here to show
what an AWS consumer reading ``AWSCURRENT`` sees.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from gitrot.backends.aws import KEEP, AwsSecretsManagerBackend, version_id
from gitrot.backends.base import BackendContext, BackendError, VersionConflict, idempotency_key
from gitrot.core.secret import SecretValue
from tests.backends.moto import (  # noqa: F401 - aws_env_fixture, moto_fixture: fixtures
    REGION,
    Moto,
    aws_env_fixture,
    moto_fixture,
    start_moto,
    unique,
)

NAME = "payments-db"
COMMIT = "c0ffee" * 6 + "c0ff"
CONTEXT = BackendContext(root=".", recipients=(), identities="")


def backend(server: Moto, **options: Any) -> AwsSecretsManagerBackend:
    settings = {"region": REGION, "endpoint_url": server.endpoint} | options
    return AwsSecretsManagerBackend("aws", settings, CONTEXT, clock=lambda: 1_700_000_000)


def client(server: Moto) -> Any:
    return boto3.client("secretsmanager", region_name=REGION, endpoint_url=server.endpoint)


def write(store: AwsSecretsManagerBackend, ref: str, version: int, value: str, name: str = NAME):  # type: ignore[no-untyped-def]
    key = idempotency_key(name, version)
    return store.write(ref, version, SecretValue(value), name=name, commit=COMMIT, key=key)


@pytest.mark.usefixtures("aws_env")
def test_two_rotations_leave_current_and_previous(moto: Moto) -> None:
    """After two rotations AWSCURRENT is version 2's value and AWSPREVIOUS version 1's;
    rerunning both writes adds no version and returns the same records."""
    store, ref, aws = backend(moto), unique(), client(moto)
    assert store.current([ref]) == {}
    assert store.get(ref, 1) is None
    first = write(store, ref, 1, "value-one")
    second = write(store, ref, 2, "value-two")
    assert aws.get_secret_value(SecretId=ref, VersionStage="AWSCURRENT")["SecretString"] == (
        "value-two"
    )
    assert aws.get_secret_value(SecretId=ref, VersionStage="AWSPREVIOUS")["SecretString"] == (
        "value-one"
    )
    stages = aws.describe_secret(SecretId=ref)["VersionIdsToStages"]
    assert stages == {
        first.backend_id: ["gitrot-v1", "AWSPREVIOUS"],
        second.backend_id: ["gitrot-v2", "AWSCURRENT"],
    }
    assert second.backend_id == version_id(idempotency_key(NAME, 2))
    assert (second.version, second.name, second.commit, second.stage) == (
        2,
        NAME,
        COMMIT,
        "current",
    )
    assert second.key == idempotency_key(NAME, 2)
    assert second.written_at == 1_700_000_000
    # a rerun (another value: the reconciler generated a new one) stores nothing
    again = write(store, ref, 2, "another-value")
    assert again == second
    assert write(store, ref, 1, "x").stage == "previous"
    listed = aws.list_secret_version_ids(SecretId=ref, IncludeDeprecated=True)["Versions"]
    assert len(listed) == 2
    assert store.read(ref).reveal() == "value-two"
    assert store.read(ref, 1).reveal() == "value-one"
    assert store.current([ref])[ref] == second
    assert store.get(ref, 1) == first.__class__(**(first.as_dict() | {"stage": "previous"}))
    assert [r.version for r in store.versions(ref)] == [1, 2]
    tags = {t["Key"]: t["Value"] for t in aws.describe_secret(SecretId=ref)["Tags"]}
    assert tags["gitrot:name"] == NAME
    assert tags["gitrot:v2"] == f"{idempotency_key(NAME, 2)} {COMMIT} 1700000000"


@pytest.mark.usefixtures("aws_env")
def test_conflicts_and_refusals(moto: Moto) -> None:
    store, ref = backend(moto), unique()
    write(store, ref, 1, "one")
    write(store, ref, 3, "three")
    with pytest.raises(VersionConflict, match="with another idempotency key"):
        store.write(ref, 3, SecretValue("x"), name=NAME, commit=COMMIT, key="gr1-other")
    with pytest.raises(VersionConflict, match="below version 3"):
        write(store, ref, 2, "two")
    with pytest.raises(VersionConflict, match=r"written for another secret \(payments-db\)"):
        write(store, ref, 4, "four", name="someone-else")
    with pytest.raises(BackendError, match="holds no version 2 of this secret"):
        store.read(ref, 2)
    with pytest.raises(BackendError, match="holds no version of this secret"):
        store.read(unique())
    with pytest.raises(BackendError, match="not a valid secret name"):
        store.get("no spaces allowed", 1)
    for version in (0, True):
        with pytest.raises(BackendError, match="positive integer"):
            store.write(ref, version, SecretValue("x"), name=NAME, commit=COMMIT, key="k")
    with pytest.raises(BackendError, match="idempotency key is empty"):
        store.write(ref, 5, SecretValue("x"), name=NAME, commit=COMMIT, key="")


@pytest.mark.usefixtures("aws_env")
def test_a_secret_made_outside_gitrot_is_adopted_once(moto: Moto) -> None:
    """A secret created by someone else (Terraform, the console) without gitrot's tag is
    adopted by the first write; its existing value stays as an older, unlabelled version."""
    store, ref, aws = backend(moto), unique(), client(moto)
    aws.create_secret(Name=ref, SecretString="made-by-terraform")
    assert store.current([ref]) == {}
    record = write(store, ref, 1, "gitrot-one")
    assert record.stage == "current"
    assert aws.get_secret_value(SecretId=ref, VersionStage="AWSCURRENT")["SecretString"] == (
        "gitrot-one"
    )
    assert aws.get_secret_value(SecretId=ref, VersionStage="AWSPREVIOUS")["SecretString"] == (
        "made-by-terraform"
    )


@pytest.mark.usefixtures("aws_env")
def test_only_the_newest_versions_keep_gitrots_label(moto: Moto) -> None:
    store, ref, aws = backend(moto), unique(), client(moto)
    for version in range(1, KEEP + 3):
        write(store, ref, version, f"value-{version}")
    described = aws.describe_secret(SecretId=ref)
    labels = sorted(
        label for stages in described["VersionIdsToStages"].values() for label in stages
    )
    kept = [f"gitrot-v{v}" for v in range(3, KEEP + 3)]
    assert labels == sorted(["AWSCURRENT", "AWSPREVIOUS", *kept])
    assert sorted(t["Key"] for t in described["Tags"]) == sorted(
        ["gitrot:name", *(f"gitrot:v{v}" for v in range(3, KEEP + 3))]
    )
    assert store.get(ref, 2) is None
    assert store.get(ref, 3) is not None


@pytest.mark.usefixtures("aws_env")
def test_a_write_killed_before_the_move_is_finished_with_its_value(moto: Moto) -> None:
    """A writer killed after PutSecretValue (AWSPENDING) and before AWSCURRENT moved: the
    version is not written (get is None, AWSCURRENT unchanged); the next write of it keeps
    the stored value and moves AWSCURRENT."""
    store, ref, aws = backend(moto), unique(), client(moto)
    write(store, ref, 1, "one")
    token = version_id(idempotency_key(NAME, 2))
    aws.tag_resource(SecretId=ref, Tags=[{"Key": "gitrot:v2", "Value": "junk"}])
    aws.put_secret_value(
        SecretId=ref,
        ClientRequestToken=token,
        SecretString="stored-two",
        VersionStages=["AWSPENDING", "gitrot-v2"],
    )
    assert store.get(ref, 2) is None
    assert store.current([ref])[ref].version == 1
    with pytest.raises(BackendError, match="holds no version 2"):
        store.read(ref, 2)
    record = write(store, ref, 2, "discarded")
    assert record.stage == "current"
    assert store.read(ref).reveal() == "stored-two"
    stages = aws.describe_secret(SecretId=ref)["VersionIdsToStages"]
    assert stages[token] == ["gitrot-v2", "AWSCURRENT"]
    assert record.commit == ""  # the tag was not gitrot's: the record says it does not know


@pytest.mark.usefixtures("aws_env")
def test_a_deleted_secret_is_refused(moto: Moto) -> None:
    store, ref, aws = backend(moto), unique(), client(moto)
    write(store, ref, 1, "one")
    aws.delete_secret(SecretId=ref, RecoveryWindowInDays=7)
    with pytest.raises(BackendError, match="scheduled for deletion") as info:
        write(store, ref, 2, "two")
    assert not info.value.unreachable


@pytest.mark.usefixtures("aws_env")
def test_a_stopped_server_is_unreachable() -> None:
    """A server that stops: one line naming the backend and the endpoint, exit 3."""
    server = start_moto()
    store, ref = backend(server), unique()
    write(store, ref, 1, "the-value-1")
    server.stop()
    with pytest.raises(BackendError) as info:
        store.current([ref])
    error = info.value
    assert error.unreachable
    assert error.exit_code == 3
    assert error.message.startswith(
        f"backend 'aws' (aws-secrets-manager): cannot reach AWS Secrets Manager at "
        f"{server.endpoint} (EndpointConnectionError)"
    )
    assert "\n" not in error.message
    assert ref not in str(error)
    assert "the-value" not in str(error)


@pytest.mark.usefixtures("aws_env")
def test_unknown_credentials_are_refused_by_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto with its IAM checks on knows no access key 'testing': exit 3, one line."""
    server = start_moto(auth=True)
    try:
        store = backend(server)
        with pytest.raises(BackendError) as info:
            store.current([unique()])
    finally:
        server.stop()
    assert info.value.unreachable
    assert "was denied (" in info.value.message
    assert "IAM permissions" in info.value.message


def test_no_credentials_at_all(
    moto: Moto, monkeypatch: pytest.MonkeyPatch, aws_env: dict[str, str]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(BackendError) as info:
        backend(moto).current([unique()])
    assert info.value.unreachable
    assert "found no usable AWS credentials (NoCredentialsError)" in info.value.message


@pytest.mark.usefixtures("aws_env")
def test_an_unknown_region_without_endpoint_never_leaves_the_machine() -> None:
    store = AwsSecretsManagerBackend("aws", {"region": "xx-nowhere-9"}, CONTEXT)
    with pytest.raises(BackendError) as info:
        store.current(["anything"])
    assert info.value.unreachable
    assert "has no region 'xx-nowhere-9'" in info.value.message
