"""Contract tests of the aws-secrets-manager backend on the FAKE client (aws_fake.py).

Every test here runs on :class:`tests.backends.aws_fake.FakeSecretsManager`, an in-memory
double of boto3's client that follows AWS's documented rules where moto does not, or where
moto cannot be made to fail on cue: a reused ClientRequestToken with another value
(ResourceExistsException), writers racing between two calls, AWS's quotas (20 labels,
50 tags), AccessDeniedException on one operation, a connection lost mid-write, throttling,
botocore's own errors. The same behaviour on the real moto server is in test_aws.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    CredentialRetrievalError,
    ParamValidationError,
    PartialCredentialsError,
)

from gitrot.backends.aws import (
    KEEP,
    AwsSecretsManagerBackend,
    check_options,
    version_id,
)
from gitrot.backends.base import BackendContext, BackendError, VersionConflict, idempotency_key
from gitrot.core.secret import SecretValue
from gitrot.triggers.options import OptionError
from tests.backends.aws_fake import MAX_LABELS, FakeSecretsManager, error
from tests.backends.moto import aws_env_fixture  # noqa: F401 - a fixture

NAME = "payments-db"
REF = "prod/payments/db"
COMMIT = "ab" * 20
CONTEXT = BackendContext(root=".", recipients=(), identities="")
SECRET = "s3cr3t-value-never-shown"  # gitrot: allow a made-up value the tests look for


@pytest.fixture
def fake() -> FakeSecretsManager:
    return FakeSecretsManager()


def backend(fake: FakeSecretsManager) -> AwsSecretsManagerBackend:
    options = {"region": "eu-west-1"}
    return AwsSecretsManagerBackend("aws", options, CONTEXT, client=fake, clock=lambda: 42.0)


def write(store: AwsSecretsManagerBackend, version: int, value: str = SECRET, **kw: Any) -> Any:
    name = kw.pop("name", NAME)
    key = kw.pop("key", idempotency_key(name, version))
    return store.write(REF, version, SecretValue(value), name=name, commit=COMMIT, key=key)


def test_a_reused_token_with_another_value_fails_and_a_retry_is_a_no_op(
    fake: FakeSecretsManager,
) -> None:
    """AWS: the same token and value is ignored, another value is ResourceExistsException.
    A writer of the same version whose put loses that race keeps the winner's value."""
    store = backend(fake)
    write(store, 1, "one")
    token = version_id(idempotency_key(NAME, 2))
    put = fake.put_secret_value

    def raced(**kw: Any) -> dict[str, Any]:  # another reconciler put version 2 just before
        put(**(kw | {"SecretString": "the-winner"}))
        return put(**kw)

    fake.put_secret_value = raced  # type: ignore[method-assign]
    record = write(store, 2, "the-loser")
    assert record.backend_id == token
    assert fake.value(REF) == "the-winner"
    assert fake.value(REF, "AWSPREVIOUS") == "one"
    fake.put_secret_value = put  # type: ignore[method-assign]
    same = put(SecretId=REF, ClientRequestToken=token, SecretString="the-winner")
    assert same["VersionStages"] == ["gitrot-v2", "AWSCURRENT"]
    with pytest.raises(Exception, match="ResourceExistsException"):
        put(SecretId=REF, ClientRequestToken=token, SecretString="x")


def test_thirty_rotations_stay_inside_awss_quotas(fake: FakeSecretsManager) -> None:
    """AWS allows 20 labels across a secret's versions and 50 tags: gitrot keeps its label
    and tag on the newest KEEP versions (the fake raises LimitExceededException beyond)."""
    store = backend(fake)
    for version in range(1, 31):
        write(store, version, f"v{version}")
    labels = [label for stages in fake.labels(REF).values() for label in stages]
    assert len(labels) == KEEP + 2 <= MAX_LABELS
    assert len(fake.secrets[REF].tags) == KEEP + 1
    assert fake.value(REF) == "v30"
    assert fake.value(REF, "AWSPREVIOUS") == "v29"
    assert [r.version for r in store.versions(REF)] == list(range(31 - KEEP, 31))


def test_a_concurrent_writer_moved_awscurrent_first(fake: FakeSecretsManager) -> None:
    """Two writers of one version: the second's UpdateSecretVersionStage names a version
    that no longer holds AWSCURRENT (InvalidParameterException): the label is where it
    should be, so the write succeeds; had it gone elsewhere, the write fails."""
    store = backend(fake)
    write(store, 1, "one")
    update = fake.update_secret_version_stage
    token = version_id(idempotency_key(NAME, 2))

    def first_mover(**kw: Any) -> dict[str, Any]:
        if kw["VersionStage"] == "AWSCURRENT":
            update(**kw)  # the other writer
        return update(**kw)

    fake.update_secret_version_stage = first_mover  # type: ignore[method-assign]
    assert write(store, 2).stage == "current"
    assert fake.labels(REF)[token] == ["gitrot-v2", "AWSCURRENT"]

    def elsewhere(**kw: Any) -> dict[str, Any]:
        raise error("InvalidParameterException", "UpdateSecretVersionStage")

    fake.update_secret_version_stage = elsewhere  # type: ignore[method-assign]
    with pytest.raises(BackendError, match=r"AWS refused UpdateSecretVersionStage \(Invalid"):
        write(store, 3)
    assert store.current([REF])[REF].version == 2  # version 3 waits, AWSPENDING


