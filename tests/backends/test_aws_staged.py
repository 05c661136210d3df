"""Pending versions (StagedBackend) of the aws-secrets-manager backend.

The rules are checked on the in-tree FAKE of boto3's client (tests/backends/aws_fake.py,
AWS's documented label rules: the first version of a secret gets ``AWSCURRENT``, moving
``AWSCURRENT`` drags ``AWSPREVIOUS``, a label lives on one version), including a kill
before every single API call of a rotation; the same flow runs on the REAL moto server at
the end of the file.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from gitrot.backends.aws import AwsSecretsManagerBackend, version_id
from gitrot.backends.base import BackendContext, BackendError, VersionConflict, idempotency_key
from gitrot.core.ports import ABANDONED, PROMOTED, SET, TESTED, WRITTEN, StagedBackend
from gitrot.core.secret import SecretValue
from tests.backends.aws_fake import FakeSecretsManager
from tests.backends.moto import (  # noqa: F401 - aws_env_fixture, moto_fixture: fixtures
    REGION,
    Moto,
    aws_env_fixture,
    moto_fixture,
    unique,
)

NAME = "payments-db"
REF = "prod/payments/db"
COMMIT = "ab" * 20
CONTEXT = BackendContext(root=".", recipients=(), identities="")
SECRET = "s3cr3t-pending-never-shown"  # gitrot: allow a made-up value the tests look for


class Killed(BaseException):
    """The reconciler's process died here (no except clause of the backend catches it)."""


@pytest.fixture
def fake() -> FakeSecretsManager:
    return FakeSecretsManager()


def backend(client: Any, **options: Any) -> AwsSecretsManagerBackend:
    settings = {"region": REGION} | options
    return AwsSecretsManagerBackend("aws", settings, CONTEXT, client=client, clock=lambda: 42.0)


def key(version: int, name: str = NAME) -> str:
    return idempotency_key(name, version)


def pending(store: AwsSecretsManagerBackend, version: int, value: str, ref: str = REF) -> Any:
    return store.write_pending(
        ref, version, SecretValue(value), name=NAME, commit=COMMIT, key=key(version)
    )


def write(store: AwsSecretsManagerBackend, version: int, value: str, ref: str = REF) -> Any:
    return store.write(ref, version, SecretValue(value), name=NAME, commit=COMMIT, key=key(version))


def rotate(store: AwsSecretsManagerBackend, version: int, value: str, ref: str = REF) -> Any:
    """What the reconciler does for one rotation at the source, resuming at the step the
    backend recorded: write_pending, mark set, mark tested, promote."""
    record = pending(store, version, value, ref)
    if record.stage == "pending":
        for step in (SET, TESTED)[(WRITTEN, SET, TESTED).index(record.step) :]:
            store.mark(ref, version, step, key=key(version))
    return store.promote(ref, version, key=key(version))


def test_the_backend_is_staged_and_a_pending_value_is_not_what_readers_see(
    fake: FakeSecretsManager,
) -> None:
    store = backend(fake)
    assert isinstance(store, StagedBackend)
    write(store, 1, "one")
    record = pending(store, 2, SECRET)
    assert (record.stage, record.step, record.version) == ("pending", WRITTEN, 2)
    assert record.backend_id == version_id(key(2))
    assert (record.key, record.commit, record.written_at) == (key(2), COMMIT, 42)
    assert fake.value(REF) == "one"  # a consumer reading AWSCURRENT
    assert fake.value(REF, "AWSPENDING") == SECRET
    assert store.read(REF).reveal() == "one"
    assert store.read(REF, 2).reveal() == SECRET
    assert store.current([REF])[REF] == record
    assert store.get(REF, 2) == record
    assert [(r.version, r.stage) for r in store.versions(REF)] == [(1, "current"), (2, "pending")]
    assert fake.secrets[REF].tags["gitrot:v2"] == f"{key(2)} {COMMIT} 42 written"
    assert fake.secrets[REF].tags["gitrot:v1"] == f"{key(1)} {COMMIT} 42"  # write(): as before


