"""The gcp-secret-manager backend against the in-tree FAKE Secret Manager (tests/backends/
gcp_fake.py: no GCP emulator exists): round trips, the annotation mapping, idempotency,
conflicts, two writers at once, a dead writer's claim, options, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gitrot.backends import gcp as gcp_module
from gitrot.backends.base import AppliedVersion, BackendError, VersionConflict, idempotency_key
from gitrot.backends.gcp import GcpSecretManagerBackend, check_options
from gitrot.core.secret import SecretValue
from gitrot.errors import ConfigError
from tests.backends.gcp_fake import PROJECT, ApiError, FakeServer, fresh, serve
from tests.backends.helpers import COMMIT, NAME, random_value

REF = "payments-db"


@pytest.fixture(scope="module")
def gcp_server() -> Iterator[FakeServer]:
    yield from serve()


@pytest.fixture
def gcp(gcp_server: FakeServer) -> FakeServer:
    return fresh(gcp_server)


def backend(server: FakeServer, **kwargs: Any) -> GcpSecretManagerBackend:
    options = {"project": PROJECT, "endpoint": server.endpoint}
    return GcpSecretManagerBackend("gcp", options, **kwargs)


def write(
    store: GcpSecretManagerBackend, version: int, value: SecretValue, *, name: str = NAME
) -> AppliedVersion:
    return store.write(
        REF, version, value, name=name, commit=COMMIT, key=idempotency_key(name, version)
    )


def test_write_then_read_round_trips(gcp: FakeServer) -> None:
    store = backend(gcp, clock=lambda: 1_700_000_000)
    value = random_value()
    record = write(store, 1, value)
    assert record == AppliedVersion(
        ref=REF,
        version=1,
        name=NAME,
        commit=COMMIT,
        key=idempotency_key(NAME, 1),
        backend_id="1",
        written_at=1_700_000_000,
        stage="current",
    )
    assert store.read(REF) == value
    assert store.read(REF, 1) == value
    assert store.get(REF, 1) == record
    assert store.get(REF, 2) is None
    assert store.current([REF, "other"]) == {REF: record}
    # the payload is the value as is: a consumer reads the secret as usual
    assert gcp.fake.data(PROJECT, REF, 1) == value.reveal().encode()
    secret = gcp.fake.secrets[(PROJECT, REF)]
    assert secret["labels"] == {"managed-by": "gitrot"}
    assert secret["annotations"] == {
        "gitrot-v1": f"1|{record.key}|{COMMIT}|1700000000|{NAME}",
    }


def test_versions_map_onto_gcp_versions_and_stages(gcp: FakeServer) -> None:
    store = backend(gcp)
    values = {version: random_value() for version in (1, 2, 5)}
    for version, value in values.items():
        write(store, version, value)
    assert [(v.version, v.backend_id, v.stage) for v in store.versions(REF)] == [
        (1, "1", "previous"),
        (2, "2", "previous"),
        (5, "3", "current"),
    ]
    assert store.read(REF) == values[5]
    assert store.read(REF, 2) == values[2]
    assert store.get(REF, 1).stage == "previous"  # type: ignore[union-attr]
    assert gcp.fake.states(PROJECT, REF) == {1: "ENABLED", 2: "ENABLED", 3: "ENABLED"}


def test_a_rerun_adds_no_version(gcp: FakeServer) -> None:
    store = backend(gcp)
    first = write(store, 1, random_value())
    again = write(backend(gcp), 1, random_value())  # another run: another generated value
    assert again == first
    assert gcp.fake.calls["add_version"] == 1
    assert gcp.fake.states(PROJECT, REF) == {1: "ENABLED"}


def test_another_key_or_an_older_version_conflicts(gcp: FakeServer) -> None:
    store = backend(gcp)
    write(store, 2, random_value())
    with pytest.raises(VersionConflict, match="another idempotency key"):
        write(store, 2, random_value(), name="svc/other")
    with pytest.raises(VersionConflict, match="below version 2"):
        write(store, 1, random_value())
    assert gcp.fake.calls["add_version"] == 1


def test_other_annotations_are_kept_and_old_records_pruned(
    gcp: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gcp_module, "KEEP", 3)
    store = backend(gcp)
    write(store, 1, random_value())
    gcp.fake.secrets[(PROJECT, REF)]["annotations"]["team"] = "payments"
    for version in range(2, 6):
        write(store, version, random_value())
    annotations = gcp.fake.annotations(PROJECT, REF)
    assert sorted(annotations) == ["gitrot-v3", "gitrot-v4", "gitrot-v5", "team"]
    assert [v.version for v in store.versions(REF)] == [3, 4, 5]
    with pytest.raises(VersionConflict, match="below version 5"):
        write(store, 1, random_value())


def test_annotations_gitrot_does_not_own_are_ignored(gcp: FakeServer) -> None:
    store = backend(gcp)
    write(store, 1, random_value())
    annotations = gcp.fake.secrets[(PROJECT, REF)]["annotations"]
    annotations |= {"gitrot-v01": "x", "gitrot-vx": "1|a|b|1|n", "gitrot-v7": "no record"}
    annotations["gitrot-claim"] = "not a claim"
    assert [v.version for v in store.versions(REF)] == [1]
    write(store, 2, random_value())  # an unreadable claim is no claim
    assert store.current([REF])[REF].version == 2


def test_two_writers_at_once_add_one_version(gcp: FakeServer) -> None:
    started = threading.Event()

    def slow_add(_: dict[str, str]) -> None:
        started.set()
        time.sleep(0.3)  # the other writer finds the claim and waits

    gcp.fake.hooks["add_version"] = slow_add
    results: list[AppliedVersion] = []
    threads = [
        threading.Thread(target=lambda: results.append(write(backend(gcp), 1, random_value())))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert started.is_set()
    assert len(results) == 2 and results[0] == results[1]
    assert gcp.fake.calls["add_version"] == 1
    assert gcp.fake.states(PROJECT, REF) == {1: "ENABLED"}


def test_a_dead_writers_claim_is_taken_over_and_its_version_disabled(gcp: FakeServer) -> None:
    store = backend(gcp)
    write(store, 1, random_value())
    # a writer claimed version 2 an hour ago, added GCP version 2, and died
    secret = gcp.fake.secrets[(PROJECT, REF)]
    secret["annotations"]["gitrot-claim"] = f"2|deadbeef|1|{int(time.time()) - 3600}"
    gcp.fake.versions[(PROJECT, REF)].append(
        {"name": f"{secret['name']}/versions/2", "number": 2, "state": "ENABLED",
         "data": b"orphan", "etag": '"x"', "createTime": "2024-01-01T00:00:00Z"}
    )  # fmt: skip
    value = random_value()
    record = write(store, 2, value)
    assert record.backend_id == "3"
    assert gcp.fake.states(PROJECT, REF) == {1: "ENABLED", 2: "DISABLED", 3: "ENABLED"}
    assert "gitrot-claim" not in gcp.fake.annotations(PROJECT, REF)
    assert store.read(REF) == value


def test_a_claim_watched_longer_than_the_lease_is_taken_over(gcp: FakeServer) -> None:
    # a claim from a clock far ahead never looks old: watching it for the lease is enough
    store = backend(gcp, lease=0.2)
    write(store, 1, random_value())
    claim = f"2|feedface|1|{int(time.time()) + 3600}"
    gcp.fake.secrets[(PROJECT, REF)]["annotations"]["gitrot-claim"] = claim
    began = time.monotonic()
    assert write(store, 2, random_value()).backend_id == "2"
    assert 0.2 < time.monotonic() - began < 5


def test_a_stalled_writer_that_lost_its_claim_disables_its_version(gcp: FakeServer) -> None:
    """Writer A claims version 1 and stalls before its add reaches the server; B (whose
    clock says A's claim is stale) takes over, adds and commits; A's add lands, its commit
    finds the claim gone: A disables its version and answers B's record."""
    b_done = threading.Event()
    first = threading.Event()

    def stall_first_add(_: dict[str, str]) -> None:
        if not first.is_set():
            first.set()
            assert b_done.wait(timeout=10)

    gcp.fake.hooks["add_version"] = stall_first_add
    results: dict[str, AppliedVersion] = {}
    a = threading.Thread(target=lambda: results.update(a=write(backend(gcp), 1, random_value())))
    a.start()
    assert first.wait(timeout=10)
    b_store = backend(gcp, clock=lambda: time.time() + 3600)
    b_value = random_value()
    results["b"] = write(b_store, 1, b_value)
    b_done.set()
    a.join(timeout=10)
    assert results["a"] == results["b"]
    assert results["b"].backend_id == "1"
    assert gcp.fake.states(PROJECT, REF) == {1: "ENABLED", 2: "DISABLED"}
    assert b_store.read(REF, 1) == b_value


def test_a_writer_whose_added_version_was_taken_over_keeps_one_enabled(gcp: FakeServer) -> None:
    """A adds its version, then stalls before its commit; B takes over: B disables A's
    version (no record maps it) and adds its own; A's commit loses and A answers B's."""
    added = threading.Event()
    b_done = threading.Event()

    stalled = threading.Event()

    def stall_after_add(_: dict[str, str]) -> None:
        if added.is_set() and not stalled.is_set():  # the first patch after A's add: A's commit
            stalled.set()
            assert b_done.wait(timeout=10)

    def mark(_: dict[str, str]) -> None:
        added.set()

    gcp.fake.hooks["add_version"] = mark
    gcp.fake.hooks["patch_secret"] = stall_after_add
    results: dict[str, AppliedVersion] = {}
    a = threading.Thread(target=lambda: results.update(a=write(backend(gcp), 1, random_value())))
    a.start()
    deadline = time.monotonic() + 10
    while not stalled.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    results["b"] = write(backend(gcp, clock=lambda: time.time() + 3600), 1, random_value())
    b_done.set()
    a.join(timeout=10)
    assert results["a"] == results["b"]
    assert results["b"].backend_id == "2"
    assert gcp.fake.states(PROJECT, REF) == {1: "DISABLED", 2: "ENABLED"}


@pytest.mark.parametrize("mismatch", [(409, "ABORTED"), (400, "FAILED_PRECONDITION")])
def test_an_etag_moved_by_someone_else_is_retried(
    gcp: FakeServer, mismatch: tuple[int, str]
) -> None:
    gcp.fake.etag_mismatch = mismatch
    store = backend(gcp)
    write(store, 1, random_value())
    patches = []

    def someone_edits(_: dict[str, str]) -> None:
        patches.append(1)
        if len(patches) in (1, 3):  # before our claim, and before our commit
            with gcp.fake.lock:
                secret = gcp.fake.secrets[(PROJECT, REF)]
                secret["labels"] = {"edited": str(len(patches))}
                secret["etag"] = gcp.fake._etag()

    gcp.fake.hooks["patch_secret"] = someone_edits
    assert write(store, 2, random_value()).backend_id == "2"
    assert len(patches) == 4
    assert gcp.fake.calls["add_version"] == 2


def test_a_refused_annotation_update_is_one_error(gcp: FakeServer) -> None:
    store = backend(gcp)
    write(store, 1, random_value())
    gcp.fake.secrets[(PROJECT, REF)]["annotations"]["big"] = "x" * (16 * 1024 - 200)
    with pytest.raises(
        BackendError, match=r"refused to update a secret's annotations \(HTTP 400\)"
    ):
        write(store, 2, random_value())


def test_a_disabled_version_cannot_be_read(gcp: FakeServer) -> None:
    store = backend(gcp)
    write(store, 1, random_value())
    gcp.fake.versions[(PROJECT, REF)][0]["state"] = "DISABLED"
    with pytest.raises(BackendError, match="GCP version 1 cannot be read") as caught:
        store.read(REF)
    assert not caught.value.unreachable
    with pytest.raises(BackendError, match="holds no version 2"):
        store.read(REF, 2)
    with pytest.raises(BackendError, match="holds no version of"):
        store.read("absent")


def test_a_value_that_is_not_utf8_is_refused(gcp: FakeServer) -> None:
    store = backend(gcp)
    write(store, 1, random_value())
    gcp.fake.versions[(PROJECT, REF)][0]["data"] = b"\xff\xfe"
    with pytest.raises(BackendError, match="does not hold a UTF-8 value"):
        store.read(REF)


def test_a_secret_created_by_another_writer_meanwhile_is_used(gcp: FakeServer) -> None:
    def racer(args: dict[str, str]) -> None:
        with gcp.fake.lock:
            gcp.fake._create_secret(args, {"secretId": REF}, {"replication": {"automatic": {}}})

    gcp.fake.hooks["create_secret"] = racer
    assert write(backend(gcp), 1, random_value()).backend_id == "1"


@pytest.mark.parametrize(
    ("version", "key", "message"),
    [(0, "k", "positive integer"), (True, "k", "positive integer"), (1, "", "key or commit")],
)
def test_bad_write_arguments_are_refused(
    gcp: FakeServer, version: int, key: str, message: str
) -> None:
    with pytest.raises(BackendError, match=message):
        backend(gcp).write(REF, version, random_value(), name=NAME, commit=COMMIT, key=key)


@pytest.mark.parametrize("ref", ["a/b", "", "x" * 256, "dots.are.not.allowed"])
def test_a_ref_that_is_no_secret_id_is_refused_without_naming_it(gcp: FakeServer, ref: str) -> None:
    with pytest.raises(BackendError, match="not a valid gcp-secret-manager ref") as caught:
        backend(gcp).current([ref])
    assert ref not in str(caught.value) or not ref


# --- errors: one line, the backend named, exit 3 when unreachable -------------------------


def _unreachable(call: Any) -> str:
    with pytest.raises(BackendError) as caught:
        call()
    assert caught.value.unreachable and caught.value.exit_code == 3
    message = caught.value.render()
    assert "\n" not in message and "'gcp'" in message and REF not in message
    return message


def test_a_stopped_server_is_unreachable(gcp: FakeServer) -> None:
    stopped = FakeServer().start()
    endpoint = stopped.endpoint
    stopped.stop()
    store = GcpSecretManagerBackend("gcp", {"project": PROJECT, "endpoint": endpoint})
    value = random_value()
    message = _unreachable(lambda: store.write(REF, 1, value, name=NAME, commit=COMMIT, key="k"))
    assert "cannot reach Secret Manager at http://127.0.0.1:" in message
    assert value.reveal() not in message
    _unreachable(lambda: store.current([REF]))


def test_an_unknown_project_is_unreachable(gcp: FakeServer) -> None:
    store = GcpSecretManagerBackend("gcp", {"project": "no-such-proj", "endpoint": gcp.endpoint})
    message = _unreachable(lambda: store.current([REF]))
    assert "project no-such-proj" in message and "not found (HTTP 404)" in message
    _unreachable(lambda: write(store, 1, random_value()))


def test_a_known_project_without_the_secret_is_checked_once(gcp: FakeServer) -> None:
    store = backend(gcp)
    assert store.current([REF, "other"]) == {}
    assert gcp.fake.calls["list_secrets"] == 1


def test_permission_denied_is_unreachable(gcp: FakeServer) -> None:
    gcp.fake.denied.add(PROJECT)
    store = backend(gcp)
    message = _unreachable(lambda: store.current([REF]))
    assert "permission denied to read a secret (HTTP 403)" in message


def test_another_refusal_is_one_error_not_unreachable(gcp: FakeServer) -> None:
    def gone(_: dict[str, str]) -> None:
        raise ApiError(400, "the request is invalid", "INVALID_ARGUMENT")

    gcp.fake.hooks["get_secret"] = gone
    with pytest.raises(BackendError, match=r"refused to read a secret \(HTTP 400\)") as caught:
        backend(gcp).get(REF, 1)
    assert not caught.value.unreachable


def test_a_server_error_is_unreachable(gcp: FakeServer) -> None:
    def broken(_: dict[str, str]) -> None:
        raise ApiError(503, "backend unavailable", "UNAVAILABLE")

    gcp.fake.hooks["get_secret"] = broken
    message = _unreachable(lambda: backend(gcp).get(REF, 1))
    assert "answered HTTP 503" in message


def test_no_application_default_credentials_is_unreachable(
    gcp: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    store = GcpSecretManagerBackend("gcp", {"project": PROJECT, "endpoint": "https://127.0.0.1:1"})
    message = _unreachable(lambda: store.current([REF]))
    assert "no Application Default Credentials" in message


def test_credentials_that_fail_to_refresh_are_unreachable(gcp: FakeServer) -> None:
    from google.auth.exceptions import RefreshError

    store = backend(gcp)

    class Expired:
        def get_secret(self, **_: Any) -> Any:
            raise RefreshError("invalid_grant: token expired")

    store._client = Expired()
    message = _unreachable(lambda: store.current([REF]))
    assert "cannot authenticate (RefreshError); renew" in message
    assert "invalid_grant" not in message


def test_another_client_failure_is_one_line(gcp: FakeServer) -> None:
    store = backend(gcp)

    class Broken:
        def get_secret(self, **_: Any) -> Any:
            raise ValueError("surprise")

    store._client = Broken()
    message = _unreachable(lambda: store.current([REF]))
    assert message.endswith("cannot read a secret (ValueError)")


def test_a_claim_held_forever_gives_up(gcp: FakeServer) -> None:
    store = backend(gcp, lease=0.05, poll=0.01)
    store._stale = lambda claim, since: False  # type: ignore[method-assign]
    write(store, 1, random_value())
    gcp.fake.secrets[(PROJECT, REF)]["annotations"]["gitrot-claim"] = "2|ab|1|1"
    message = _unreachable(lambda: write(store, 2, random_value()))
    assert "another writer keeps a claim" in message


def test_close_keeps_nothing_open(gcp: FakeServer) -> None:
    store = backend(gcp)
    store.close()
    assert store.current([REF]) == {}


# --- options ------------------------------------------------------------------------------


def test_options_are_checked() -> None:
    assert check_options("g", {"project": "my-project"}) == ("my-project", "")
    assert check_options("g", {"project": "123456", "endpoint": "https://x.example/"}) == (
        "123456",
        "https://x.example",
    )
    assert check_options("g", {"project": "my-project", "endpoint": "http://localhost:8085"})[1]
    assert GcpSecretManagerBackend.check_options is check_options


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "project must be a GCP project id or number, got nothing"),
        ({"project": 5}, "got a int"),
        ({"project": "UPPER"}, "got a string that is no project id"),
        ({"project": "my-project", "region": "x"}, "unknown option 'region'"),
        ({"project": "my-project", "token": "x"}, "'token' looks like a credential"),
        ({"project": "my-project", "credentials_file": "x"}, "looks like a credential"),
        ({"project": "my-project", "endpoint": 3}, "endpoint must be an https:// URL"),
        ({"project": "my-project", "endpoint": "ftp://x"}, "got 'ftp://x'"),
        ({"project": "my-project", "endpoint": "https://x/path"}, "without a path"),
        ({"project": "my-project", "endpoint": "https://u:p@x"}, "must not hold a user"),
        ({"project": "my-project", "endpoint": "https://x:99999"}, "an invalid URL"),
        ({"project": "my-project", "endpoint": "http://example.com"}, "loopback only"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        check_options("g", options)
    assert caught.value.where == "gitrot.yaml"
    assert "u:p" not in caught.value.render()


def test_the_registry_checks_the_options() -> None:
    from gitrot.backends.registry import check_backend, installed_types

    assert "gcp-secret-manager" in installed_types()
    check_backend("g", "gcp-secret-manager", {"project": "my-project"})
    with pytest.raises(ConfigError, match="unknown option 'url'"):
        check_backend("g", "gcp-secret-manager", {"project": "my-project", "url": "x"})


def test_a_failed_commit_releases_its_claim_when_it_can(gcp: FakeServer) -> None:
    store = backend(gcp)
    write(store, 1, random_value())
    patches: list[int] = []

    def failing(_: dict[str, str]) -> None:
        patches.append(1)
        if len(patches) >= 2:  # the commit, and every patch after it
            raise ApiError(503, "unavailable", "UNAVAILABLE")

    gcp.fake.hooks["patch_secret"] = failing
    value = random_value()
    message = _unreachable(lambda: write(store, 2, value))
    assert value.reveal() not in message
    # its version is disabled; the claim could not be dropped: it stays for the lease
    assert gcp.fake.states(PROJECT, REF) == {1: "ENABLED", 2: "DISABLED"}
    assert gcp.fake.annotations(PROJECT, REF)["gitrot-claim"].startswith("2|")


def test_checking_the_options_imports_no_google_library() -> None:
    """The validate hook checks a gcp backend's options without the Google client."""
    import json
    import subprocess
    import sys

    from tests.conftest import child_env

    probe = (
        "import json, sys\n"
        "from gitrot.backends.registry import check_backend\n"
        "check_backend('g', 'gcp-secret-manager', {'project': 'my-project'})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('google'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=child_env(), check=True
    )
    assert json.loads(done.stdout) == []
