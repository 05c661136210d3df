"""The ``postgres`` rotator: changes a PostgreSQL role's password at the source
(docs/rotators.md, "postgres").

Options (``rotators.<name>`` in gitrot.yaml)::

    type: postgres
    host: db.internal                  # required
    port: 5432                         # default 5432
    dbname: postgres                   # the database to connect to (default postgres)
    admin_user: rotator                # a role with CREATEROLE and ADMIN OPTION on the roles
    admin_password: {env: PGADMIN_PASSWORD}   # or {file: path} or {secret: <gitrot secret>}
    strategy: single                   # single (default) or alternating
    role: app                          # single: the one login role
    roles: [app_a, app_b]              # alternating: exactly two login roles
    connect_timeout: 5s                # seconds or a duration (default 5s; at most 5m)

``set`` sends ``ALTER ROLE <role> PASSWORD '<SCRAM-SHA-256 verifier>'``: the verifier is
computed here (:mod:`gitrot.rotators.scram`), so the plain password never reaches the
server, its log or ``pg_stat_statements``; the role is quoted by ``psycopg.sql.Identifier``
and the verifier by ``psycopg.sql.Literal``. ``test`` logs in as the role with the pending
password and runs ``SELECT 1``.

Strategies: ``single`` stores the generated password as it is; ``alternating`` stores JSON
``{"username": ..., "password": ...}`` naming the role that is not in the current value
(the first rotation takes ``roles[0]``), so the current credential keeps working until the
next rotation. The admin password is read when ``set`` first needs it: from the
environment, a file (relative to the policy repository's root) or another gitrot secret
(its value, or the ``password`` of a JSON value). Messages name the rotator, the step, the
host, the port and the roles, never a password or a verifier.

psycopg (the ``postgres`` extra) is imported inside the functions that talk to the server:
the validate hook loads this module for :func:`check_options` alone.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gitrot.core.durations import parse_duration
from gitrot.core.ports import RotatorContext
from gitrot.core.secret import SecretValue
from gitrot.errors import RotatorError
from gitrot.triggers.options import OptionError

OPTIONS = (
    "admin_password", "admin_user", "connect_timeout", "dbname", "host", "port", "role",
    "roles", "strategy",
)  # fmt: skip
SINGLE, ALTERNATING = "single", "alternating"
SOURCES = ("env", "file", "secret")
DEFAULT_PORT = 5432
DEFAULT_DBNAME = "postgres"
DEFAULT_TIMEOUT_S = 5
MAX_TIMEOUT_S = 300
NAME_MAX = 63  # PostgreSQL's NAMEDATALEN - 1 (bytes)
APPLICATION = "gitrot"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SOURCE_HINT = (
    "give admin_password as {env: VARIABLE}, {file: path} or {secret: <gitrot secret>}; "
    "never the password itself"
)


@dataclasses.dataclass(frozen=True, slots=True)
class PostgresOptions:
    """The checked options of one postgres rotator (:func:`check_options`)."""

    host: str
    port: int
    dbname: str
    admin_user: str
    #: where the admin password is: (``env``|``file``|``secret``, the variable, path or name)
    admin_password: tuple[str, str]
    strategy: str
    #: ``(role,)`` for single, ``(role_a, role_b)`` for alternating
    roles: tuple[str, ...]
    connect_timeout: int


def check_options(name: str, options: Mapping[str, object]) -> PostgresOptions:
    """The options of ``rotators.<name>`` (type postgres), or an OptionError naming the
    option: the one check the loader (``validate``, ``check``) and the rotator share;
    nothing is contacted and psycopg is not imported."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise OptionError(
            f"rotators.{name}: unknown option {unknown[0]!r} for type postgres",
            option=unknown[0],
            hint=f"a postgres rotator takes: {', '.join(OPTIONS)}",
        )
    strategy = options.get("strategy", SINGLE)
    if strategy not in (SINGLE, ALTERNATING):
        shown = repr(strategy) if isinstance(strategy, str) else f"a {type(strategy).__name__}"
        raise _fail(name, "strategy", f"must be single or alternating, got {shown}")
    admin_user = _name(name, options, "admin_user")
    roles = _roles(name, options, str(strategy))
    if admin_user in roles:
        raise _fail(
            name,
            "admin_user",
            f"must not be one of the rotated roles ({admin_user})",
            "the admin role changes the roles' passwords; give it a credential of its own",
        )
    return PostgresOptions(
        host=_host(name, options),
        port=_port(name, options),
        dbname=_name(name, options, "dbname", DEFAULT_DBNAME),
        admin_user=admin_user,
        admin_password=_password_source(name, options),
        strategy=str(strategy),
        roles=roles,
        connect_timeout=_timeout(name, options),
    )


