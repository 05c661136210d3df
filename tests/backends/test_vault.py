"""The vault backend against a real OpenBao (tests/backends/openbao.py): round trips, one KV
version per gitrot version, conflicts, check-and-set, hand-written versions, options."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

import pytest

from gitrot.backends.vault import VaultBackend
from gitrot.core.ports import (
    AppliedVersion,
    Backend,
    BackendContext,
    BackendError,
    VersionConflict,
    idempotency_key,
)
from gitrot.core.secret import SecretValue
from tests.backends.helpers import COMMIT, NAME, random_value
from tests.backends.openbao import OpenBao, openbao  # noqa: F401 - the fixture

TOKEN_ENV = "GITROT_TEST_VAULT_TOKEN"


@pytest.fixture
def ref() -> str:
    """A ref of its own for each test: the server is shared by the session."""
    return f"apps/t-{secrets.token_hex(6)}/db"


@pytest.fixture
def context(tmp_path: Path) -> BackendContext:
    return BackendContext(root=str(tmp_path), recipients=(), identities="")


@pytest.fixture
def vault(
    openbao: OpenBao,  # noqa: F811
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
) -> VaultBackend:
    monkeypatch.setenv(TOKEN_ENV, openbao.root_token)
    backend = VaultBackend("vault", {"url": openbao.url, "token_env": TOKEN_ENV}, context)
    yield backend  # type: ignore[misc]
    backend.close()


def write(
    backend: VaultBackend, ref: str, version: int, value: SecretValue, name: str = NAME
) -> AppliedVersion:
    key = idempotency_key(name, version)
    return backend.write(ref, version, value, name=name, commit=COMMIT, key=key)


def test_write_then_read_round_trips(vault: VaultBackend, openbao: OpenBao, ref: str) -> None:  # noqa: F811
    assert isinstance(vault, Backend)
    assert vault.current([ref]) == {}
    assert vault.get(ref, 1) is None
    value = random_value()
    record = write(vault, ref, 1, value)
    assert record.as_dict() == {
        "backend_id": "1",
        "commit": COMMIT,
        "key": idempotency_key(NAME, 1),
        "name": NAME,
        "ref": ref,
        "stage": "current",
        "step": "promoted",
        "version": 1,
        "written_at": record.written_at,
    }
    assert record.written_at > 1_700_000_000
    assert vault.get(ref, 1) == record
    assert vault.current([ref, "apps/none"]) == {ref: record}
    assert vault.read(ref) == value
    assert vault.read(ref, 1) == value
    # a consumer reading the KV path sees the value, and gitrot's record beside it
    assert openbao.kv_get(ref) == {
        "value": value.reveal(),
        "gitrot_version": 1,
        "gitrot_name": NAME,
        "gitrot_commit": COMMIT,
        "gitrot_key": idempotency_key(NAME, 1),
    }


def test_one_kv_version_per_gitrot_version_however_many_reruns(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    ref: str,
) -> None:
    values = {version: random_value() for version in (1, 2, 4)}
    for version, value in values.items():
        first = write(vault, ref, version, value)
        for _rerun in range(3):
            assert write(vault, ref, version, random_value()) == first  # the value is dropped
    assert sorted(openbao.kv_versions(ref)) == [1, 2, 3]
    assert [(v.version, v.backend_id, v.stage) for v in vault.versions(ref)] == [
        (1, "1", "previous"),
        (2, "2", "previous"),
        (4, "3", "current"),
    ]
    assert vault.get(ref, 3) is None
    assert vault.get(ref, 5) is None
    assert vault.get(ref, 2).stage == "previous"  # type: ignore[union-attr]
    assert vault.read(ref) == values[4]
    assert vault.read(ref, 2) == values[2]
    assert vault.read(ref, 1) == values[1]


def test_another_key_or_an_older_version_is_a_conflict(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    ref: str,
) -> None:
    write(vault, ref, 1, random_value())
    write(vault, ref, 3, random_value())
    value = random_value()
    with pytest.raises(VersionConflict) as info:
        write(vault, ref, 3, value, name="other-secret")
    assert "version 3 is already in backend 'vault' with another idempotency key" in str(info.value)
    with pytest.raises(VersionConflict, match="version 2 is below version 3"):
        write(vault, ref, 2, value)
    with pytest.raises(VersionConflict, match="version 1 is already in backend"):
        write(vault, ref, 1, value, name="other-secret")
    assert sorted(openbao.kv_versions(ref)) == [1, 2]
    assert vault.get(ref, 1).name == NAME  # type: ignore[union-attr]


def test_versions_written_by_hand_are_skipped(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    ref: str,
) -> None:
    assert openbao.kv_put(ref, {"value": "by-hand"}) == 1
    assert vault.current([ref]) == {}
    with pytest.raises(BackendError, match="holds no version of this secret"):
        vault.read(ref)
    value = random_value()
    record = write(vault, ref, 1, value)  # over the hand-written version (check-and-set 1)
    assert record.backend_id == "2"
    assert openbao.kv_put(ref, {"value": "by-hand-again"}) == 3
    assert vault.current([ref]) == {ref: record}
    assert vault.read(ref) == value
    assert write(vault, ref, 1, random_value()) == record
    assert write(vault, ref, 2, random_value()).backend_id == "4"
    assert [v.version for v in vault.versions(ref)] == [1, 2]


def test_deleted_and_destroyed_versions_are_skipped(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    ref: str,
) -> None:
    values = [random_value() for _ in range(3)]
    for version, value in enumerate(values, start=1):
        write(vault, ref, version, value)
    status, _ = openbao.api("PUT", f"secret/destroy/{ref}", {"versions": [2]})
    assert status == 204
    status, _ = openbao.api("POST", f"secret/delete/{ref}", {"versions": [3]})
    assert status == 204
    assert vault.current([ref])[ref].version == 1
    assert vault.get(ref, 3) is None
    assert vault.read(ref) == values[0]
    # version 3 is gone from what the server serves: writing it again is a new KV version
    assert write(vault, ref, 3, values[2]).backend_id == "4"


def test_versions_pruned_by_max_versions_are_gone(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    ref: str,
) -> None:
    for version in (1, 2, 3):
        write(vault, ref, version, random_value())
    status, _ = openbao.api("POST", f"secret/metadata/{ref}", {"max_versions": 2})
    assert status == 204
    write(vault, ref, 4, random_value())
    assert [v.version for v in vault.versions(ref)] == [3, 4]
    assert vault.get(ref, 1) is None


def test_concurrent_writers_store_one_kv_version(
    openbao: OpenBao,  # noqa: F811
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
    ref: str,
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    writers = [VaultBackend(f"w{i}", {"url": openbao.url}, context) for i in range(6)]
    results: list[AppliedVersion | BaseException] = []
    barrier = threading.Barrier(len(writers))

    def one(backend: VaultBackend) -> None:
        barrier.wait()
        try:
            results.append(write(backend, ref, 1, random_value()))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=one, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == len(writers)
    records = {r.backend_id for r in results if isinstance(r, AppliedVersion)}
    lost = [r for r in results if isinstance(r, BaseException)]
    # each writer either stored version 1, got the stored record, or lost the race cleanly
    assert records == {"1"}
    assert all("check-and-set" in str(exc) for exc in lost), lost
    assert sorted(openbao.kv_versions(ref)) == [1]
    for backend in writers:
        backend.close()


class StaleWriter(VaultBackend):
    """A writer that reads, then lets ``meanwhile`` write, then writes: its view is stale."""

    meanwhile: object = None

    def _existing(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        found = super()._existing(*args, **kwargs)  # type: ignore[arg-type]
        action, self.meanwhile = self.meanwhile, None
        if callable(action):
            action()
        return found


def test_a_stale_writer_loses_the_check_and_set(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    context: BackendContext,
    ref: str,
) -> None:
    first = random_value()
    write(vault, ref, 1, first)
    stale = StaleWriter("vault", {"url": openbao.url, "token_env": TOKEN_ENV}, context)
    stale.meanwhile = lambda: openbao.kv_put(ref, {"value": "someone-else"})
    value = random_value()
    with pytest.raises(BackendError) as info:
        write(stale, ref, 2, value)
    message = str(info.value)
    assert "the secret changed on the server while payments-db version 2 was written" in message
    assert "check-and-set" in message
    assert "run gitrot reconcile again" in message
    assert value.reveal() not in message
    assert not info.value.unreachable
    assert openbao.kv_get(ref) == {"value": "someone-else"}  # not overwritten
    # the next run converges
    record = write(stale, ref, 2, value)
    assert record.backend_id == "3"
    assert stale.read(ref) == value
    stale.close()


def test_a_stale_writer_gets_the_version_a_concurrent_run_stored(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    context: BackendContext,
    ref: str,
) -> None:
    stale = StaleWriter("vault", {"url": openbao.url, "token_env": TOKEN_ENV}, context)
    stored = random_value()
    stale.meanwhile = lambda: write(vault, ref, 1, stored)
    record = write(stale, ref, 1, random_value())
    assert record == vault.get(ref, 1)
    assert stale.read(ref) == stored
    assert sorted(openbao.kv_versions(ref)) == [1]
    stale.close()


def test_the_field_and_mount_are_configurable(
    openbao: OpenBao,  # noqa: F811
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
    ref: str,
) -> None:
    status, body = openbao.api("GET", "sys/mounts/team-kv")
    if status != 200:
        status, body = openbao.api(
            "POST", "sys/mounts/team-kv", {"type": "kv", "options": {"version": "2"}}
        )
        assert status == 204, body
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    options = {"url": openbao.url + "/", "mount": "/team-kv/", "field": "password"}
    backend = VaultBackend("team", options, context)
    value = random_value()
    write(backend, ref, 1, value)
    assert openbao.kv_get(ref, mount="team-kv")["password"] == value.reveal()
    assert backend.read(ref) == value
    assert openbao.kv_versions(ref) == {}  # nothing in secret/
    backend.close()


def test_a_version_without_the_field_is_refused_on_read(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    ref: str,
) -> None:
    record = {"gitrot_version": 1, "gitrot_name": NAME, "gitrot_commit": COMMIT}
    openbao.kv_put(ref, {**record, "gitrot_key": idempotency_key(NAME, 1), "pw": "x"})
    assert vault.get(ref, 1) is not None
    with pytest.raises(BackendError, match="version 1 has no text field 'value'"):
        vault.read(ref, 1)
    with pytest.raises(BackendError, match="holds no version 7 of this secret"):
        vault.read(ref, 7)


@pytest.mark.parametrize(
    "data",
    [
        {"gitrot_version": "1", "gitrot_name": NAME, "gitrot_commit": "c", "gitrot_key": "k"},
        {"gitrot_version": 0, "gitrot_name": NAME, "gitrot_commit": "c", "gitrot_key": "k"},
        {"gitrot_version": 1, "gitrot_name": "", "gitrot_commit": "c", "gitrot_key": "k"},
        {"gitrot_version": 1, "gitrot_name": NAME, "gitrot_commit": "c"},
    ],
)
def test_a_record_that_is_not_gitrots_is_skipped(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    ref: str,
    data: dict[str, object],
) -> None:
    openbao.kv_put(ref, {"value": "x", **data})
    assert vault.current([ref]) == {}


@pytest.mark.parametrize("bad", ["", "/abs", "a//b", "../up", ".hidden", "a b", "x" * 201, 7])
def test_a_bad_ref_is_refused(vault: VaultBackend, bad: object) -> None:
    with pytest.raises(BackendError, match="not a valid vault ref") as info:
        vault.current([bad])  # type: ignore[list-item]
    assert not info.value.unreachable


@pytest.mark.parametrize(("version", "key"), [(0, "k"), (True, "k"), ("1", "k"), (1, "")])
def test_a_bad_version_or_key_is_refused(
    vault: VaultBackend, ref: str, version: object, key: str
) -> None:
    with pytest.raises(BackendError, match=r"version must be a positive integer|key is empty"):
        vault.write(ref, version, random_value(), name=NAME, commit=COMMIT, key=key)  # type: ignore[arg-type]


def test_one_client_per_thread_all_closed(vault: VaultBackend, ref: str) -> None:
    write(vault, ref, 1, random_value())
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(vault.current([ref])))
    thread.start()
    thread.join(10)
    assert seen == [vault.current([ref])]
    vault.close()
    vault.close()  # closing twice is harmless


def test_a_namespace(
    openbao: OpenBao,  # noqa: F811
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
    ref: str,
) -> None:
    space = "team-" + secrets.token_hex(3)
    assert openbao.api("POST", f"sys/namespaces/{space}", {})[0] == 200
    mount = {"type": "kv", "options": {"version": "2"}}
    assert openbao.api("POST", "sys/mounts/secret", mount, namespace=space)[0] == 204
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    backend = VaultBackend("team", {"url": openbao.url, "namespace": space}, context)
    value = random_value()
    write(backend, ref, 1, value)
    status, body = openbao.api("GET", f"secret/data/{ref}", namespace=space)
    assert (status, body["data"]["data"]["value"]) == (200, value.reveal())
    assert openbao.kv_versions(ref) == {}  # not in the root namespace
    assert backend.read(ref) == value
    backend.close()
