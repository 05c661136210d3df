"""Pending versions (StagedBackend) of the gcp-secret-manager backend, on the in-tree FAKE
Secret Manager (tests/backends/gcp_fake.py: ``latest`` is the most recently created
version, whatever its state). The pending value is a version of the sibling secret
``gitrot-pending-<ref>`` until promotion, so ``versions/latest`` of the ref never serves it;
a rotation killed before any API call resumes with the same value."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gitrot.backends.gcp import PENDING_PREFIX, GcpSecretManagerBackend
from gitrot.core.ports import (
    ABANDONED,
    PROMOTED,
    SET,
    TESTED,
    WRITTEN,
    AppliedVersion,
    BackendError,
    StagedBackend,
    VersionConflict,
    idempotency_key,
)
from gitrot.core.secret import SecretValue
from tests.backends.gcp_fake import PROJECT, FakeServer, fresh, serve
from tests.backends.helpers import COMMIT, NAME

REF = "payments-db"
SIBLING = PENDING_PREFIX + REF
SECRET = "s3cr3t-pending-never-shown"  # gitrot: allow a made-up value the tests look for


class Killed(BaseException):
    """The reconciler's process died here (no except clause of the backend catches it)."""


@pytest.fixture(scope="module")
def gcp_server() -> Iterator[FakeServer]:
    yield from serve()


@pytest.fixture
def gcp(gcp_server: FakeServer) -> FakeServer:
    return fresh(gcp_server)


def backend(server: FakeServer) -> GcpSecretManagerBackend:
    options = {"project": PROJECT, "endpoint": server.endpoint}
    return GcpSecretManagerBackend("gcp", options, clock=lambda: 1_700_000_000, lease=0.3)


def key(version: int, name: str = NAME) -> str:
    return idempotency_key(name, version)


def pending(store: GcpSecretManagerBackend, version: int, value: str) -> AppliedVersion:
    return store.write_pending(
        REF, version, SecretValue(value), name=NAME, commit=COMMIT, key=key(version)
    )


def write(store: GcpSecretManagerBackend, version: int, value: str) -> AppliedVersion:
    return store.write(REF, version, SecretValue(value), name=NAME, commit=COMMIT, key=key(version))


def rotate(store: GcpSecretManagerBackend, version: int, value: str) -> AppliedVersion:
    """The reconciler's rotation at the source, resuming at the step the backend recorded."""
    record = pending(store, version, value)
    if record.stage == "pending":
        for step in (SET, TESTED)[(WRITTEN, SET, TESTED).index(record.step) :]:
            store.mark(REF, version, step, key=key(version))
    return store.promote(REF, version, key=key(version))


def annotations(server: FakeServer, secret: str) -> dict[str, str]:
    known = (PROJECT, secret) in server.fake.secrets
    return server.fake.annotations(PROJECT, secret) if known else {}


def latest(server: FakeServer, secret: str = REF) -> str:
    """What a consumer reading ``versions/latest`` gets."""
    states = server.fake.states(PROJECT, secret)
    data = server.fake.data(PROJECT, secret, max(states))
    return (data or b"").decode()


def test_a_pending_value_is_never_latest(gcp: FakeServer) -> None:
    store = backend(gcp)
    assert isinstance(store, StagedBackend)
    write(store, 1, "one")
    record = pending(store, 2, SECRET)
    assert (record.stage, record.step, record.version) == ("pending", WRITTEN, 2)
    assert (record.backend_id, record.key) == (f"{SIBLING}/1", key(2))
    assert latest(gcp) == "one"
    assert list(gcp.fake.states(PROJECT, REF)) == [1]
    assert gcp.fake.annotations(PROJECT, SIBLING)["gitrot-v2"].endswith(f"|written|{NAME}")
    assert store.read(REF).reveal() == "one"
    assert store.read(REF, 2).reveal() == SECRET
    assert store.current([REF])[REF] == record
    assert store.get(REF, 2) == record
    assert store.get(REF, 3) is None
    # idempotent on the key: the stored value stays, no version is added
    assert pending(store, 2, "another-generated-value") == record
    assert list(gcp.fake.states(PROJECT, SIBLING)) == [1]
    with pytest.raises(VersionConflict, match="another idempotency key") as info:
        store.write_pending(REF, 2, SecretValue(SECRET), name=NAME, commit=COMMIT, key="gr1-x")
    assert SECRET not in info.value.message
    assert pending(store, 1, "x").stage == "current"  # promoted already: its record
    pending(store, 3, "three")
    with pytest.raises(VersionConflict, match="below version 3"):
        pending(store, 2, SECRET)
    with pytest.raises(BackendError, match="positive integer"):
        store.write_pending(REF, 0, SecretValue("x"), name=NAME, commit=COMMIT, key="k")
    with pytest.raises(BackendError, match="key or commit is invalid"):
        store.write_pending(REF, 4, SecretValue("x"), name=NAME, commit=COMMIT, key="a|b")


def test_the_first_version_is_invisible_until_promoted(gcp: FakeServer) -> None:
    store = backend(gcp)
    pending(store, 1, SECRET)
    assert gcp.fake.states(PROJECT, REF) == {}  # the ref's secret has no version yet
    with pytest.raises(BackendError, match="holds no version of this secret") as info:
        store.read(REF)
    assert SECRET not in info.value.message
    done = rotate(store, 1, "discarded")
    assert (done.stage, done.step, done.backend_id) == ("current", PROMOTED, "1")
    assert latest(gcp) == SECRET