class PostgresRotator:
    """One ``rotators.<name>`` of type postgres, opened for one secret (see the module
    docstring)."""

    #: the registry's check of the options (``gitrot validate``): contacts nothing
    check_options = staticmethod(check_options)

    def __init__(self, name: str, options: Mapping[str, object], context: RotatorContext) -> None:
        self.name = name
        self.options = check_options(name, options)
        self._context = context

    # --- the Rotator port -------------------------------------------------------------------

    def prepare(self, generated: SecretValue, current: SecretValue | None) -> SecretValue:
        """single: ``generated``; alternating: JSON naming the role not in ``current``."""
        if self.options.strategy == SINGLE:
            return generated
        role_a, role_b = self.options.roles
        in_use = _username(current) if current is not None else None
        role = role_b if in_use == role_a else role_a
        return SecretValue(json.dumps({"username": role, "password": generated.reveal()}))

    def set(self, pending: SecretValue, current: SecretValue | None) -> None:
        """``ALTER ROLE`` the pending role to the verifier of the pending password."""
        from psycopg import errors, sql

        from gitrot.rotators import scram  # hashlib and stringprep: only when setting

        role, password = self._credential(pending, "set")
        in_use = _username(current) if current is not None else None
        if self.options.strategy == ALTERNATING and in_use == role:
            raise self._error(
                "set",
                f"the pending value names the role in use ({role})",
                "the alternating strategy sets the role that is not current; "
                "abandon this version with a new one in git",
            )
        statement = sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(scram.verifier(password))
        )
        with self._connect("set", self.options.admin_user, self._admin_password()) as conn:
            row = conn.execute(
                "SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = %s", (role,)
            ).fetchone()
            if row is None:
                raise self._error(
                    "set",
                    f"the role {role} does not exist on {self._where()}",
                    f"create it (CREATE ROLE {role} LOGIN) or fix rotators.{self.name}",
                )
            if not row[0]:
                raise self._error(
                    "set",
                    f"the role {role} cannot log in (NOLOGIN) on {self._where()}",
                    f"ALTER ROLE {role} LOGIN, or fix rotators.{self.name}",
                )
            try:
                conn.execute(statement)
            except errors.InsufficientPrivilege:
                raise self._error(
                    "set",
                    f"the admin role {self.options.admin_user} may not change the password "
                    f"of {role}",
                    f"give {self.options.admin_user} CREATEROLE and ADMIN OPTION on {role} "
                    f"(GRANT {role} TO {self.options.admin_user} WITH ADMIN OPTION)",
                ) from None

    def test(self, pending: SecretValue) -> None:
        """Log in as the pending role with the pending password and run ``SELECT 1``."""
        role, password = self._credential(pending, "test")
        with self._connect("test", role, password) as conn:
            conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        """Nothing stays open: each step opens and closes its own connection."""

    # --- helpers ----------------------------------------------------------------------------

    def _credential(self, pending: SecretValue, step: str) -> tuple[str, str]:
        """(role, password) of a pending value of this rotator's strategy."""
        if self.options.strategy == SINGLE:
            return self.options.roles[0], pending.reveal()
        parsed = _parse(pending)
        role = parsed.get("username") if parsed else None
        password = parsed.get("password") if parsed else None
        if not isinstance(role, str) or not isinstance(password, str) or not password:
            raise self._error(
                step,
                'the pending value is not the JSON {"username", "password"} of the '
                "alternating strategy",
                "abandon this version with a new one in git (its value is generated)",
            )
        if role not in self.options.roles:
            raise self._error(
                step,
                f"the pending value names a role that is not in rotators.{self.name}.roles",
                "abandon this version with a new one in git",
            )
        return role, password

    def _admin_password(self) -> str:
        """The admin password from where ``admin_password`` says (read at each ``set``)."""
        source, where = self.options.admin_password
        field = f"rotators.{self.name}.admin_password"
        if source == "env":
            environ: Mapping[str, str] = getattr(self._context, "environ", None) or os.environ
            value = environ.get(where, "")
            if not value:
                raise self._error(
                    "set",
                    f"the variable {where} ({field}) is not set",
                    f"set {where} in the reconciler's environment to the admin password",
                )
            return value
        if source == "file":
            path = Path(where).expanduser()
            path = path if path.is_absolute() else Path(self._context.root) / path
            try:
                value = path.read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
                raise self._error(
                    "set", f"cannot read {where} ({field}): {reason}", f"fix {field}"
                ) from None
            if not value:
                raise self._error("set", f"{where} ({field}) is empty", f"fix {field}")
            return value
        try:
            secret = self._context.read_secret(where)
        except RotatorError as exc:
            exc.step = exc.step or "set"
            raise
        parsed = _parse(secret)
        password = parsed.get("password") if parsed else None
        return password if isinstance(password, str) and password else secret.reveal()

    @contextmanager
    def _connect(self, step: str, user: str, password: str) -> Iterator[Any]:
        """An autocommit connection as ``user``, closed after; RotatorError(step) when the
        server is down, does not answer in time, refuses the credential, or a statement
        fails (each statement may take ``connect_timeout``: a lock held on the role)."""
        import psycopg

        options = self.options
        try:
            conn = psycopg.connect(
                host=options.host,
                port=options.port,
                dbname=options.dbname,
                user=user,
                password=password,
                connect_timeout=max(2, options.connect_timeout),  # libpq's least
                application_name=APPLICATION,
                options=f"-c statement_timeout={options.connect_timeout * 1000}",
                autocommit=True,
            )
        except psycopg.Error as exc:
            raise self._connect_error(step, user, exc, password) from None
        try:
            yield conn
        except psycopg.Error as exc:
            raise self._error(
                step, f"a statement as {user} on {self._where()} failed ({_state(exc)})"
            ) from None
        finally:
            conn.close()

    def _connect_error(self, step: str, user: str, exc: Exception, password: str) -> RotatorError:
        import psycopg

        where = self._where()
        text = str(exc)
        if isinstance(exc, psycopg.errors.ConnectionTimeout) or "timeout expired" in text:
            return self._error(
                step,
                f"{where} did not answer within {self.options.connect_timeout}s",
                "check that the server is up and reachable, or raise connect_timeout",
            )
        if "Connection refused" in text:
            return self._error(
                step,
                f"{where} refused the connection (is the server running?)",
                "start the server or fix host and port; the next run resumes at this step",
            )
        if "password authentication failed" in text:
            if step == "test":
                return self._error(
                    step,
                    f"{user} does not log in on {where} with the pending password",
                    "the password was not set (or was changed since); the next run sets "
                    "it again, or abandon this version with a new one in git",
                )
            return self._error(
                step,
                f"the admin role {user} cannot log in on {where} (wrong admin password)",
                f"fix the admin password that rotators.{self.name}.admin_password names",
            )
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        first = first.replace(password, "***") if password else first  # libpq never echoes it
        return self._error(step, f"cannot connect to {where} as {user}: {first}")

    def _where(self) -> str:
        return f"postgres {self.options.host}:{self.options.port}/{self.options.dbname}"

    def _error(self, step: str, why: str, hint: str | None = None) -> RotatorError:
        return RotatorError(f"rotator {self.name} failed at {step}: {why}", step=step, hint=hint)


