"""Zero downtime, proven on a real PostgreSQL (tests/rotators/postgres.py): 20 rotations of a
secret rotated by the ``postgres`` rotator are merged and reconciled through the real CLI,
each reconcile first SIGKILLed at a random (seeded) point and then run to the end, while a
consumer thread reads the current value from the backend and logs in with it every 50 ms.

With the ``alternating`` strategy the consumer never fails to log in (the previous role
keeps its password until the rotation after next); with ``single`` the same test counts
the failures of instances that still hold the old password after it changed at the source
(between ``set`` and ``promote``, longer when a kill lands there). Both counts, and the
logins made, are written to ``build/test-reports/zero-downtime.txt`` (``make test`` prints
it). After each completed rotation: the new credential logs in; with ``alternating`` the
previous one still does and the one from two rotations ago does not. At the end neither the
server log (``log_statement=all``) nor ``pg_stat_statements`` holds any password.
"""

from __future__ import annotations

import json
import random
import secrets
import signal
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from gitrot.errors import BackendError
from gitrot.rotators import scram
from tests.reconcile.helpers import PolicyRepo, environment, logger_trigger, run, start
from tests.reconcile.rotating import add_rotators, name_rotator
from tests.rotators.postgres import Postgres, postgres, unique  # noqa: F401 - the fixture

ROTATIONS = 20
PERIOD_S = 0.05  # the consumer logs in every 50 ms
SEED = 20261206
NAME = "app/db"
ADMIN_ENV = "GITROT_TEST_PGADMIN"
REPORT = Path(__file__).resolve().parents[2] / "build" / "test-reports" / "zero-downtime.txt"


class Consumer(threading.Thread):
    """An instance of the service: every :data:`PERIOD_S` it reads the current value from
    the backend (a new build pulls it) and logs in with it; counts logins and failures."""

    def __init__(self, repo: PolicyRepo, server: Postgres, role: str) -> None:
        super().__init__(daemon=True)
        self.backend = repo.backend()
        self.ref = repo.refs[NAME]
        self.server = server
        self.role = role  # single: the value is the password of this role
        self.logins = 0
        self.failures: list[str] = []
        self.halt = threading.Event()

    def credential(self) -> tuple[str, str]:
        value = self.backend.read(self.ref).reveal()
        if not self.role:
            parsed = json.loads(value)
            return parsed["username"], parsed["password"]
        return self.role, value

    def run(self) -> None:
        while not self.halt.wait(PERIOD_S):
            try:
                user, password = self.credential()
            except BackendError as exc:  # a torn read of the store would be a failure too
                self.failures.append(f"read: {exc.message}")
                continue
            params = self.server.params(user, password)
            try:
                with psycopg.connect(**params, connect_timeout=5) as conn:
                    conn.execute("SELECT 1")
                self.logins += 1
            except psycopg.OperationalError as exc:
                self.failures.append(f"login as {user}: {str(exc).splitlines()[0][:80]}")


@pytest.fixture
def admin(postgres: Postgres) -> str:  # noqa: F811 - the fixture
    """A role with CREATEROLE (not a superuser) whose password is in :data:`ADMIN_ENV`."""
    user, password = unique("rotator"), "adm-" + secrets.token_hex(12)
    postgres.sql(
        sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
            sql.Identifier(user), sql.Literal(scram.verifier(password))
        )
    )
    return user  # left on the session's server (it owns the roles' memberships)


def create_roles(server: Postgres, admin: str, password: str, count: int) -> list[str]:
    """``count`` login roles created by the admin (who therefore may change them), members
    of one group role holding the grants, as docs/rotators.md advises."""
    roles = [unique("app") for _ in range(count)]
    group = unique("grp")
    with psycopg.connect(**server.params(admin, password), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(group)))
        for role in roles:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN IN ROLE {} PASSWORD {}").format(
                    sql.Identifier(role),
                    sql.Identifier(group),
                    sql.Literal(scram.verifier(secrets.token_hex(16))),
                )
            )
    return roles


def make_repo(root: Path, server: Postgres, admin: str, options: dict[str, Any]) -> PolicyRepo:
    repo = PolicyRepo.create(root, triggers={"api": logger_trigger(root.parent / "log")})
    rotator = {
        "type": "postgres",
        "host": server.host,
        "port": server.port,
        "admin_user": admin,
        "admin_password": {"env": ADMIN_ENV},
        "connect_timeout": 5,
        **options,
    }
    add_rotators(repo, {"app-db": rotator})
    repo.new(NAME)
    name_rotator(repo, NAME, "app-db")
    repo.commit("The application's database password, rotated at its source")
    return repo


