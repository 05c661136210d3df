"""Fixtures: a webhook receiver on 127.0.0.1, plain and behind TLS (tests/triggers/receiver.py)."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import pytest

from tests.triggers.receiver import Receiver, self_signed

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[Receiver, Path]]:
    """A receiver behind TLS with a self-signed certificate for 127.0.0.1, and that
    certificate."""
    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with Receiver(context) as running:
        yield running, cert