def test_access_denied_on_put_is_exit_3_and_a_run_after_the_fix_finishes(
    fake: FakeSecretsManager,
) -> None:
    store = backend(fake)
    write(store, 1, "one")
    fake.deny = {"PutSecretValue"}
    with pytest.raises(BackendError) as info:
        write(store, 2)
    error_ = info.value
    assert (error_.unreachable, error_.exit_code) == (True, 3)
    assert error_.message == (
        "backend 'aws' (aws-secrets-manager): PutSecretValue was denied "
        "(AccessDeniedException); check the credentials boto3 finds and grant the IAM "
        "permissions listed in docs/backends.md"
    )
    assert store.current([REF])[REF].version == 1  # nothing half-applied
    assert fake.value(REF) == "one"
    fake.deny = set()
    assert write(store, 2).stage == "current"
    assert fake.value(REF) == SECRET


def test_a_connection_lost_mid_write_then_restored(fake: FakeSecretsManager) -> None:
    """The put lands, then the network goes: the version waits as AWSPENDING, readers see
    the old value; the next run finishes the move with the stored value."""
    store = backend(fake)
    write(store, 1, "one")
    put = fake.put_secret_value

    def then_down(**kw: Any) -> dict[str, Any]:
        answer = put(**kw)
        fake.down = True
        return answer

    fake.put_secret_value = then_down  # type: ignore[method-assign]
    with pytest.raises(BackendError) as info:
        write(store, 2, "stored-two")
    assert info.value.unreachable
    assert "cannot reach AWS Secrets Manager at region eu-west-1" in info.value.message
    fake.down = False
    fake.put_secret_value = put  # type: ignore[method-assign]
    assert fake.value(REF) == "one"
    assert store.get(REF, 2) is None
    assert write(store, 2, "discarded").stage == "current"
    assert fake.value(REF) == "stored-two"


def test_an_abandoned_pending_version_never_looks_written(fake: FakeSecretsManager) -> None:
    """Version 2 killed while AWSPENDING, then the intent bumped to 3: writing 3 drops
    version 2's label first, so it does not become a written version once AWSPENDING moves."""
    store = backend(fake)
    write(store, 1, "one")
    fake.fail["UpdateSecretVersionStage"] = "ThrottlingException"
    with pytest.raises(BackendError, match="is unavailable \\(ThrottlingException"):
        write(store, 2)
    write(store, 3, "three")
    assert store.get(REF, 2) is None
    assert [r.version for r in store.versions(REF)] == [1, 3]
    assert fake.value(REF) == "three"


@pytest.mark.parametrize(
    ("raised", "text"),
    [
        (PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), "no usable"),
        (CredentialRetrievalError(provider="sso", error_msg=SECRET), "could not fetch"),
        (ParamValidationError(report=f"Invalid type for SecretString, value: {SECRET}"), ""),
    ],
)
def test_botocores_own_errors_are_one_line_without_their_text(
    fake: FakeSecretsManager, raised: Exception, text: str
) -> None:
    def broken(**kw: Any) -> dict[str, Any]:
        raise raised

    fake.describe_secret = broken  # type: ignore[method-assign]
    with pytest.raises(BackendError) as info:
        backend(fake).current([REF])
    message = info.value.message
    assert SECRET not in message
    assert REF not in message
    assert text in message
    assert info.value.unreachable == bool(text)
    if not text:
        assert message == (
            "backend 'aws' (aws-secrets-manager): DescribeSecret failed (ParamValidationError)"
        )


def test_refusals_that_are_not_outages(fake: FakeSecretsManager) -> None:
    store = backend(fake)
    write(store, 1)
    fake.fail["GetSecretValue"] = "DecryptionFailure"
    with pytest.raises(BackendError) as info:
        store.read(REF)
    assert not info.value.unreachable
    assert info.value.message == (
        "backend 'aws' (aws-secrets-manager): AWS refused GetSecretValue (DecryptionFailure); "
        "see the secret in the AWS console or CloudTrail"
    )

    def binary(**kw: Any) -> dict[str, Any]:
        return {"VersionId": kw["VersionId"], "SecretBinary": b"\x00"}

    fake.get_secret_value = binary  # type: ignore[method-assign]
    with pytest.raises(BackendError, match="holds no SecretString"):
        store.read(REF, 1)