def reconcile_with_a_kill(repo: PolicyRepo, env: dict[str, str], rng: random.Random,
                          longest: float) -> None:  # fmt: skip
    """One ``gitrot reconcile`` SIGKILLed after a random part of ``longest`` seconds (or
    finished before), then one run to the end, which must succeed."""
    child = start(repo.root, "reconcile", env=env)
    try:
        child.wait(timeout=rng.uniform(0, longest))
    except Exception:  # still running: the kill lands inside the run
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.stderr is not None:
            child.stderr.close()
    done = run(repo.root, "reconcile", env=env)
    assert done.returncode == 0, done.stderr


def rotate_many(repo: PolicyRepo, server: Postgres, env: dict[str, str],
                consumer: Consumer) -> list[tuple[str, str]]:  # fmt: skip
    """Version 1 reconciled, then :data:`ROTATIONS` rotations merged and reconciled with a
    kill each, the consumer logging in throughout; the credential of every version."""
    began = time.monotonic()
    first = run(repo.root, "reconcile", env=env)
    assert first.returncode == 0, first.stderr
    longest = time.monotonic() - began
    credentials = [consumer.credential()]
    rng = random.Random(SEED)
    consumer.start()
    try:
        for _ in range(ROTATIONS):
            repo.rotate(NAME)
            repo.commit(f"Rotate {NAME}")
            reconcile_with_a_kill(repo, env, rng, longest)
            credentials.append(consumer.credential())
            check_logins(server, credentials, alternating=not consumer.role)
    finally:
        consumer.halt.set()
        consumer.join(timeout=10)
    return credentials


def check_logins(
    server: Postgres, credentials: list[tuple[str, str]], *, alternating: bool
) -> None:
    """After a completed rotation: the new credential logs in; alternating: the previous
    one too, and the one from two rotations ago no more."""
    assert server.can_login(*credentials[-1]), "the new credential does not log in"
    if alternating and len(credentials) >= 2:
        assert server.can_login(*credentials[-2]), "the previous credential stopped working"
        assert credentials[-1][0] != credentials[-2][0], "both versions use one role"
    if alternating and len(credentials) >= 3:
        assert not server.can_login(*credentials[-3]), "a credential two rotations old works"


def report(strategy: str, consumer: Consumer) -> str:
    line = (
        f"zero-downtime ({strategy}): {len(consumer.failures)} failed logins of "
        f"{consumer.logins + len(consumer.failures)} tried, every {PERIOD_S * 1000:g} ms, over "
        f"{ROTATIONS} rotations each SIGKILLed once"
    )
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    with REPORT.open("a", encoding="utf-8") as stream:
        stream.write(line + "\n")
    return line


@pytest.mark.parametrize("strategy", ["alternating", "single"])
def test_rotations_with_kills_while_a_consumer_logs_in(
    tmp_path: Path,
    postgres: Postgres,  # noqa: F811 - the fixture
    admin: str,
    strategy: str,
) -> None:
    password = "adm-" + secrets.token_hex(12)
    postgres.sql(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(admin), sql.Literal(scram.verifier(password))
        )
    )
    roles = create_roles(postgres, admin, password, 2 if strategy == "alternating" else 1)
    options: dict[str, Any] = {"strategy": strategy}
    options.update({"roles": roles} if strategy == "alternating" else {"role": roles[0]})
    repo = make_repo(tmp_path / "policy", postgres, admin, options)
    env = environment(**{ADMIN_ENV: password})
    consumer = Consumer(repo, postgres, "" if strategy == "alternating" else roles[0])

    credentials = rotate_many(repo, postgres, env, consumer)

    print(report(strategy, consumer))
    assert consumer.logins >= ROTATIONS, "the consumer hardly ran"
    if strategy == "alternating":
        assert consumer.failures == [], consumer.failures[:5]
    passwords = [secret for _, secret in credentials] + [password]
    log, statements = postgres.log_text(), "\n".join(postgres.statements())
    for secret in passwords:
        assert secret not in log
        assert secret not in statements
