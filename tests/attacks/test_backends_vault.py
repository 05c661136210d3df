"""The vault backend cannot be turned against the reconciler, its token or its secrets.

On a REAL OpenBao (tests/backends/openbao.py), through the real CLI:

(a) gitrot.yaml carries no token: a token key, a URL with a user and password or a token
in its query are refused by ``gitrot validate`` at their line and never repeated; plain
http to a host that is not loopback is refused (the token would cross the network in clear).
(b) A command trigger never gets the variable the vault backend reads its token from.
(c) A KV path that holds another secret's versions (another gitrot repository's) is refused;
the path is left untouched.
(d) A ref that climbs out of the mount (``../sys/...``) is refused before any request.
(e) A server that redirects gets no token to the other host: redirects are not followed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gitrot.backends.vault import VaultBackend
from gitrot.core.ports import BackendContext, BackendError
from tests.backends.openbao import OpenBao, openbao  # noqa: F401 - the fixture
from tests.backends.test_vault_reconcile import unique_ref, vault_repo
from tests.reconcile.helpers import PolicyRepo, environment, run

# a constant: parametrize ids must match across workers
TOKEN = "hvs.attack-0b1f5c3e9d27a4c6e8f0"  # gitrot: allow a made-up token the attacks look for


def with_backend(
    tmp_path: Path, line: str, triggers: dict[str, dict[str, object]] | None = None
) -> PolicyRepo:
    repo = PolicyRepo.create(tmp_path / "policy", triggers=triggers or {})
    config = repo.root / "gitrot.yaml"
    text = config.read_text().replace("backends:\n", f"backends:\n  vault: {line}\n", 1)
    config.write_text(text)
    return repo


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        (f"url: 'https://v', token: {TOKEN}", "backends.vault.token is a credential"),
        (f"url: 'https://v', vault_token: {TOKEN}", "backends.vault.vault_token is a credential"),
        (f"url: 'https://root:{TOKEN}@v'", "backends.vault.url must not carry credentials"),
        (f"url: 'https://v/?token={TOKEN}'", "backends.vault.url must not carry credentials"),
        ("url: 'http://vault.example:8200'", "backends.vault.url must use https"),
    ],
)
def test_no_token_in_gitrot_yaml(tmp_path: Path, options: str, refusal: str) -> None:
    repo = with_backend(tmp_path, f"{{type: vault, {options}}}")
    done = run(repo.root, "validate", "gitrot.yaml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("gitrot.yaml:8:"), done.stdout
    assert refusal in done.stdout
    assert TOKEN not in done.stdout + done.stderr


@pytest.mark.parametrize(("token_env", "passed"), [("PROD_BAO", "PROD_BAO"), (None, "VAULT_TOKEN")])
def test_a_command_trigger_never_gets_the_token_variable(
    tmp_path: Path, token_env: str | None, passed: str
) -> None:
    option = f", token_env: {token_env}" if token_env else ""
    trigger = {"deploy": {"type": "command", "argv": ["make", "deploy"], "env": [passed]}}
    repo = with_backend(tmp_path, f"{{type: vault, url: 'https://v'{option}}}", trigger)
    done = run(repo.root, "validate", "gitrot.yaml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"triggers.deploy.env must not pass {passed} to a command" in done.stdout


def test_a_path_holding_another_secrets_versions_is_refused(
    openbao: OpenBao,  # noqa: F811
    tmp_path: Path,
) -> None:
    ref = unique_ref()
    theirs = {"gitrot_version": 1, "gitrot_name": "other-team/db", "gitrot_commit": "c" * 40}
    openbao.kv_put(ref, {"value": "their-value", **theirs, "gitrot_key": "gr1-theirs"})
    repo = vault_repo(tmp_path / "policy", openbao.url, tmp_path / "log", ref)
    done = run(repo.root, "reconcile", env=environment(VAULT_TOKEN=openbao.root_token))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "written for another secret (other-team/db)" in done.stdout + done.stderr
    assert "their-value" not in done.stdout + done.stderr
    assert sorted(openbao.kv_versions(ref)) == [1]
    assert openbao.kv_get(ref)["value"] == "their-value"
    assert not (tmp_path / "log").exists()


def test_a_ref_out_of_the_mount_is_refused(
    openbao: OpenBao,  # noqa: F811
    tmp_path: Path,
) -> None:
    repo = vault_repo(tmp_path / "policy", openbao.url, tmp_path / "log", "../sys/policies/x")
    status, before = openbao.api("GET", "sys/policies/acl")
    done = run(repo.root, "reconcile", env=environment(VAULT_TOKEN=openbao.root_token))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not a valid vault ref" in done.stdout + done.stderr
    assert openbao.api("GET", "sys/policies/acl") == (status, before)


@pytest.fixture
def two_hosts() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A server that redirects every request to a second one, which records what it gets."""
    received: list[dict[str, str]] = []
    other = start(lambda handler: received.append(dict(handler.headers)), None)
    other_url = f"http://127.0.0.1:{other.server_address[1]}"
    first = start(lambda handler: None, other_url)
    try:
        yield f"http://127.0.0.1:{first.server_address[1]}", received
    finally:
        for server in (first, other):
            server.shutdown()
            server.server_close()


def start(record: object, redirect: str | None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            record(self)  # type: ignore[operator]
            self.send_response(307 if redirect else 200)
            if redirect:
                self.send_header("Location", redirect + self.path)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = _any

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    return server


def test_a_redirect_never_carries_the_token_elsewhere(
    two_hosts: tuple[str, list[dict[str, str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received = two_hosts
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    context = BackendContext(root=str(tmp_path), recipients=(), identities="")
    backend = VaultBackend("vault", {"url": url}, context)
    with pytest.raises(BackendError) as info:
        backend.current(["apps/db"])
    backend.close()
    assert "refused to read (307)" in info.value.message
    assert TOKEN not in str(info.value)
    assert received == []
