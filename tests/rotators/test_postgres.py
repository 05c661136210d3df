"""The postgres rotator against a real PostgreSQL (tests/rotators/postgres.py): single and
alternating rotations log in as they should, no plain password reaches the server's log
or pg_stat_statements, and each failure is a RotatorError naming the step, without a value.

The rotator's admin is a role with CREATEROLE that created the rotated roles (so it holds
ADMIN OPTION on them): the least privileges docs/rotators.md asks for, not a superuser.
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from gitrot.core.ports import RotatorContext
from gitrot.core.secret import SecretValue
from gitrot.errors import RotatorError
from gitrot.rotators import scram
from gitrot.rotators.postgres import PostgresRotator
from tests.rotators.postgres import Postgres, free_port, postgres, unique  # noqa: F401

ADMIN_ENV = "GITROT_TEST_PGADMIN"


class Admin:
    """The rotator's admin role on the shared server, and the roles it created."""

    def __init__(self, server: Postgres) -> None:
        self.server = server
        self.user = unique("rotator")
        self.password = "adm-" + secrets.token_hex(12)
        server.sql(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
                sql.Identifier(self.user), sql.Literal(scram.verifier(self.password))
            )
        )

    def create_role(self, prefix: str = "app", *, login: bool = True, name: str = "") -> str:
        """A role the admin creates (with a password nobody knows)."""
        role = name or unique(prefix)
        statement = sql.SQL("CREATE ROLE {} {} PASSWORD {}").format(
            sql.Identifier(role),
            sql.SQL("LOGIN" if login else "NOLOGIN"),
            sql.Literal(scram.verifier(secrets.token_hex(16))),
        )
        params = self.server.params(self.user, self.password)
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute(statement)
        return role


@pytest.fixture(scope="module")
def admin(postgres: Postgres) -> Admin:  # noqa: F811 - the fixture
    return Admin(postgres)