def test_locations_of_other_secrets_and_records_gitrot_cannot_prove(
    fake: FakeSecretsManager,
) -> None:
    store = backend(fake)
    write(store, 1)
    del fake.secrets[REF].tags["gitrot:name"]  # someone removed the owner tag
    record = store.get(REF, 1)
    assert record is not None
    assert (record.name, record.key) == ("", idempotency_key(NAME, 1))  # the tag proves it
    with pytest.raises(VersionConflict, match=r"another secret \(unknown\)"):
        write(store, 2)
    fake.secrets[REF].tags["gitrot:name"] = NAME
    fake.secrets[REF].tags["gitrot:v1"] = "garbled"
    assert store.get(REF, 1).commit == ""  # type: ignore[union-attr]
    with pytest.raises(VersionConflict, match="another idempotency key"):
        write(store, 1, key="gr1-someone-else")


def test_races_on_create_and_a_secret_that_vanishes(fake: FakeSecretsManager) -> None:
    store = backend(fake)
    create = fake.create_secret

    def raced(**kw: Any) -> dict[str, Any]:
        create(**kw)  # another reconciler created it first
        return create(**kw)

    fake.create_secret = raced  # type: ignore[method-assign]
    assert write(store, 1).stage == "current"
    describe = fake.describe_secret
    seen = []

    def vanishing(**kw: Any) -> dict[str, Any]:
        seen.append(1)
        if len(seen) > 1:
            fake.secrets.clear()
        return describe(**kw)

    fake.describe_secret = vanishing  # type: ignore[method-assign]
    with pytest.raises(BackendError, match="disappeared while gitrot wrote it"):
        write(store, 2)


def test_a_version_id_taken_by_a_version_without_gitrots_label(
    fake: FakeSecretsManager,
) -> None:
    store = backend(fake)
    write(store, 1)
    token = version_id(idempotency_key(NAME, 2))
    fake.put_secret_value(
        SecretId=REF, ClientRequestToken=token, SecretString="x", VersionStages=["other"]
    )
    with pytest.raises(BackendError, match="in use by a version without gitrot's label"):
        write(store, 2)


def test_a_secret_without_owner_nor_versions_is_adopted(fake: FakeSecretsManager) -> None:
    fake.create_secret(Name=REF)
    store = backend(fake)
    assert store.versions(REF) == []
    assert store.versions("prod/nothing-here") == []
    assert write(store, 1).name == NAME
    assert fake.secrets[REF].tags["gitrot:name"] == NAME


def test_a_secret_whose_awscurrent_was_removed_gets_it_back(fake: FakeSecretsManager) -> None:
    """A pending version and no AWSCURRENT anywhere: the move names no version to leave."""
    store = backend(fake)
    write(store, 1)
    token = version_id(idempotency_key(NAME, 2))
    stages = ["AWSPENDING", "gitrot-v2"]
    fake.put_secret_value(
        SecretId=REF, ClientRequestToken=token, SecretString="two", VersionStages=stages
    )
    fake.secrets[REF].stages[version_id(idempotency_key(NAME, 1))].remove("AWSCURRENT")
    assert write(store, 2, "discarded").stage == "current"
    assert fake.value(REF) == "two"


@pytest.mark.parametrize(
    ("options", "message", "option"),
    [
        ({"region": "eu-west-1", "url": "x"}, "unknown option 'url' for type", "url"),
        (
            {"region": "eu-west-1", "aws_secret_access_key": SECRET},
            "option 'aws_secret_access_key' is not accepted: credentials never go",
            "aws_secret_access_key",
        ),
        ({}, "region must be an AWS region like eu-west-1, got nothing", ""),
        ({"region": "Europe"}, "got 'Europe'", "region"),
        ({"region": "eu-west-1", "endpoint_url": "ftp://x"}, "endpoint_url must be", ""),
        (
            {"region": "eu-west-1", "endpoint_url": f"https://me:{SECRET}@host"},
            "endpoint_url must be",
            "",
        ),
    ],
)
def test_options_are_checked_without_repeating_values(
    options: dict[str, object], message: str, option: str
) -> None:
    with pytest.raises(OptionError) as info:
        check_options("aws", options)
    assert message in info.value.message
    assert SECRET not in info.value.message + info.value.hint
    if option:
        assert info.value.option == option


@pytest.mark.usefixtures("aws_env")
def test_a_real_client_for_awss_own_endpoint_is_made_offline() -> None:
    """No endpoint_url: boto3's endpoint for a known region; nothing is sent."""
    store = AwsSecretsManagerBackend("aws", {"region": "eu-west-1"}, CONTEXT)
    client = store._open()  # the client boto3 makes, never used
    assert client.meta.endpoint_url == "https://secretsmanager.eu-west-1.amazonaws.com"
    assert client.meta.config.retries["total_max_attempts"] == 2
    assert store._open() is client  # made once
    store.close()
