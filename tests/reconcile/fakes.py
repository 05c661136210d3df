"""In-package fakes that implement the plugin ports: what a test (or an embedding
program) hands the reconciler instead of the backends and triggers of gitrot.yaml."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from gitrot.core.ports import AppliedVersion, BackendError, Delivery, Receipt, VersionConflict
from gitrot.core.secret import SecretValue


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