@pytest.fixture
def admin_env(admin: Admin, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(ADMIN_ENV, admin.password)
    return ADMIN_ENV


def context(root: Path | str = ".", **secret_values: str) -> RotatorContext:
    def read_secret(name: str) -> SecretValue:
        return SecretValue(secret_values[name])

    return RotatorContext(name="db-password", version=1, root=str(root), read_secret=read_secret)


def options(server: Postgres, admin: Admin, **extra: Any) -> dict[str, Any]:
    return {
        "host": server.host,
        "port": server.port,
        "admin_user": admin.user,
        "admin_password": {"env": ADMIN_ENV},
        "connect_timeout": 2,
        **extra,
    }


def rotate(rotator: PostgresRotator, current: SecretValue | None) -> SecretValue:
    """prepare, set and test as the reconciler calls them; the new value."""
    pending = rotator.prepare(SecretValue("pw-" + secrets.token_urlsafe(18)), current)
    rotator.set(pending, current)
    rotator.test(pending)
    return pending


def credential(value: SecretValue, role: str = "") -> tuple[str, str]:
    if role:
        return role, value.reveal()
    parsed = json.loads(value.reveal())
    return parsed["username"], parsed["password"]


def refused(call: Any, step: str) -> RotatorError:
    with pytest.raises(RotatorError) as caught:
        call()
    error = caught.value
    assert error.step == step
    assert error.exit_code == 3
    assert error.message.startswith(f"rotator db failed at {step}: ")
    return error


def assert_unseen(server: Postgres, *passwords: str) -> None:
    """No password in the server's log nor in pg_stat_statements."""
    log = server.log_text()
    statements = "\n".join(server.statements())
    for password in passwords:
        assert password not in log
        assert password not in statements


def test_single_the_new_password_logs_in_and_the_old_does_not(
    postgres: Postgres,  # noqa: F811 - the fixture
    admin: Admin,
    admin_env: str,
) -> None:
    role = admin.create_role()
    rotator = PostgresRotator("db", options(postgres, admin, role=role), context())
    first = rotate(rotator, None)
    assert postgres.can_login(*credential(first, role))
    second = rotate(rotator, first)
    assert postgres.can_login(*credential(second, role))
    assert not postgres.can_login(*credential(first, role))
    assert_unseen(postgres, first.reveal(), second.reveal())
    # the statement was logged (log_statement=all), with the verifier only
    assert f'ALTER ROLE "{role}" PASSWORD \'SCRAM-SHA-256$4096:' in postgres.log_text()
    if postgres.stat_statements:
        assert any(f'ALTER ROLE "{role}"' in text for text in postgres.statements())
    rotator.close()


def test_alternating_keeps_the_previous_credential_until_the_next_rotation(
    postgres: Postgres,  # noqa: F811 - the fixture
    admin: Admin,
    admin_env: str,
) -> None:
    roles = [admin.create_role("app_a"), admin.create_role("app_b")]
    rotator = PostgresRotator(
        "db", options(postgres, admin, strategy="alternating", roles=roles), context()
    )
    values: list[SecretValue] = []
    current = None
    for _ in range(3):
        current = rotate(rotator, current)
        values.append(current)
        assert postgres.can_login(*credential(values[-1]))
        if len(values) >= 2:
            assert postgres.can_login(*credential(values[-2]))
        if len(values) >= 3:
            assert not postgres.can_login(*credential(values[-3]))
    assert [credential(value)[0] for value in values] == [roles[0], roles[1], roles[0]]
    assert_unseen(postgres, *(credential(value)[1] for value in values))


def test_set_and_test_are_idempotent(
    postgres: Postgres,  # noqa: F811 - the fixture
    admin: Admin,
    admin_env: str,
) -> None:
    """A rerun after a kill calls set and test again with the same pending value."""
    roles = [admin.create_role("app_a"), admin.create_role("app_b")]
    rotator = PostgresRotator(
        "db", options(postgres, admin, strategy="alternating", roles=roles), context()
    )
    current = rotate(rotator, None)
    pending = rotator.prepare(SecretValue("pw-" + secrets.token_hex(8)), current)
    for _ in range(2):
        rotator.set(pending, current)
        rotator.test(pending)
    assert postgres.can_login(*credential(pending))
    assert postgres.can_login(*credential(current))


def test_the_admin_password_from_a_file_or_another_secret(
    postgres: Postgres,  # noqa: F811 - the fixture
    admin: Admin,
    tmp_path: Path,
) -> None:
    role = admin.create_role()
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "pgadmin").write_text(admin.password + "\n")
    by_file = PostgresRotator(
        "db",
        options(postgres, admin, role=role, admin_password={"file": "secrets/pgadmin"}),
        context(tmp_path),
    )
    assert postgres.can_login(*credential(rotate(by_file, None), role))
    master = json.dumps({"username": admin.user, "password": admin.password})
    for value in (admin.password, master):  # AWS's "master secret" is JSON
        by_secret = PostgresRotator(
            "db",
            options(postgres, admin, role=role, admin_password={"secret": "pg-admin"}),
            context(tmp_path, **{"pg-admin": value}),
        )
        assert postgres.can_login(*credential(rotate(by_secret, None), role))


def test_role_names_are_quoted_and_any_password_is_accepted(
    postgres: Postgres,  # noqa: F811 - the fixture
    admin: Admin,
    admin_env: str,
) -> None:
    """sql.Identifier quotes the role; a non-ASCII password is prepared as libpq prepares
    it when logging in (SASLprep), so the verifier matches."""
    role = admin.create_role(name=f'App "{secrets.token_hex(3)}"; DROP ROLE x; --')
    rotator = PostgresRotator("db", options(postgres, admin, role=role), context())
    for password in ("p\u00e4ss w\u00f6rd\u00a0\ufb01 \u200b!", "'; SELECT 1; --", "\u0221z"):
        pending = SecretValue(password)
        rotator.set(pending, None)
        rotator.test(pending)
        assert postgres.can_login(role, password)


