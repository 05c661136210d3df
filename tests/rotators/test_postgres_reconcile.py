"""The postgres rotator through ``gitrot reconcile`` (the real CLI, child processes) on a
PostgreSQL of its own (tests/rotators/postgres.py), which this module stops and starts:

- a wrong admin password: exit 3, one line naming the secret, the rotator and the step, the
  version pending and nothing current; the run after the password is fixed completes it;
- the server down mid-life: exit 3 the same way, the current credential unchanged (it still
  logs in once the server is back), and the next run resumes with the same pending value;
- no message holds a password, the admin's included.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from gitrot.rotators import scram
from tests.reconcile.helpers import PolicyRepo, environment, logger_trigger, run
from tests.reconcile.rotating import add_rotators, name_rotator
from tests.rotators.postgres import Postgres, start_postgres, unique

NAME = "app/db"
ADMIN_ENV = "GITROT_TEST_PGADMIN"


@pytest.fixture(scope="module")
def server() -> Iterator[Postgres]:
    """A server this module may stop (the session's is shared)."""
    started = start_postgres()
    try:
        yield started
    finally:
        started.stop()
        started.remove()


def setup_roles(server: Postgres) -> tuple[str, str, list[str]]:
    """An admin with CREATEROLE and the two login roles it created: (admin, its password,
    roles)."""
    admin, password = unique("rotator"), "adm-" + secrets.token_hex(12)
    server.sql(
        sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
            sql.Identifier(admin), sql.Literal(scram.verifier(password))
        )
    )
    roles = [unique("app"), unique("app")]
    with psycopg.connect(**server.params(admin, password), autocommit=True) as conn:
        for role in roles:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(scram.verifier(secrets.token_hex(16)))
                )
            )
    return admin, password, roles


def credential(repo: PolicyRepo, version: int | None = None) -> tuple[str, str]:
    value = json.loads(repo.backend().read(repo.refs[NAME], version).reveal())
    return value["username"], value["password"]


def the_error(done: object) -> str:
    stderr = getattr(done, "stderr", "")
    lines = [line for line in stderr.splitlines() if line.startswith("gitrot: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_failures_exit_3_and_the_next_run_completes(tmp_path: Path, server: Postgres) -> None:
    admin, password, roles = setup_roles(server)
    repo = PolicyRepo.create(tmp_path / "policy", triggers={"api": logger_trigger(tmp_path / "l")})
    add_rotators(repo, {"app-db": {
        "type": "postgres", "host": server.host, "port": server.port, "admin_user": admin,
        "admin_password": {"env": ADMIN_ENV}, "strategy": "alternating", "roles": roles,
        "connect_timeout": 2,
    }})  # fmt: skip
    repo.commit("A rotator")
    assert run(repo.root, "reconcile").returncode == 0
    repo.new(NAME)
    name_rotator(repo, NAME, "app-db")
    repo.commit("The application's database credential")
    outputs = []

    wrong = run(repo.root, "reconcile", env=environment(**{ADMIN_ENV: "not-the-password"}))
    outputs.append(wrong)
    assert wrong.returncode == 3
    assert the_error(wrong).startswith(f"gitrot: error: {NAME}: rotator app-db")
    assert " failed at set: " in the_error(wrong)
    assert "password" in the_error(wrong).split(" failed at set: ")[1]  # says what to fix
    status = json.loads(run(repo.root, "status", "--format", "json").stdout)["secrets"][0]
    assert status["pending"]["version"] == 1 and status["stage"] == "pending"

    env = environment(**{ADMIN_ENV: password})
    fixed = run(repo.root, "reconcile", env=env)
    outputs.append(fixed)
    assert fixed.returncode == 0, fixed.stderr
    first = credential(repo)
    assert first[0] == roles[0] and server.can_login(*first)

    repo.rotate(NAME)
    repo.commit()
    server.stop()
    try:
        down = run(repo.root, "reconcile", env=env)
    finally:
        server.start()
    outputs.append(down)
    assert down.returncode == 3
    assert the_error(down).startswith(f"gitrot: error: {NAME}: rotator app-db")
    assert credential(repo) == first  # current unchanged
    assert server.can_login(*first)
    pending = credential(repo, 2)

    again = run(repo.root, "reconcile", env=env)
    outputs.append(again)
    assert again.returncode == 0, again.stderr
    assert credential(repo) == pending  # the same pending value, promoted
    assert pending[0] == roles[1]
    assert server.can_login(*pending) and server.can_login(*first)
    assert run(repo.root, "status", "--exit-code", env=env).returncode == 0

    texts = [done.stdout + done.stderr for done in outputs] + [json.dumps(repo.note())]
    for secret in (first[1], pending[1], password):
        assert all(secret not in text for text in texts)
        assert secret not in server.log_text()
