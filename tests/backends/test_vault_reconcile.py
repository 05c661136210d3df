"""End to end on a REAL OpenBao: ``gitrot reconcile``, ``status``, ``plan`` and ``exec``
(child processes, the real CLI) on a policy repository whose gitrot.yaml names a ``vault``
backend on loopback (tests/backends/openbao.py). What a consumer sees is read from the KV
path with another client (urllib); ``bao kv metadata get``'s versions are read the same way.
Each failure of the server is one line naming the backend, exit 3, nothing written, and the
run after the cause is fixed finishes the work."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.backends.openbao import OpenBao, openbao  # noqa: F401 - the fixture
from tests.conftest import require_tool
from tests.reconcile.helpers import (
    PolicyRepo,
    environment,
    repo_on_backend,
    run,
)

NAME = "svc/payments-db"
PRINT = "import os, sys; sys.stdout.write(os.environ['DB'])"
WRITER = 'path "secret/data/apps/*" { capabilities = ["create", "update", "read"] }'
READER = 'path "secret/data/apps/*" { capabilities = ["read"] }'


def vault_repo(root: Path, url: str, log: Path, ref: str, *, mount: str = "secret") -> PolicyRepo:
    """A policy repository with backend ``vault`` at ``url`` and one intent on it."""
    return repo_on_backend(
        root, NAME, ref, f"vault: {{type: vault, url: '{url}', mount: {mount}}}", log
    )


def unique_ref() -> str:
    return f"apps/e2e-{secrets.token_hex(5)}/db"


def deliveries(log: Path) -> list[list[str]]:
    return [line.split()[:2] for line in log.read_text().splitlines()] if log.exists() else []


def test_reconcile_status_plan_exec_on_openbao(
    openbao: OpenBao,  # noqa: F811
    tmp_path: Path,
) -> None:
    ref, log = unique_ref(), tmp_path / "deliveries.log"
    repo = vault_repo(tmp_path / "policy", openbao.url, log, ref)
    token = openbao.token(WRITER)
    env = environment(VAULT_TOKEN=token)

    first = run(repo.root, "reconcile", env=env)
    assert first.returncode == 0, first.stderr
    one = openbao.kv_get(ref)["value"]
    assert openbao.kv_get(ref)["gitrot_name"] == NAME
    for _rerun in range(2):
        again = run(repo.root, "reconcile", env=env)
        assert again.returncode == 0, again.stderr
    assert sorted(openbao.kv_versions(ref)) == [1]
    repo.rotate(NAME)
    repo.commit()
    second = run(repo.root, "reconcile", env=env)
    assert second.returncode == 0, second.stderr
    two = openbao.kv_get(ref)["value"]  # a reader of the KV path sees the new value
    assert two != one and len(two) == 32
    again = run(repo.root, "reconcile", env=env)
    assert again.returncode == 0, again.stderr
    assert sorted(openbao.kv_versions(ref)) == [1, 2]  # one KV version per gitrot version
    assert openbao.kv_get(ref, 1)["value"] == one
    assert deliveries(log) == [[NAME, "1"], [NAME, "2"]]
    note = repo.note()
    assert note is not None and "backend_version_id" in json.dumps(note)

    status = run(repo.root, "status", "--exit-code", "--format", "json", env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    plan = run(repo.root, "plan", "--format", "json", env=env)
    assert (plan.returncode, json.loads(plan.stdout)["items"]) == (0, []), plan.stderr
    shown = run(repo.root, "exec", "--secret", f"{NAME}=DB", "--", "python3", "-c", PRINT, env=env)
    assert (shown.returncode, shown.stdout) == (0, two), shown.stderr
    older = ["exec", "--version", "1", "--secret", f"{NAME}=DB", "--", "python3", "-c", PRINT]
    assert run(repo.root, *older, env=env).stdout == one
    reader = environment(VAULT_TOKEN=openbao.token(READER))  # status and exec only read
    assert run(repo.root, "status", "--exit-code", env=reader).returncode == 0
    assert (
        run(repo.root, "exec", "--secret", f"{NAME}=DB", "--", "true", env=reader).returncode == 0
    )
    for done in (first, second, again, status, plan):
        for hidden in (one, two, token):
            assert hidden not in done.stdout + done.stderr


def one_line_exit_3(done: object, needle: str, *hidden: str) -> None:
    returncode, stdout, stderr = done.returncode, done.stdout, done.stderr  # type: ignore[attr-defined]
    assert returncode == 3, (stdout, stderr)
    assert "Traceback" not in stderr
    assert needle in stderr, stderr
    assert "backend 'vault' (vault): " in stderr
    lines = [line for line in stderr.splitlines() if needle in line]
    assert len(lines) == 1, stderr
    for text in hidden:
        assert text not in stdout + stderr


def test_a_wrong_token_then_the_right_one(
    openbao: OpenBao,  # noqa: F811
    tmp_path: Path,
) -> None:
    ref, log = unique_ref(), tmp_path / "deliveries.log"
    repo = vault_repo(tmp_path / "policy", openbao.url, log, ref)
    wrong = "s.wrong-" + secrets.token_hex(8)
    for command in (["reconcile"], ["plan"], ["status"]):
        done = run(repo.root, *command, env=environment(VAULT_TOKEN=wrong))
        one_line_exit_3(done, "refused the token from $VAULT_TOKEN to read (403", wrong, ref)
    assert openbao.kv_versions(ref) == {} and not log.exists()
    done = run(repo.root, "reconcile", env=environment(VAULT_TOKEN=openbao.root_token))
    assert done.returncode == 0, done.stderr
    assert sorted(openbao.kv_versions(ref)) == [1]
    assert deliveries(log) == [[NAME, "1"]]


def test_a_token_without_write_permission_then_one_with_it(
    openbao: OpenBao,  # noqa: F811
    tmp_path: Path,
) -> None:
    ref, log = unique_ref(), tmp_path / "deliveries.log"
    repo = vault_repo(tmp_path / "policy", openbao.url, log, ref)
    reader = openbao.token(READER)
    done = run(repo.root, "reconcile", env=environment(VAULT_TOKEN=reader))
    one_line_exit_3(done, "refused the token from $VAULT_TOKEN to write (403", reader, ref)
    assert openbao.kv_versions(ref) == {} and not log.exists()
    done = run(repo.root, "reconcile", env=environment(VAULT_TOKEN=openbao.token(WRITER)))
    assert done.returncode == 0, done.stderr
    assert sorted(openbao.kv_versions(ref)) == [1]
    assert deliveries(log) == [[NAME, "1"]]


def test_an_unknown_mount(
    openbao: OpenBao,  # noqa: F811
    tmp_path: Path,
) -> None:
    ref, log = unique_ref(), tmp_path / "deliveries.log"
    repo = vault_repo(tmp_path / "policy", openbao.url, log, ref, mount="nope")
    done = run(repo.root, "reconcile", env=environment(VAULT_TOKEN=openbao.root_token))
    one_line_exit_3(done, "has no mount 'nope' the token may use", openbao.root_token, ref)
    assert done.returncode == 3
    assert openbao.kv_versions(ref) == {} and not log.exists()  # nothing half-applied


def test_a_sealed_server_then_unsealed(tmp_path: Path) -> None:
    server = OpenBao(require_tool("bao"), tmp_path / "bao").start_server()
    try:
        key = server.init()
        ref, log = unique_ref(), tmp_path / "deliveries.log"
        repo = vault_repo(tmp_path / "policy", server.url, log, ref)
        env = environment(VAULT_TOKEN=server.root_token)
        done = run(repo.root, "reconcile", env=env)
        one_line_exit_3(done, "is sealed or unavailable (503)", server.root_token, ref)
        assert not log.exists()
        server.unseal(key)
        done = run(repo.root, "reconcile", env=env)
        assert done.returncode == 0, done.stderr
        assert sorted(server.kv_versions(ref)) == [1]
        assert deliveries(log) == [[NAME, "1"]]
    finally:
        server.stop()


def test_a_stopped_server_then_started(tmp_path: Path) -> None:
    server = OpenBao(require_tool("bao"), tmp_path / "bao")
    ref, log = unique_ref(), tmp_path / "deliveries.log"
    repo = vault_repo(tmp_path / "policy", server.url, log, ref)
    env = environment(VAULT_TOKEN=server.root_token)
    done = run(repo.root, "reconcile", env=env)
    one_line_exit_3(done, f"cannot connect to {server.url}", server.root_token, ref)
    server.start_dev()
    try:
        done = run(repo.root, "reconcile", env=env)
        assert done.returncode == 0, done.stderr
        assert sorted(server.kv_versions(ref)) == [1]
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        ("url: 'https://v', token: hvs.abc", "backends.vault.token is a credential written"),
        ("url: 'http://vault.example'", "backends.vault.url must use https"),
        ("mount: secret", "required key 'backends.vault.url' is missing"),
        ("url: 'https://v', adress: x", "backends.vault: unknown option 'adress'"),
    ],
)
def test_validate_checks_the_options_at_their_line(
    tmp_path: Path, options: str, refusal: str
) -> None:
    repo = PolicyRepo.create(tmp_path / "policy", triggers={})
    config = repo.root / "gitrot.yaml"
    text = config.read_text().replace(
        "backends:\n", f"backends:\n  vault: {{type: vault, {options}}}\n", 1
    )
    config.write_text(text)
    done = run(repo.root, "validate", "gitrot.yaml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("gitrot.yaml:8:"), done.stdout
    assert refusal in done.stdout
    assert "hvs.abc" not in done.stdout + done.stderr