def test_mark_never_goes_back(gcp: FakeServer) -> None:
    store = backend(gcp)
    write(store, 1, "one")
    pending(store, 2, SECRET)
    assert store.mark(REF, 2, SET, key=key(2)).step == SET
    assert store.mark(REF, 2, TESTED, key=key(2)).step == TESTED
    assert store.mark(REF, 2, SET, key=key(2)).step == TESTED
    assert store.mark(REF, 2, WRITTEN, key=key(2)).step == TESTED
    assert store.get(REF, 2).step == TESTED  # type: ignore[union-attr]
    with pytest.raises(BackendError, match="marked set, tested, abandoned, not 'promoted'"):
        store.mark(REF, 2, PROMOTED, key=key(2))
    with pytest.raises(VersionConflict, match="another idempotency key"):
        store.mark(REF, 2, SET, key=key(2, "other"))
    with pytest.raises(BackendError, match="version 1 is current, not pending"):
        store.mark(REF, 1, SET, key=key(1))
    with pytest.raises(BackendError, match="holds no version 3"):
        store.mark(REF, 3, SET, key=key(3))
    with pytest.raises(BackendError, match="holds no version 1"):
        backend(gcp).mark("elsewhere", 1, SET, key=key(1))
    assert latest(gcp) == "one"


def test_promote_moves_current_to_previous_and_destroys_the_pending_value(
    gcp: FakeServer,
) -> None:
    store = backend(gcp)
    write(store, 1, "one")
    pending(store, 2, SECRET)
    store.mark(REF, 2, TESTED, key=key(2))
    record = store.promote(REF, 2, key=key(2))
    assert (record.stage, record.step, record.backend_id) == ("current", PROMOTED, "2")
    assert latest(gcp) == SECRET
    one = store.get(REF, 1)
    assert one is not None and (one.stage, one.step) == ("previous", PROMOTED)
    assert gcp.fake.states(PROJECT, SIBLING) == {1: "DESTROYED"}
    assert "gitrot-v2" not in gcp.fake.annotations(PROJECT, SIBLING)
    assert store.promote(REF, 2, key=key(2)) == record  # idempotent
    assert list(gcp.fake.states(PROJECT, REF)) == [1, 2]
    assert store.current([REF])[REF] == record
    with pytest.raises(VersionConflict):
        store.promote(REF, 2, key=key(2, "other"))
    with pytest.raises(BackendError, match="holds no version 3"):
        store.promote(REF, 3, key=key(3))


def test_a_pending_version_abandoned_by_a_newer_one(gcp: FakeServer) -> None:
    store = backend(gcp)
    write(store, 1, "one")
    pending(store, 2, "two-failed-its-test")
    assert store.mark(REF, 2, ABANDONED, key=key(2)).step == ABANDONED
    assert store.mark(REF, 2, TESTED, key=key(2)).step == ABANDONED  # final
    three = pending(store, 3, SECRET)
    assert (three.stage, three.step) == ("pending", WRITTEN)
    two = store.get(REF, 2)
    assert two is not None and (two.stage, two.step) == ("pending", ABANDONED)
    with pytest.raises(BackendError, match="version 2 in backend 'gcp' was abandoned") as info:
        store.promote(REF, 2, key=key(2))
    assert "two-failed-its-test" not in info.value.message
    assert rotate(store, 3, "x").stage == "current"
    assert latest(gcp) == SECRET
    assert store.get(REF, 2) is None  # its record dropped and its value destroyed
    assert set(gcp.fake.states(PROJECT, SIBLING).values()) == {"DESTROYED"}
    # a newer pending version abandons an older one nobody marked; so does a write
    pending(store, 4, "four")
    pending(store, 5, "five")
    assert store.mark(REF, 4, SET, key=key(4)).step == ABANDONED
    write(store, 6, "six")
    five = store.get(REF, 5)
    assert five is not None and (five.stage, five.step) == ("pending", ABANDONED)
    assert store.current([REF])[REF].version == 6


class Dying:
    """The Secret Manager client, killed (``Killed``) before its ``kill``-th call."""

    def __init__(self, client: Any, kill: int) -> None:
        self.client, self.kill, self.made = client, kill, []  # type: list[str]

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if not callable(method) or name.endswith("_path"):
            return method

        def call(*args: Any, **kw: Any) -> Any:
            if len(self.made) == self.kill:
                raise Killed
            self.made.append(name)
            return method(*args, **kw)

        return call


def count_calls(server: FakeServer) -> int:
    fresh(server)
    store = backend(server)
    write(store, 1, "one")
    dying = Dying(store.client(), -1)
    store._client = dying
    rotate(store, 2, SECRET)
    return len(dying.made)


def test_a_rotation_killed_before_any_call_resumes_with_the_same_value(
    gcp_server: FakeServer,
) -> None:
    """Kill the run before its k-th API call, for every k; a new run (another generated
    value, after a dead writer's claim went stale) resumes: once the pending value was
    recorded, that value is the one promoted, and until promotion ``latest`` is the old
    one."""
    total = count_calls(gcp_server)
    assert total >= 10
    for kill in range(total):
        gcp = fresh(gcp_server)
        store = backend(gcp)
        write(store, 1, "one")
        dying = Dying(store.client(), kill)
        store._client = dying
        with pytest.raises(Killed):
            rotate(store, 2, SECRET)
        recorded = "gitrot-v2" in annotations(gcp, SIBLING) | annotations(gcp, REF)
        if dying.made.count("add_secret_version") < 2:  # the ref's secret has no new version
            assert latest(gcp) == "one", kill
        store = backend(gcp)
        record = rotate(store, 2, "second-run-value")
        assert (record.stage, record.step) == ("current", PROMOTED), kill
        assert latest(gcp) == (SECRET if recorded else "second-run-value"), kill
        enabled = [n for n, state in gcp.fake.states(PROJECT, REF).items() if state == "ENABLED"]
        assert len(enabled) == 2, kill
        assert set(gcp.fake.states(PROJECT, SIBLING).values()) <= {"DESTROYED"}, kill