def test_write_pending_is_idempotent_on_its_key(fake: FakeSecretsManager) -> None:
    store = backend(fake)
    write(store, 1, "one")
    first = pending(store, 2, SECRET)
    puts = fake.calls.count("PutSecretValue")
    assert pending(store, 2, "another-generated-value") == first
    assert fake.calls.count("PutSecretValue") == puts  # nothing stored again
    assert store.read(REF, 2).reveal() == SECRET
    with pytest.raises(VersionConflict, match="another idempotency key") as info:
        store.write_pending(REF, 2, SecretValue(SECRET), name=NAME, commit=COMMIT, key="gr1-x")
    assert SECRET not in info.value.message
    assert pending(store, 1, "x").stage == "current"  # the stored version 1, nothing new
    fake.secrets[REF].stages[first.backend_id].remove("gitrot-v2")  # v1 stays, v2 gone
    pending(store, 3, "three")
    with pytest.raises(VersionConflict, match="below version 3"):
        pending(store, 2, "x")
    with pytest.raises(BackendError, match="positive integer"):
        store.write_pending(REF, 0, SecretValue("x"), name=NAME, commit=COMMIT, key=key(0))
    with pytest.raises(BackendError, match="key is empty"):
        store.write_pending(REF, 3, SecretValue("x"), name=NAME, commit=COMMIT, key="")


def test_mark_never_goes_back(fake: FakeSecretsManager) -> None:
    store = backend(fake)
    write(store, 1, "one")
    pending(store, 2, SECRET)
    assert store.mark(REF, 2, SET, key=key(2)).step == SET
    assert store.mark(REF, 2, TESTED, key=key(2)).step == TESTED
    tags = fake.calls.count("TagResource")
    assert store.mark(REF, 2, SET, key=key(2)).step == TESTED
    assert store.mark(REF, 2, WRITTEN, key=key(2)).step == TESTED
    assert fake.calls.count("TagResource") == tags  # nothing written
    assert fake.secrets[REF].tags["gitrot:v2"].endswith(" tested")
    with pytest.raises(BackendError, match="marked set, tested, abandoned, not 'promoted'"):
        store.mark(REF, 2, PROMOTED, key=key(2))
    with pytest.raises(VersionConflict, match="another idempotency key"):
        store.mark(REF, 2, SET, key=key(2, "other"))
    with pytest.raises(BackendError, match="version 1 is current, not pending"):
        store.mark(REF, 1, SET, key=key(1))
    with pytest.raises(BackendError, match="holds no version 3"):
        store.mark(REF, 3, SET, key=key(3))
    with pytest.raises(BackendError, match="holds no version 1"):
        store.mark("prod/nothing", 1, SET, key=key(1))
    assert fake.value(REF) == "one"


def test_promote_moves_current_to_previous_once(fake: FakeSecretsManager) -> None:
    store = backend(fake)
    write(store, 1, "one")
    pending(store, 2, SECRET)
    store.mark(REF, 2, TESTED, key=key(2))
    fake.calls.clear()
    record = store.promote(REF, 2, key=key(2))
    assert (record.stage, record.step) == ("current", PROMOTED)
    assert fake.calls.count("UpdateSecretVersionStage") == 2  # AWSCURRENT moved, AWSPENDING off
    assert fake.value(REF) == SECRET
    assert fake.value(REF, "AWSPREVIOUS") == "one"
    assert fake.secrets[REF].holder("AWSPENDING") is None
    assert fake.secrets[REF].tags["gitrot:v2"] == f"{key(2)} {COMMIT} 42 promoted"
    one = store.get(REF, 1)
    assert one is not None and (one.stage, one.step) == ("previous", PROMOTED)
    fake.calls.clear()
    assert store.promote(REF, 2, key=key(2)) == record  # idempotent, nothing sent
    assert fake.calls == ["DescribeSecret"]
    assert store.read(REF).reveal() == SECRET
    write(store, 3, "three")
    assert store.promote(REF, 2, key=key(2)).stage == "previous"
    with pytest.raises(VersionConflict):
        store.promote(REF, 2, key=key(2, "other"))
    with pytest.raises(BackendError, match="holds no version 4"):
        store.promote(REF, 4, key=key(4))


