"""A local backend on a fresh age key, for the backend tests (and their child processes)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pyrage

from gitrot.backends.base import AppliedVersion, BackendContext, idempotency_key
from gitrot.backends.local import LocalBackend
from gitrot.core.secret import SecretValue

REF = "payments/db"
NAME = "payments-db"
COMMIT = "c0ffee" * 6 + "c0ff"


def new_context(root: Path) -> BackendContext:
    identity = pyrage.x25519.Identity.generate()
    return BackendContext(
        root=str(root), recipients=(str(identity.to_public()),), identities=f"{identity}\n"
    )


def backend(
    context: BackendContext, path: str = "store", clock: float = 1_700_000_000
) -> LocalBackend:
    return LocalBackend("local", {"path": path}, context, clock=lambda: clock)


def random_value() -> SecretValue:
    return SecretValue("s3cr3t-" + secrets.token_hex(16))


def write(
    store: LocalBackend, version: int, value: SecretValue, *, ref: str = REF, name: str = NAME
) -> AppliedVersion:
    return store.write(
        ref, version, value, name=name, commit=COMMIT, key=idempotency_key(name, version)
    )
