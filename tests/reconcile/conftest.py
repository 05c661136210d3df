"""Fixtures: policy repositories built through the gitrot CLI (tests/reconcile/helpers.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pytest

from tests.reconcile.helpers import PolicyRepo, logger_trigger

if TYPE_CHECKING:
    from pathlib import Path


class MakeRepo(Protocol):
    def __call__(
        self,
        intents: int,
        *,
        sealed_every: int = 0,
        triggers: dict[str, dict[str, Any]] | None = None,
        store: Path | None = None,
        commit: bool = True,
    ) -> PolicyRepo: ...


def intent_name(index: int) -> str:
    return f"svc/secret-{index:02d}"


def sealed_value(index: int, version: int) -> str:
    """A value a person supplies (``gitrot rotate --value-stdin``): unlike anything else."""
    import secrets

    return f"sealed-{index}-v{version}-{secrets.token_urlsafe(18)}"


@pytest.fixture
def trigger_log(tmp_path: Path) -> Path:
    """Where the default consumer ``api`` (a command trigger) writes its deliveries."""
    return tmp_path / "deliveries.log"


@pytest.fixture
def make_repo(tmp_path: Path, trigger_log: Path) -> MakeRepo:
    """``make_repo(n)``: a policy repository with ``n`` intents (``svc/secret-NN``, each
    consumed by ``api``; every ``sealed_every``-th with a sealed value), committed."""

    def make(
        intents: int,
        *,
        sealed_every: int = 0,
        triggers: dict[str, dict[str, Any]] | None = None,
        store: Path | None = None,
        commit: bool = True,
    ) -> PolicyRepo:
        chosen = triggers if triggers is not None else {"api": logger_trigger(trigger_log)}
        repo = PolicyRepo.create(tmp_path / "policy", triggers=chosen, store=store)
        for index in range(intents):
            sealed = sealed_every and index % sealed_every == 0
            repo.new(intent_name(index), sealed=sealed_value(index, 2) if sealed else None)
        if commit:
            repo.commit("Add the intents")
        return repo

    return make