def test_a_pending_version_abandoned_by_a_newer_one(fake: FakeSecretsManager) -> None:
    store = backend(fake)
    write(store, 1, "one")
    pending(store, 2, "two-failed-its-test")
    store.mark(REF, 2, SET, key=key(2))
    assert store.mark(REF, 2, ABANDONED, key=key(2)).step == ABANDONED
    assert store.mark(REF, 2, TESTED, key=key(2)).step == ABANDONED  # final
    three = pending(store, 3, SECRET)
    assert (three.stage, three.step) == ("pending", WRITTEN)
    two = store.get(REF, 2)
    assert two is not None and (two.stage, two.step) == ("pending", ABANDONED)
    assert fake.secrets[REF].holder("AWSPENDING") == three.backend_id
    with pytest.raises(BackendError, match=r"version 2 .* was abandoned") as info:
        store.promote(REF, 2, key=key(2))
    assert "two-failed-its-test" not in info.value.message
    assert rotate(store, 3, "x").stage == "current"
    assert fake.value(REF) == SECRET
    assert fake.value(REF, "AWSPREVIOUS") == "one"
    # a newer pending version abandons an older one nobody marked: it never looks promoted
    pending(store, 4, "four")
    pending(store, 5, "five")
    four = store.get(REF, 4)
    assert four is not None and (four.stage, four.step) == ("pending", ABANDONED)
    # and so does a write without a rotator; an abandoned version is never written again
    write(store, 6, "six")
    five = store.get(REF, 5)
    assert five is not None and (five.stage, five.step) == ("pending", ABANDONED)
    with pytest.raises(BackendError, match="abandoned while pending"):
        write(store, 5, "five")
    assert store.current([REF])[REF].version == 6


def test_the_first_version_of_a_secret_is_awscurrent_yet_pending(
    fake: FakeSecretsManager,
) -> None:
    """AWS gives the first version of a secret AWSCURRENT whatever the request says: gitrot
    still reports it pending (no version was promoted) until its rotation completes."""
    store = backend(fake)
    record = pending(store, 1, SECRET)
    assert (record.stage, record.step) == ("pending", WRITTEN)
    with pytest.raises(BackendError, match="holds no promoted version") as info:
        store.read(REF)
    assert SECRET not in info.value.message
    with pytest.raises(BackendError, match="holds no version of this secret"):
        store.read("prod/nothing")
    done = rotate(store, 1, "discarded")
    assert (done.stage, done.step) == ("current", PROMOTED)
    assert fake.labels(REF)[record.backend_id] == ["gitrot-v1", "AWSCURRENT"]
    assert store.read(REF).reveal() == SECRET


def test_a_killed_write_is_taken_over_by_write_pending(fake: FakeSecretsManager) -> None:
    """A write() killed after its put left version 2 AWSPENDING without a step (not
    written); the same version written as pending keeps the stored value."""
    store = backend(fake)
    write(store, 1, "one")
    fake.fail["UpdateSecretVersionStage"] = "ThrottlingException"
    with pytest.raises(BackendError):
        write(store, 2, SECRET)
    assert store.get(REF, 2) is None
    record = pending(store, 2, "discarded")
    assert (record.stage, record.step) == ("pending", WRITTEN)
    assert store.read(REF, 2).reveal() == SECRET
    fake.secrets[REF].tags["gitrot:v2"] += " garbled"  # a fifth field: unreadable tag
    assert store.get(REF, 2) is None  # AWSPENDING without a step: a killed write again
    assert pending(store, 3, "three").stage == "pending"
    assert "gitrot-v2" not in fake.labels(REF)[version_id(key(2))]  # never looks written
    assert [r.version for r in store.versions(REF)] == [1, 3]


