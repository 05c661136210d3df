"""A pending version is never a consumer's value (issue 14): while a rotation at the source
is pending (set, under test, or failed), a consumer reading the current value (``gitrot
exec``, ``read(ref)``) gets the promoted one; a version whose test failed is never promoted,
however often the reconciler runs, and the backend refuses to promote it when asked."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gitrot.core.ports import PENDING, SET, BackendError, idempotency_key
from gitrot.core.secret import SecretValue
from gitrot.errors import EnvironmentFailure
from gitrot.reconcile.run import reconcile
from gitrot.reconcile.wiring import Reconciler
from tests.reconcile.helpers import environment, run
from tests.reconcile.rotating import ROTATOR, FakeRotator, Source, rotating_repo

NAME = "svc/db"


def _now() -> datetime:
    return datetime(2030, 1, 1, tzinfo=UTC)


def test_a_consumer_never_reads_a_pending_value(tmp_path: Path) -> None:
    repo = rotating_repo(tmp_path / "policy", tmp_path / "log")
    backend = repo.backend()
    ref = repo.refs[NAME]
    source = Source()
    reads: list[tuple[str, str, str]] = []  # (step, what a consumer read, the pending value)

    def consumer() -> str:
        try:
            return backend.read(ref).reveal()
        except BackendError:
            return "(nothing yet)"

    class Watched(FakeRotator):
        """Between every step, a consumer reads the secret the usual way."""

        def set(self, pending: SecretValue, current: SecretValue | None) -> None:
            reads.append(("set", consumer(), pending.reveal()))
            super().set(pending, current)

        def test(self, pending: SecretValue) -> None:
            reads.append(("test", consumer(), pending.reveal()))
            super().test(pending)

    def factory(name: str, options: object, context: object) -> Watched:
        return Watched(name, context, source)  # type: ignore[arg-type]

    reconciler = Reconciler(
        str(repo.root), environment(), backends={"local": backend},
        rotators={ROTATOR: factory},  # type: ignore[dict-item]
    )  # fmt: skip
    reconcile(reconciler, "HEAD", now=_now)
    first = backend.read(ref).reveal()
    assert reads == [("set", "(nothing yet)", first), ("test", "(nothing yet)", first)]
    repo.rotate(NAME)
    repo.commit()
    source.fail.add("test")
    for _ in range(3):  # a test that keeps failing never promotes
        with pytest.raises(EnvironmentFailure):
            reconcile(reconciler, "HEAD", now=_now)
    pending = backend.read(ref, 2).reveal()
    assert [r for r in reads if r[2] == pending] == [
        ("set", first, pending),
        ("test", first, pending),
        ("test", first, pending),
        ("test", first, pending),
    ]
    held = backend.get(ref, 2)
    assert held is not None and (held.stage, held.step) == (PENDING, SET)
    assert backend.read(ref).reveal() == first
    # asked to promote a version that was not tested, the backend refuses
    with pytest.raises(BackendError, match="is set, not tested"):
        backend.promote(ref, 2, key=idempotency_key(NAME, 2))
    # a consumer through the CLI gets the current value, never the pending one
    shown = run(
        repo.root, "exec", "--secret", f"{NAME}=DB", "--", "sh", "-c",
        'printf "%s" "$DB" | sha256sum',
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split()[0] == hashlib.sha256(first.encode()).hexdigest()
    assert pending not in shown.stdout + shown.stderr
    assert (backend.read(ref).reveal(), backend.current([ref])[ref].stage) == (first, PENDING)