@pytest.mark.parametrize(
    "password",
    ["simple", "p\u00e4ss", "a\u00a0b", "x\u200by", "x\u00ady", "\ufb01x", "\u0221z", "a\u0627",
     "\u0627\u0628", "\u00ad", "  "],
)  # fmt: skip
def test_the_verifier_equals_libpqs_for_the_same_salt(
    postgres: Postgres,  # noqa: F811 - the fixture
    password: str,
) -> None:
    """libpq's PQencryptPasswordConn (what psql's \\password sends) is the oracle."""
    with psycopg.connect(**postgres.params()) as conn:
        theirs = conn.pgconn.encrypt_password(password.encode(), b"u", b"scram-sha-256").decode()
    iterations, salt = theirs.split("$")[1].split(":")
    ours = scram.verifier(password, salt=base64.b64decode(salt), iterations=int(iterations))
    assert ours == theirs


# --- failures -----------------------------------------------------------------------------


def test_a_wrong_admin_password_fails_at_set(
    postgres: Postgres,  # noqa: F811 - the fixture
    admin: Admin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    role = admin.create_role()
    monkeypatch.setenv(ADMIN_ENV, "wrong-admin-password")
    rotator = PostgresRotator("db", options(postgres, admin, role=role), context())
    pending = SecretValue("pw-never-set-" + secrets.token_hex(6))
    error = refused(lambda: rotator.set(pending, None), "set")
    assert f"the admin role {admin.user} cannot log in" in error.message
    assert "(wrong admin password)" in error.message
    assert_clean(error, pending.reveal(), "wrong-admin-password")
    assert not postgres.can_login(role, pending.reveal())


def test_a_role_that_is_missing_or_cannot_log_in_fails_at_set(
    postgres: Postgres,  # noqa: F811 - the fixture
    admin: Admin,
    admin_env: str,
) -> None:
    pending = SecretValue("pw-" + secrets.token_hex(8))
    missing = PostgresRotator("db", options(postgres, admin, role="no_such_role"), context())
    error = refused(lambda: missing.set(pending, None), "set")
    assert "the role no_such_role does not exist on postgres 127.0.0.1:" in error.message
    assert "CREATE ROLE no_such_role LOGIN" in error.hint
    assert_clean(error, pending.reveal())
    nologin = admin.create_role("group", login=False)
    error = refused(
        lambda: PostgresRotator("db", options(postgres, admin, role=nologin), context()).set(
            pending, None
        ),
        "set",
    )
    assert f"the role {nologin} cannot log in (NOLOGIN)" in error.message


def test_an_admin_without_admin_option_on_the_role_fails_at_set(
    postgres: Postgres,  # noqa: F811 - the fixture
    admin: Admin,
    admin_env: str,
) -> None:
    role = unique("foreign")
    postgres.sql(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    rotator = PostgresRotator("db", options(postgres, admin, role=role), context())
    pending = SecretValue("pw-" + secrets.token_hex(8))
    error = refused(lambda: rotator.set(pending, None), "set")
    assert f"the admin role {admin.user} may not change the password of {role}" in error.message
    assert "WITH ADMIN OPTION" in error.hint
    assert_clean(error, pending.reveal())


def test_a_password_that_was_not_set_fails_at_test(
    postgres: Postgres,  # noqa: F811 - the fixture
    admin: Admin,
    admin_env: str,
) -> None:
    role = admin.create_role()
    rotator = PostgresRotator("db", options(postgres, admin, role=role), context())
    pending = SecretValue("pw-not-set-" + secrets.token_hex(6))
    error = refused(lambda: rotator.test(pending), "test")
    assert f"{role} does not log in on postgres 127.0.0.1:" in error.message
    assert "with the pending password" in error.message
    assert_clean(error, pending.reveal())


def test_a_server_that_is_down_fails_at_the_step(
    admin: Admin,
    admin_env: str,
) -> None:
    down = {**options(admin.server, admin, role="app"), "port": free_port()}
    rotator = PostgresRotator("db", down, context())
    pending = SecretValue("pw-" + secrets.token_hex(8))
    for step, call in (("set", lambda: rotator.set(pending, None)),
                       ("test", lambda: rotator.test(pending))):  # fmt: skip
        error = refused(call, step)
        assert "refused the connection (is the server running?)" in error.message
        assert "the next run resumes at this step" in error.hint
        assert_clean(error, pending.reveal())


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (a hung server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def test_a_server_that_does_not_answer_fails_within_the_timeout(
    admin: Admin,
    admin_env: str,
    silent_port: int,
) -> None:
    hung = {**options(admin.server, admin, role="app"), "port": silent_port, "connect_timeout": 1}
    rotator = PostgresRotator("db", hung, context())
    error = refused(lambda: rotator.test(SecretValue("pw-x")), "test")
    assert f"postgres 127.0.0.1:{silent_port}/postgres did not answer within 1s" in error.message


def test_other_connection_failures_name_the_server_without_a_value(
    postgres: Postgres,  # noqa: F811 - the fixture
    admin: Admin,
    admin_env: str,
) -> None:
    role = admin.create_role()
    rotator = PostgresRotator(
        "db", options(postgres, admin, role=role, dbname="no_such_db"), context()
    )
    pending = SecretValue("pw-" + secrets.token_hex(8))
    error = refused(lambda: rotator.set(pending, None), "set")
    assert f"cannot connect to postgres 127.0.0.1:{postgres.port}/no_such_db as {admin.user}" in (
        error.message
    )
    assert 'database "no_such_db" does not exist' in error.message
    assert_clean(error, pending.reveal())


def assert_clean(error: RotatorError, *values: str) -> None:
    text = f"{error.message}\n{error.hint}\n{error.render()}"
    for value in values:
        assert value not in text
    assert "SCRAM-SHA-256$" not in text


def test_the_log_and_pg_stat_statements_would_show_a_plain_password(
    postgres: Postgres,  # noqa: F811 - the fixture
    admin: Admin,
) -> None:
    """The control of assert_unseen: what a client that sends the password itself leaves."""
    role = admin.create_role()
    plain = "plain-" + secrets.token_hex(8)
    postgres.sql(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), plain))
    assert plain in postgres.log_text()
    if postgres.stat_statements:
        assert any(plain in text for text in postgres.statements())


def test_a_lock_held_on_the_role_fails_at_set_within_the_timeout(
    postgres: Postgres,  # noqa: F811 - the fixture
    admin: Admin,
    admin_env: str,
) -> None:
    """Each statement may take connect_timeout (statement_timeout): a transaction that
    holds the role's row makes ALTER ROLE wait, then fail, instead of hanging the run."""
    role = admin.create_role()
    rotator = PostgresRotator(
        "db", options(postgres, admin, role=role, connect_timeout=1), context()
    )
    pending = SecretValue("pw-" + secrets.token_hex(8))
    with psycopg.connect(**postgres.params()) as holder:  # a transaction, left open
        holder.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT 5").format(sql.Identifier(role)))
        error = refused(lambda: rotator.set(pending, None), "set")
        holder.rollback()
    assert f"a statement as {admin.user} on postgres 127.0.0.1:{postgres.port}/postgres failed" in (
        error.message
    )
    assert "QueryCanceled, SQLSTATE 57014: timed out, is a lock held on the role?" in error.message
    assert_clean(error, pending.reveal())
    rotator.set(pending, None)  # the lock gone, the rerun sets it
    assert postgres.can_login(role, pending.reveal())


def test_a_read_only_server_fails_at_set_with_the_sqlstate(
    postgres: Postgres,  # noqa: F811 - the fixture
    admin: Admin,
) -> None:
    """As on a hot standby: ALTER ROLE in a read-only transaction."""
    readonly = Admin(postgres)
    role = readonly.create_role()
    postgres.sql(
        sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(
            sql.Identifier(readonly.user)
        )
    )
    rotator = PostgresRotator(
        "db",
        options(postgres, readonly, role=role, admin_password={"secret": "admin"}),
        context(admin=readonly.password),
    )
    error = refused(lambda: rotator.set(SecretValue("pw-" + secrets.token_hex(8)), None), "set")
    assert "failed (ReadOnlySqlTransaction, SQLSTATE 25006)" in error.message
