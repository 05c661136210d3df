"""The vault backend's failures: each one line naming the backend and what to do, exit 3
for a server that cannot serve (stopped, wrong token, sealed, no write permission, unknown
mount, TLS), never the token or a value. Real OpenBao servers, and a stub HTTP server for
the answers a healthy OpenBao never gives (500, 429, 418, a redirect, not JSON)."""

from __future__ import annotations

import json
import secrets
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gitrot.backends import vault as vault_module
from gitrot.backends.vault import VaultBackend
from gitrot.core.ports import BackendContext, BackendError, idempotency_key
from gitrot.errors import EXIT_ENVIRONMENT, EXIT_FINDINGS
from tests.backends.helpers import COMMIT, NAME, random_value
from tests.backends.openbao import (  # noqa: F401 - fixtures
    OpenBao,
    free_port,
    openbao,
    sealed_openbao,
)
from tests.conftest import require_tool

REF = "apps/errors/db"
READ_ONLY = 'path "secret/data/*" { capabilities = ["read"] }'


@pytest.fixture
def context(tmp_path: Path) -> BackendContext:
    return BackendContext(root=str(tmp_path), recipients=(), identities="")


def open_vault(
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    token: str | None,
    **options: str,
) -> VaultBackend:
    if token is None:
        monkeypatch.delenv("VAULT_TOKEN", raising=False)
    else:
        monkeypatch.setenv("VAULT_TOKEN", token)
    return VaultBackend("prod", {"url": url, **options}, context)


def failure(backend: VaultBackend, *, write: bool = False, token: str = "") -> BackendError:
    """The BackendError of a read (or a write), checked for what every message must be."""
    value = random_value()
    with pytest.raises(BackendError) as info:
        if write:
            key = idempotency_key(NAME, 1)
            backend.write(REF, 1, value, name=NAME, commit=COMMIT, key=key)
        else:
            backend.current([REF])
    error = info.value
    text = error.render() if hasattr(error, "render") else str(error)
    assert "\n" not in error.message
    assert error.message.startswith("backend 'prod' (vault): ")
    assert value.reveal() not in text
    assert REF not in text  # refs are encrypted in git: never in a message
    if token:
        assert token not in text
    backend.close()
    return error