# --- values -----------------------------------------------------------------------------------


def _parse(value: SecretValue) -> dict[str, Any] | None:
    """The JSON object ``value`` holds, or None."""
    try:
        parsed = json.loads(value.reveal())
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _username(value: SecretValue) -> str | None:
    parsed = _parse(value)
    username = parsed.get("username") if parsed else None
    return username if isinstance(username, str) else None


def _state(exc: Exception) -> str:
    """An error's class and SQLSTATE: never its text, which may quote the statement."""
    code = getattr(exc, "sqlstate", None)
    if code == "57014":  # query_canceled: statement_timeout
        return "QueryCanceled, SQLSTATE 57014: timed out, is a lock held on the role?"
    return f"{type(exc).__name__}, SQLSTATE {code}" if code else type(exc).__name__


# --- options ----------------------------------------------------------------------------------


def _fail(name: str, option: str, message: str, hint: str = "") -> OptionError:
    return OptionError(f"rotators.{name}.{option} {message}", option=option, hint=hint)


def _kind(value: object) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"


def _host(name: str, options: Mapping[str, object]) -> str:
    host = options.get("host")
    if not isinstance(host, str) or not host or any(c.isspace() or c == "," for c in host):
        shown = "an invalid one" if isinstance(host, str) else _kind(host)
        raise _fail(
            name,
            "host",
            f"must be one host name or address, got {shown}",
            "like host: db.internal or host: 127.0.0.1",
        )
    return host