def test_a_version_id_taken_by_a_version_without_gitrots_label(
    fake: FakeSecretsManager,
) -> None:
    store = backend(fake)
    write(store, 1, "one")
    token = version_id(key(2))
    fake.put_secret_value(
        SecretId=REF, ClientRequestToken=token, SecretString=SECRET, VersionStages=["other"]
    )
    with pytest.raises(BackendError, match="in use by a version without gitrot's label") as info:
        pending(store, 2, SECRET)
    assert SECRET not in info.value.message
    assert fake.value(REF) == "one"


def count_calls(fake: FakeSecretsManager) -> int:
    store = backend(fake)
    write(store, 1, "one")
    before = len(fake.calls)
    rotate(store, 2, SECRET)
    return len(fake.calls) - before


@pytest.mark.parametrize("kill", range(count_calls(FakeSecretsManager())))
def test_a_rotation_killed_before_any_call_resumes_with_the_same_value(kill: int) -> None:
    """Kill the run before its ``kill``-th API call; a new run (another generated value)
    resumes: once the value was put, that value is the one promoted, and until promotion
    AWSCURRENT is the old value."""
    fake = FakeSecretsManager()
    store = backend(fake)
    write(store, 1, "one")
    enter, made = fake._enter, []

    def dying(operation: str) -> None:
        if len(made) == kill:
            raise Killed
        made.append(operation)
        enter(operation)

    fake._enter = dying  # type: ignore[method-assign]
    with pytest.raises(Killed):
        rotate(store, 2, SECRET)
    fake._enter = enter  # type: ignore[method-assign]
    if "UpdateSecretVersionStage" not in made:  # killed before promote's first move
        assert fake.value(REF) == "one"
        assert store.read(REF).reveal() == "one"
    record = rotate(store, 2, "second-run-value")
    assert (record.stage, record.step) == ("current", PROMOTED)
    assert fake.value(REF) == (SECRET if "PutSecretValue" in made else "second-run-value")
    assert fake.value(REF, "AWSPREVIOUS") == "one"
    assert fake.secrets[REF].holder("AWSPENDING") is None
    assert fake.secrets[REF].tags["gitrot:v2"].endswith(" promoted")


# --- the real moto server ------------------------------------------------------------------


@pytest.mark.usefixtures("aws_env")
def test_a_rotation_at_the_source_on_moto(moto: Moto) -> None:
    aws = boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto.endpoint)
    ref = unique()
    store = backend(None, endpoint_url=moto.endpoint)

    def consumer() -> str:  # (moto needs the stage named for a first version put as pending)
        answer = aws.get_secret_value(SecretId=ref, VersionStage="AWSCURRENT")
        return answer["SecretString"]  # type: ignore[no-any-return]

    first = pending(store, 1, "first", ref)
    assert (first.stage, first.step) == ("pending", WRITTEN)
    assert rotate(store, 1, "x", ref).stage == "current"
    two = pending(store, 2, SECRET, ref)
    assert two.stage == "pending"
    assert consumer() == "first"
    assert store.read(ref).reveal() == "first"
    assert store.read(ref, 2).reveal() == SECRET
    assert store.mark(ref, 2, TESTED, key=key(2)).step == TESTED
    assert store.mark(ref, 2, SET, key=key(2)).step == TESTED
    assert consumer() == "first"
    promoted = store.promote(ref, 2, key=key(2))
    assert (promoted.stage, promoted.step) == ("current", PROMOTED)
    assert store.promote(ref, 2, key=key(2)) == promoted
    assert consumer() == SECRET
    stages = aws.describe_secret(SecretId=ref)["VersionIdsToStages"]
    assert stages == {
        first.backend_id: ["gitrot-v1", "AWSPREVIOUS"],
        two.backend_id: ["gitrot-v2", "AWSCURRENT"],
    }
    pending(store, 3, "three-abandoned", ref)
    store.mark(ref, 3, ABANDONED, key=key(3))
    four = rotate(store, 4, "four", ref)
    assert consumer() == "four"
    three = store.get(ref, 3)
    assert three is not None and (three.stage, three.step) == ("pending", ABANDONED)
    assert store.current([ref])[ref] == four
