"""The gcp-secret-manager backend cannot be turned against the reconciler or its secrets.

Against the in-tree FAKE Secret Manager (tests/backends/gcp_fake.py), through the real CLI:

(a) gitrot.yaml carries no GCP credential: a token, a key file's content, an endpoint with a
user and password is refused by ``gitrot validate`` at its line, never repeated; plain
http:// to a host off loopback is refused (a token would cross the network in clear).
(b) A secret whose annotations say its versions belong to another intent is refused; its
value and its versions are untouched.
(c) No value in any message: a refused write, a failing server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitrot.backends.base import idempotency_key
from tests.backends.gcp_fake import PROJECT, FakeServer, fresh, serve
from tests.backends.test_gcp_reconcile import NAME, REF, gcp_repo
from tests.reconcile.helpers import PolicyRepo, environment, run

TOKEN = "ya29.attack-token-0000000000000001"


@pytest.fixture(scope="module")
def gcp_server() -> Iterator[FakeServer]:
    yield from serve()


@pytest.fixture
def gcp(gcp_server: FakeServer) -> FakeServer:
    return fresh(gcp_server)


@pytest.mark.parametrize(
    "options",
    [
        f"project: my-project, access_token: {TOKEN}",
        f"project: my-project, credentials: {TOKEN}",
        f"project: my-project, endpoint: 'https://user:{TOKEN}@evil.example'",
        "project: my-project, endpoint: 'http://evil.example:8080'",
    ],
)
def test_gitrot_yaml_carries_no_credential(tmp_path: Path, options: str) -> None:
    repo = PolicyRepo.create(tmp_path / "policy", triggers={})
    config = repo.root / "gitrot.yaml"
    line = f"  gcp: {{type: gcp-secret-manager, {options}}}\n"
    config.write_text(config.read_text().replace("backends:\n", f"backends:\n{line}", 1))
    done = run(repo.root, "validate", "gitrot.yaml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("gitrot.yaml:8:"), done.stdout
    assert TOKEN not in done.stdout + done.stderr


def test_a_secret_held_for_another_intent_is_refused_and_untouched(
    gcp: FakeServer, tmp_path: Path
) -> None:
    other = "svc/someone-else"
    with gcp.fake.lock:
        gcp.fake._create_secret(
            {"project": PROJECT}, {"secretId": REF}, {"replication": {"automatic": {}}}
        )
    gcp.fake.versions[(PROJECT, REF)].append(
        {"name": f"projects/{PROJECT}/secrets/{REF}/versions/1", "number": 1,
         "state": "ENABLED", "data": b"their-value", "etag": '"e"',
         "createTime": "2024-01-01T00:00:00Z"}
    )  # fmt: skip
    record = f"1|{idempotency_key(other, 1)}|{'0' * 40}|1700000000|{other}"
    gcp.fake.secrets[(PROJECT, REF)]["annotations"]["gitrot-v1"] = record
    log = tmp_path / "deliveries.log"
    repo = gcp_repo(tmp_path / "policy", gcp.endpoint, log)
    done = run(repo.root, "reconcile", env=environment())
    assert done.returncode != 0
    assert "another secret" in done.stdout + done.stderr
    assert "their-value" not in done.stdout + done.stderr
    assert gcp.fake.states(PROJECT, REF) == {1: "ENABLED"}
    assert gcp.fake.data(PROJECT, REF, 1) == b"their-value"
    assert gcp.fake.annotations(PROJECT, REF) == {"gitrot-v1": record}
    assert not log.exists()


def test_no_value_in_messages_when_the_server_fails_mid_run(
    gcp: FakeServer, tmp_path: Path
) -> None:
    """The server fails the mapping's commit after the value was added: the run fails
    (exit 3), the message names the backend and no value; the writer disables its version
    and drops its claim, and the next run finishes."""
    from tests.backends.gcp_fake import ApiError

    log = tmp_path / "deliveries.log"
    repo = gcp_repo(tmp_path / "policy", gcp.endpoint, log)
    patches: list[int] = []

    def fail_the_commit(_: dict[str, str]) -> None:
        patches.append(1)
        if len(patches) == 2:
            raise ApiError(503, "unavailable", "UNAVAILABLE")

    gcp.fake.hooks["patch_secret"] = fail_the_commit
    done = run(repo.root, "reconcile", env=environment())
    assert done.returncode == 3, done.stdout + done.stderr
    written = gcp.fake.data(PROJECT, REF, 1)
    assert written is not None
    assert written.decode() not in done.stdout + done.stderr
    assert "Secret Manager answered HTTP 503" in done.stderr
    assert not log.exists()
    # the writer disabled its version and dropped its claim: the next run goes on at once
    gcp.fake.hooks.clear()
    assert "gitrot-claim" not in gcp.fake.annotations(PROJECT, REF)
    again = run(repo.root, "reconcile", env=environment())
    assert again.returncode == 0, again.stderr
    assert gcp.fake.states(PROJECT, REF) == {1: "DISABLED", 2: "ENABLED"}
    assert gcp.fake.annotations(PROJECT, REF)["gitrot-v1"].startswith("2|")
    assert [line.split()[:2] for line in log.read_text().splitlines()] == [[NAME, "1"]]
