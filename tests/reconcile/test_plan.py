"""The plan, pure: desired versions against the backend's and the ledger."""

from __future__ import annotations

from gitrot.backends.base import AppliedVersion, idempotency_key
from gitrot.core.models import GeneratedValue
from gitrot.reconcile.ledger import Entry, parse_ledger, render_note
from gitrot.reconcile.plan import RECORD, REFUSE, TRIGGER, WRITE, Desired, make_plan


def want(name: str = "payments/db", version: int = 3, blob: str = "b3", **kw: object) -> Desired:
    fields: dict[str, object] = {
        "name": name,
        "path": f"secrets/{name}.yaml",
        "blob": blob,
        "version": version,
        "backend": "local",
        "ref": "db/pw",
        "value": GeneratedValue(32),
        "consumers": ("api", "worker"),
    }
    fields.update(kw)
    return Desired(**fields)  # type: ignore[arg-type]


def have(version: int) -> AppliedVersion:
    return AppliedVersion(
        ref="db/pw",
        version=version,
        name="payments/db",
        commit="c",
        key=idempotency_key("payments/db", version),
        backend_id=f"v{version}.age",
        written_at=1,
    )


def entry(version: int, blob: str, ok: dict[str, bool]) -> Entry:
    return Entry(
        blob=blob,
        version=version,
        backend="local",
        backend_id=f"v{version}.age",
        key=f"k{version}",
        deliveries={t: {"delivery_id": "d", "ok": v, "at": 1} for t, v in ok.items()},
    )


def test_a_new_version_is_written_then_every_consumer_told() -> None:
    (item,) = make_plan(
        [want()], {("local", "db/pw"): have(2)}, {"payments/db": entry(2, "b2", {})}
    )
    assert (item.action, item.triggers, item.superseded) == (WRITE, ("api", "worker"), ())


def test_a_double_bump_is_applied_once_at_the_latest_version() -> None:
    (item,) = make_plan(
        [want(version=5)], {("local", "db/pw"): have(2)}, {"payments/db": entry(2, "b2", {})}
    )
    assert item.action == WRITE and item.superseded == (3, 4)
    assert "versions 3-4 were superseded" in item.reason


def test_a_version_written_by_an_interrupted_run_is_recorded_not_rewritten() -> None:
    (item,) = make_plan(
        [want()], {("local", "db/pw"): have(3)}, {"payments/db": entry(2, "b2", {})}
    )
    assert item.action == RECORD and item.triggers == ("api", "worker")


def test_failed_deliveries_are_retried_and_delivered_ones_are_not() -> None:
    ledger = {"payments/db": entry(3, "b3", {"api": True, "worker": False})}
    (item,) = make_plan([want()], {("local", "db/pw"): have(3)}, ledger)
    assert (item.action, item.triggers) == (TRIGGER, ("worker",))


def test_up_to_date_and_delivered_is_no_item() -> None:
    ledger = {"payments/db": entry(3, "b3", {"api": True, "worker": True})}
    assert make_plan([want()], {("local", "db/pw"): have(3)}, ledger) == []


def test_a_downgrade_and_a_policy_failure_are_refused() -> None:
    (item,) = make_plan([want(version=2)], {("local", "db/pw"): have(3)}, {})
    assert item.action == REFUSE and "rollback is a new version" in item.reason
    (item,) = make_plan([want(problem="[backend-exists] no such backend")], {}, {})
    assert item.action == REFUSE and item.reason.startswith("[backend-exists]")


def test_the_note_round_trips_its_ledger_and_holds_no_ref() -> None:
    ledger = {"payments/db": entry(3, "b3", {"api": True})}
    text = render_note(
        commit="c" * 40,
        previous=None,
        reconciler={"host": "h", "user": "u", "recipient": "age1x"},
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:00:01Z",
        applied=[],
        deliveries=[],
        refused=[],
        ledger=ledger,
    )
    parsed = parse_ledger(text, "note")
    assert parsed["payments/db"].as_dict() == ledger["payments/db"].as_dict()
    assert "db/pw" not in text


def test_a_version_written_for_another_secret_is_refused() -> None:
    other = have(3)
    other.key, other.name = idempotency_key("billing/db", 3), "billing/db"
    (item,) = make_plan([want()], {("local", "db/pw"): other}, {})
    assert item.action == REFUSE and "written for another secret (billing/db)" in item.reason
