"""The reconciler receives its backends and triggers: a test (or an embedding program)
hands it objects that implement the ports; names it is not given come from gitrot.yaml."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gitrot.core.ports import (
    AppliedVersion,
    Backend,
    BackendError,
    Delivery,
    Receipt,
    Trigger,
    VersionConflict,
    idempotency_key,
)
from gitrot.core.secret import SecretValue
from gitrot.reconcile.run import Session, reconcile
from tests.reconcile.conftest import intent_name
from tests.reconcile.helpers import environment

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from tests.reconcile.conftest import MakeRepo


class MemoryBackend:
    """A backend in a dict, with the idempotency and monotonicity the port demands."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.records: dict[tuple[str, int], AppliedVersion] = {}
        self.values: dict[tuple[str, int], str] = {}
        self.writes: list[tuple[str, int]] = []
        self.closed = False
        self.lock = threading.Lock()

    def current(self, refs: Iterable[str]) -> dict[str, AppliedVersion]:
        found: dict[str, AppliedVersion] = {}
        for (ref, _), record in sorted(self.records.items()):
            if ref in refs:
                found[ref] = record
        return found

    def get(self, ref: str, version: int) -> AppliedVersion | None:
        return self.records.get((ref, version))

    def write(
        self, ref: str, version: int, value: SecretValue, *, name: str, commit: str, key: str
    ) -> AppliedVersion:
        with self.lock:
            record = self.records.get((ref, version))
            if record is not None:
                if record.key != key:
                    raise VersionConflict(f"version {version} exists with another key")
                return record
            newest = max((v for r, v in self.records if r == ref), default=0)
            if version < newest:
                raise VersionConflict("rollback is a new version")
            record = AppliedVersion(
                ref=ref, version=version, name=name, commit=commit, key=key,
                backend_id=f"mem-{len(self.records)}", written_at=0,
            )  # fmt: skip
            self.records[(ref, version)] = record
            self.values[(ref, version)] = value.reveal()
            self.writes.append((ref, version))
            return record

    def read(self, ref: str, version: int | None = None) -> SecretValue:
        if version is None:
            version = max((v for r, v in self.values if r == ref), default=0)
        if (ref, version) not in self.values:
            raise BackendError(f"backend {self.name!r} holds no version {version}")
        return SecretValue(self.values[(ref, version)])

    def close(self) -> None:
        self.closed = True


class Recorder:
    """A trigger that remembers what it was told."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.deliveries: list[Delivery] = []

    def fire(self, delivery: Delivery) -> Receipt:
        self.deliveries.append(delivery)
        return Receipt(
            trigger=self.name, delivery_id=delivery.delivery_id, ok=True, attempts=1,
            detail="recorded", at=0,
        )  # fmt: skip


def _now() -> datetime:
    return datetime(2030, 1, 1, tzinfo=UTC)


def _session(root: Path, backend: MemoryBackend, trigger: Recorder) -> Session:
    return Session(str(root), environment(), backends={"local": backend}, triggers={"api": trigger})


def test_the_fakes_implement_the_ports() -> None:
    assert isinstance(MemoryBackend("local"), Backend)
    assert isinstance(Recorder("api"), Trigger)


def test_a_handed_backend_is_written_and_recorded(make_repo: MakeRepo, trigger_log: Path) -> None:
    repo = make_repo(2)
    backend, trigger = MemoryBackend("local"), Recorder("api")
    outcome = reconcile(_session(repo.root, backend, trigger), "HEAD", now=_now)
    assert not outcome.failed, outcome.refused
    refs = sorted(repo.refs[intent_name(i)] for i in range(2))
    assert sorted(backend.writes) == [(ref, 1) for ref in refs]
    assert sorted((d.name, d.version) for d in trigger.deliveries) == [
        (intent_name(0), 1), (intent_name(1), 1),
    ]  # fmt: skip
    assert sorted(a["name"] for a in outcome.applied) == [intent_name(0), intent_name(1)]
    assert repo.reconciled() == repo.head()
    assert not backend.closed  # the caller owns what it handed over
    assert not trigger_log.exists()  # gitrot.yaml's command trigger never ran
    # the values went to the handed backend only, never to the configured store
    assert not (repo.root / ".gitrot" / "store").exists()
    # a second run writes nothing: the versions are there
    again = reconcile(_session(repo.root, backend, trigger), "HEAD", now=_now)
    assert not again.failed
    assert len(backend.writes) == 2


def test_a_handed_backend_that_holds_another_secret_is_refused(make_repo: MakeRepo) -> None:
    repo = make_repo(1)
    name = intent_name(0)
    ref = repo.refs[name]
    backend, trigger = MemoryBackend("local"), Recorder("api")
    squatter = SecretValue("held-by-another-secret")
    backend.write(ref, 1, squatter, name="svc/other", commit="0" * 40,
                  key=idempotency_key("svc/other", 1))  # fmt: skip
    outcome = reconcile(_session(repo.root, backend, trigger), "HEAD", now=_now)
    assert outcome.failed
    assert [r["name"] for r in outcome.refused] == [name]
    reason = str(outcome.refused[0]["reason"])
    assert "written for another secret" in reason or "another key" in reason
    assert "held-by-another-secret" not in reason
    assert backend.writes == [(ref, 1)]  # only the squatter's
    assert trigger.deliveries == []


def test_names_not_handed_over_come_from_the_config(make_repo: MakeRepo, trigger_log: Path) -> None:
    repo = make_repo(1)
    backend = MemoryBackend("local")
    session = Session(str(repo.root), environment(), backends={"local": backend})
    outcome = reconcile(session, "HEAD", now=_now)
    assert not outcome.failed, outcome.refused
    assert backend.writes == [(repo.refs[intent_name(0)], 1)]
    assert trigger_log.exists()  # the configured command trigger ran
