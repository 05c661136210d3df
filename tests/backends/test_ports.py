"""The plugin ports import at run time: a plugin author (and a test) can use the Protocols."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitrot.backends import base as backend_base
from gitrot.backends.local import LocalBackend
from gitrot.core import ports
from gitrot.errors import EXIT_ENVIRONMENT, EXIT_FINDINGS, GitrotError
from gitrot.triggers import base as trigger_base
from gitrot.triggers.command import CommandTrigger

if TYPE_CHECKING:
    from pathlib import Path


def test_the_old_names_are_the_ports() -> None:
    assert backend_base.Backend is ports.Backend
    assert backend_base.AppliedVersion is ports.AppliedVersion
    assert backend_base.BackendError is ports.BackendError
    assert backend_base.idempotency_key is ports.idempotency_key
    assert trigger_base.Trigger is ports.Trigger
    assert trigger_base.Receipt is ports.Receipt
    assert trigger_base.Delivery is ports.Delivery


def test_local_backend_is_a_backend(tmp_path: Path) -> None:
    context = ports.BackendContext(root=str(tmp_path), recipients=(), identities="")
    backend = LocalBackend("main", {"path": "store"}, context)
    assert isinstance(backend, ports.Backend)
    assert not isinstance(object(), ports.Backend)


def test_command_trigger_is_a_trigger(tmp_path: Path) -> None:
    trigger = CommandTrigger("ledger", {"argv": ["true"]}, {}, root=str(tmp_path))
    assert isinstance(trigger, ports.Trigger)
    assert not isinstance(trigger, ports.Backend)


def test_backend_error_is_a_gitrot_error() -> None:
    down = ports.BackendError("the service is down", unreachable=True)
    refused = ports.VersionConflict("version 2 exists with another key")
    assert isinstance(down, GitrotError)
    assert isinstance(refused, GitrotError)
    assert down.exit_code == EXIT_ENVIRONMENT
    assert refused.exit_code == EXIT_FINDINGS
    assert down.render() == "gitrot: error: the service is down"


def test_keys_are_stable() -> None:
    key = ports.idempotency_key("payments/db", 3)
    assert key == ports.idempotency_key("payments/db", 3)
    assert key.startswith("gr1-")
    assert key != ports.idempotency_key("payments/db", 4)
    assert len(ports.delivery_id(key, "deploy")) == 32
    assert ports.delivery_id(key, "deploy") != ports.delivery_id(key, "pager")