def _port(name: str, options: Mapping[str, object]) -> int:
    port = options.get("port", DEFAULT_PORT)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise _fail(name, "port", f"must be a port number from 1 to 65535, got {port!r}")
    return port


def _name(name: str, options: Mapping[str, object], option: str, default: str = "") -> str:
    """A role or database name: a non-empty string of at most 63 bytes, no NUL."""
    value = options.get(option, default or None)
    if not isinstance(value, str) or not value or len(value.encode()) > NAME_MAX or "\0" in value:
        shown = (
            f"a string of {len(value.encode())} bytes" if isinstance(value, str) else _kind(value)
        )
        raise _fail(
            name,
            option,
            f"must be a PostgreSQL name (1 to {NAME_MAX} bytes), got {shown}",
        )
    return value


def _roles(name: str, options: Mapping[str, object], strategy: str) -> tuple[str, ...]:
    if strategy == SINGLE:
        if "roles" in options:
            raise _fail(
                name,
                "roles",
                "is for strategy: alternating",
                "give the one role as role: app, or set strategy: alternating",
            )
        return (_name(name, options, "role"),)
    if "role" in options:
        raise _fail(
            name,
            "role",
            "is for strategy: single",
            "the alternating strategy takes two roles: roles: [app_a, app_b]",
        )
    roles = options.get("roles")
    hint = "list two login roles with the same grants, like roles: [app_a, app_b]"
    if not isinstance(roles, list) or len(roles) != 2:
        shown = f"{len(roles)} items" if isinstance(roles, list) else _kind(roles)
        raise _fail(name, "roles", f"must list exactly two roles, got {shown}", hint)
    checked = tuple(_name(name, {"roles": role}, "roles") for role in roles)
    if checked[0] == checked[1]:
        raise _fail(name, "roles", f"must list two different roles, got {checked[0]} twice", hint)
    return checked


def _password_source(name: str, options: Mapping[str, object]) -> tuple[str, str]:
    value = options.get("admin_password")
    if isinstance(value, str):
        raise _fail(name, "admin_password", "must not hold a password", _SOURCE_HINT)
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in SOURCES:
        raise _fail(name, "admin_password", "must name one of env, file or secret", _SOURCE_HINT)
    source, where = next(iter(value.items()))
    if not isinstance(where, str) or not where:
        raise _fail(name, "admin_password", f"{source}: must be a non-empty string", _SOURCE_HINT)
    if source == "env" and not _ENV_NAME.fullmatch(where):
        raise _fail(
            name,
            "admin_password",
            "env: must name an environment variable",
            "like admin_password: {env: PGADMIN_PASSWORD}",
        )
    return str(source), where


def _timeout(name: str, options: Mapping[str, object]) -> int:
    value = options.get("connect_timeout", DEFAULT_TIMEOUT_S)
    hint = "give whole seconds (5) or a duration like 10s"
    if isinstance(value, str):
        try:
            value = parse_duration(value)
        except ValueError as exc:
            raise _fail(name, "connect_timeout", f"is not a duration: {exc}", hint) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(
            name, "connect_timeout", f"must be a number of seconds, got {_kind(value)}", hint
        )
    if not 1 <= value <= MAX_TIMEOUT_S:
        raise _fail(
            name,
            "connect_timeout",
            f"must be from 1 to {MAX_TIMEOUT_S} seconds, got {value:g}",
            hint,
        )
    return math.ceil(value)