def test_a_stopped_server(context: BackendContext, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    error = failure(open_vault(context, monkeypatch, url, "t0ken"))
    assert error.message == (
        f"backend 'prod' (vault): cannot connect to {url}; start the server or fix "
        "backends.prod.url"
    )
    assert error.unreachable and error.exit_code == EXIT_ENVIRONMENT


def test_a_server_that_stops_and_comes_back(
    tmp_path: Path, context: BackendContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = OpenBao(require_tool("bao"), tmp_path).start_dev()
    backend = open_vault(context, monkeypatch, server.url, server.root_token)
    try:
        backend.write(REF, 1, random_value(), name=NAME, commit=COMMIT, key="k1")
        server.stop()
        with pytest.raises(BackendError, match="cannot connect to") as info:
            backend.current([REF])
        assert info.value.unreachable
        server.start_dev()  # a dev server forgets: the next run writes again
        assert backend.current([REF]) == {}
        assert backend.write(REF, 1, random_value(), name=NAME, commit=COMMIT, key="k1")
    finally:
        backend.close()
        server.stop()


def test_a_wrong_token(
    openbao: OpenBao,  # noqa: F811
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = "s.wrong-" + secrets.token_hex(8)
    error = failure(open_vault(context, monkeypatch, openbao.url, token), token=token)
    assert error.message == (
        f"backend 'prod' (vault): {openbao.url} refused the token from $VAULT_TOKEN to read "
        "(403 permission denied); give a valid token whose policy allows read on "
        "secret/data/* (docs/backends.md)"
    )
    assert error.unreachable


def test_no_token(
    openbao: OpenBao,  # noqa: F811
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    error = failure(open_vault(context, monkeypatch, openbao.url, None))
    assert "no token in $VAULT_TOKEN; log in (bao login / vault login)" in error.message
    assert error.unreachable
    error = failure(open_vault(context, monkeypatch, openbao.url, " \n"))
    assert "no token in $VAULT_TOKEN" in error.message


def test_a_token_file(
    openbao: OpenBao,  # noqa: F811
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    (tmp_path / "token").write_text(openbao.root_token + "\n")
    backend = open_vault(context, monkeypatch, openbao.url, "wrong", token_file="token")
    assert backend.current(["apps/none"]) == {}
    backend.close()
    error = failure(open_vault(context, monkeypatch, openbao.url, None, token_file="missing"))
    assert error.message == (
        "backend 'prod' (vault): cannot read the token file missing (No such file or "
        "directory); fix backends.prod.token_file"
    )
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    error = failure(open_vault(context, monkeypatch, openbao.url, None, token_file="binary"))
    assert "cannot read the token file binary (not UTF-8)" in error.message
    (tmp_path / "empty").write_text("")
    error = failure(open_vault(context, monkeypatch, openbao.url, None, token_file="empty"))
    assert "no token in the file empty" in error.message


def test_a_token_that_may_only_read(
    openbao: OpenBao,  # noqa: F811
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = openbao.token(READ_ONLY)
    backend = open_vault(context, monkeypatch, openbao.url, token)
    assert backend.current([REF + "-ro"]) == {}  # reading is allowed
    error = failure(backend, write=True, token=token)
    assert error.message == (
        f"backend 'prod' (vault): {openbao.url} refused the token from $VAULT_TOKEN to write "
        "(403 permission denied); give a valid token whose policy allows create, update and "
        "read on secret/data/* (docs/backends.md)"
    )
    assert error.unreachable and error.exit_code == EXIT_ENVIRONMENT
    assert openbao.kv_versions(REF) == {}


def test_the_least_policy_of_the_docs_is_enough(
    openbao: OpenBao,  # noqa: F811
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = Path(__file__).parents[2] / "docs" / "backends.md"
    text = docs.read_text()
    section = text.split("## vault", 1)[1].split("\n## ", 1)[0]
    policy = section.split("```hcl\n", 1)[1].split("```", 1)[0]
    token = openbao.token(policy)
    backend = open_vault(context, monkeypatch, openbao.url, token)
    ref = f"apps/least-{secrets.token_hex(4)}"
    with pytest.raises(BackendError, match="refused the token"):
        backend.current(["other/x"])  # outside apps/: refused

    value = random_value()
    backend.write(ref, 1, value, name=NAME, commit=COMMIT, key="k1")
    assert backend.write(ref, 1, random_value(), name=NAME, commit=COMMIT, key="k1")
    backend.write(ref, 2, random_value(), name=NAME, commit=COMMIT, key="k2")
    assert backend.read(ref, 1) == value
    assert [v.version for v in backend.versions(ref)] == [1, 2]
    backend.close()


def test_a_sealed_server(
    sealed_openbao: tuple[OpenBao, str],  # noqa: F811
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, key = sealed_openbao
    backend = open_vault(context, monkeypatch, server.url, server.root_token)
    error = failure(backend, token=server.root_token)
    assert error.message == (
        f"backend 'prod' (vault): {server.url} is sealed or unavailable (503); unseal it "
        "(bao operator unseal) or wait for it, then run again"
    )
    assert error.unreachable
    server.unseal(key)  # the cause fixed: the same backend works
    assert backend.write(REF, 1, random_value(), name=NAME, commit=COMMIT, key="k1")
    assert sorted(server.kv_versions(REF)) == [1]
    backend.close()


def test_an_unknown_mount(
    openbao: OpenBao,  # noqa: F811
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = open_vault(context, monkeypatch, openbao.url, openbao.root_token, mount="nope")
    error = failure(backend, token=openbao.root_token)
    assert error.message == (
        f"backend 'prod' (vault): {openbao.url} has no mount 'nope' the token may use; fix "
        "backends.prod.mount, or enable a KV v2 engine there "
        "(bao secrets enable -version=2 -path=NAME kv)"
    )
    assert error.unreachable


def test_a_kv_version_1_mount(
    openbao: OpenBao,  # noqa: F811
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if openbao.api("GET", "sys/mounts/kv-one")[0] != 200:
        status, body = openbao.api("POST", "sys/mounts/kv-one", {"type": "kv"})
        assert status == 204, body
    backend = open_vault(context, monkeypatch, openbao.url, openbao.root_token, mount="kv-one")
    error = failure(backend)
    assert "the mount 'kv-one' at" in error.message
    assert "is not a KV version 2 secrets engine" in error.message
    assert error.unreachable


def test_tls_needs_the_servers_ca(
    tmp_path: Path, context: BackendContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = OpenBao(require_tool("bao"), tmp_path, tls=True).start_dev()
    try:
        backend = open_vault(context, monkeypatch, server.url, server.root_token)
        error = failure(backend, token=server.root_token)
        assert error.message == (
            f"backend 'prod' (vault): cannot verify the TLS certificate of {server.url}; give "
            "the CA that signed it in backends.prod.ca_cert, or fix url"
        )
        ca = str(server.ca_cert)
        backend = open_vault(context, monkeypatch, server.url, server.root_token, ca_cert=ca)
        assert backend.current([REF]) == {}
        backend.close()
        backend = open_vault(context, monkeypatch, server.url, "t", ca_cert="no-ca.pem")
        error = failure(backend)
        assert "the CA file of ca_cert (no-ca.pem) is missing" in error.message
    finally:
        server.stop()


def test_a_server_that_does_not_answer(
    context: BackendContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vault_module, "TIMEOUT_S", 0.3)
    with socket.socket() as listener:  # accepts connections (backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        error = failure(open_vault(context, monkeypatch, url, "t0ken"))
    assert error.message == f"backend 'prod' (vault): {url} did not answer within 0.3 s; check url"
    assert error.unreachable


# --- a stub server: the answers a healthy OpenBao never gives ---------------------------------

KV2 = {"data": {"type": "kv", "options": {"version": "2"}}}


class Stub:
    """``routes``: path (without the query) -> (status, headers, body bytes); what came in."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.route("/v1/sys/internal/ui/mounts/secret", 200, KV2)

    def route(self, path: str, status: int, body: object, **headers: str) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.routes[path] = (status, headers, data)


@pytest.fixture
def stub() -> Iterator[tuple[Stub, str]]:
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            path = self.path.split("?", 1)[0]
            state.seen.append((self.command, path, dict(self.headers)))
            status, headers, body = state.routes.get(path, (404, {}, b'{"errors":[]}'))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _any

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


DATA = f"/v1/secret/data/{REF}"


@pytest.mark.parametrize(
    ("status", "body", "message", "exit_code"),
    [
        (500, {"errors": ["internal " + REF]}, "{url} answered 500 to read; try again later", 3),
        (502, b"<html>bad gateway</html>", "{url} answered 502 to read; try again later", 3),
        (429, {"errors": []}, "{url} answered 429 to read; try again later", 3),
        (
            418,
            {"errors": [REF]},
            "{url} refused to read (418); check backends.prod.mount and the ref",
            1,
        ),
        (
            400,
            {"errors": ["bad " + REF]},
            "{url} refused to read (400); check backends.prod.mount and the ref",
            1,
        ),
        (
            200,
            {"data": {"data": {}, "metadata": {"created_time": "x"}}},
            "{url} gave an answer that is not KV version 2 to read; check that 'secret' is a "
            "KV v2 mount",
            3,
        ),
    ],
)
def test_odd_answers(
    stub: tuple[Stub, str],
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    body: object,
    message: str,
    exit_code: int,
) -> None:
    state, url = stub
    state.route(DATA, status, body)
    error = failure(open_vault(context, monkeypatch, url, "t0ken"))
    assert error.message == f"backend 'prod' (vault): {message.format(url=url)}"
    assert error.exit_code == (EXIT_ENVIRONMENT if exit_code == 3 else EXIT_FINDINGS)


def test_an_odd_answer_to_a_write(
    stub: tuple[Stub, str], context: BackendContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = stub
    state.route(DATA, 200, {"data": {"version": "one"}})
    monkeypatch.setattr(VaultBackend, "_existing", lambda *a: (None, 0))
    error = failure(open_vault(context, monkeypatch, url, "t0ken"), write=True)
    assert "gave an answer that is not KV version 2 to write" in error.message


@pytest.mark.parametrize("created", [{"created_time": "soon"}, {"created_time": 7}, {}])
def test_created_time_that_is_no_time(
    stub: tuple[Stub, str],
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
    created: dict[str, object],
) -> None:
    state, url = stub
    record = {"gitrot_version": 1, "gitrot_name": NAME, "gitrot_commit": "c", "gitrot_key": "k"}
    state.route(DATA, 200, {"data": {"data": record, "metadata": {"version": 1, **created}}})
    backend = open_vault(context, monkeypatch, url, "t0ken")
    assert backend.current([REF])[REF].written_at == 0
    backend.close()


@pytest.mark.parametrize(
    "mount",
    [
        (404, {"errors": []}),
        (400, {"errors": ["no mount"]}),
        (200, {"data": {"type": "kv", "options": None}}),
        (200, {"data": {"type": "generic", "options": {"version": "1"}}}),
        (200, {"data": "kv"}),
        (200, b"not json"),
    ],
)
def test_a_mount_that_is_not_kv2(
    stub: tuple[Stub, str],
    context: BackendContext,
    monkeypatch: pytest.MonkeyPatch,
    mount: tuple[int, object],
) -> None:
    state, url = stub
    state.route("/v1/sys/internal/ui/mounts/secret", *mount)
    error = failure(open_vault(context, monkeypatch, url, "t0ken"))
    assert "has no mount 'secret'" in error.message or "is not a KV version 2" in error.message
    assert error.unreachable
    assert [path for _m, path, _h in state.seen] == ["/v1/sys/internal/ui/mounts/secret"]


def test_a_redirect_is_not_followed(
    stub: tuple[Stub, str], context: BackendContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = stub
    state.route(DATA, 307, {}, Location=url + "/elsewhere")
    error = failure(open_vault(context, monkeypatch, url, "t0ken-xyz"), token="t0ken-xyz")
    assert "refused to read (307)" in error.message
    assert "/elsewhere" not in [path for _m, path, _h in state.seen]
