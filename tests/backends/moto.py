"""The real moto server (``moto_server`` from the test extra's ``moto[server]``) on loopback.

Fixtures, imported by the test modules that need them::

    from tests.backends.moto import aws_env_fixture, moto_fixture  # noqa: F401 - fixtures

- ``moto`` (session): one server on 127.0.0.1 and a free port, started once and stopped
  after the session; its value is the :class:`Moto` (``endpoint``). Tests share it, so each
  names its own secrets (:func:`unique`).
- ``aws_env`` (function): boto3's standard chain finds dummy credentials
  (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` = ``testing``) and nothing else: no
  profile, no shared files outside the test's home, no instance metadata lookup. Returns
  the variables, for child processes.

:func:`start_moto` starts a server of one's own (to stop it mid-test, or with moto's IAM
checks on: ``auth=True`` sets ``INITIAL_NO_AUTH_ACTION_COUNT=0``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BIN, require_tool

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
REGION = "us-east-1"


class Moto:
    """A running moto server: ``endpoint`` (``http://127.0.0.1:PORT``), ``stop()``."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_moto(*, auth: bool = False, timeout: float = 20) -> Moto:
    """A moto server on a free loopback port, answering (bounded wait) or a failed test."""
    binary = require_tool("moto_server", str(BIN / "moto_server"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    if auth:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Moto(process, port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return server
        time.sleep(0.02)
    server.stop()
    pytest.fail(f"moto_server did not answer on 127.0.0.1:{port} within {timeout:g}s")


@pytest.fixture(scope="session", name="moto")
def moto_fixture() -> Iterator[Moto]:
    server = start_moto()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="aws_env")
def aws_env_fixture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    env = dict(CREDENTIALS)
    env["AWS_CONFIG_FILE"] = str(tmp_path / "aws-config-none")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "aws-credentials-none")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def unique(prefix: str = "gitrot-test") -> str:
    """A secret name no other test (on the shared server) uses."""
    return f"{prefix}/{uuid.uuid4().hex[:12]}"
