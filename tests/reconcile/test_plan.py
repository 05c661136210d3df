"""The plan, pure: desired versions against the backend's and the state's entries."""

from __future__ import annotations

import json

from gitrot.backends.base import AppliedVersion, idempotency_key
from gitrot.core.models import GeneratedValue
from gitrot.reconcile.ledger import Entry, entry_text, parse_note, render_note
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


def test_a_state_entry_round_trips_and_the_note_holds_no_ledger_and_no_ref() -> None:
    entry_ = entry(3, "b3", {"api": True})
    text = entry_text("payments/db", entry_)
    assert Entry.from_dict(json.loads(text)).as_dict("payments/db") == entry_.as_dict("payments/db")
    note = render_note(
        commit="c" * 40,
        previous=None,
        state="s" * 40,
        reconciler={"host": "h", "user": "u", "recipient": "age1x"},
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:00:01Z",
        applied=[],
        deliveries=[],
        refused=[],
    )
    parsed = parse_note(note)
    assert parsed is not None and "ledger" not in parsed and parsed["state"] == "s" * 40
    assert "db/pw" not in note + text.decode()


def test_entries_and_notes_that_are_not_gitrots_are_refused_or_ignored() -> None:
    for bad in ([], {"version": 1e400}, {"version": True}, {"version": 2, "blob": 1}):
        try:
            Entry.from_dict(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was taken for an entry")
    for note in ("{", "[]", '"x"', "1e400", "[" * 100_000):
        assert parse_note(note) is None


def test_a_version_written_for_another_secret_is_refused() -> None:
    other = have(3)
    other.key, other.name = idempotency_key("billing/db", 3), "billing/db"
    (item,) = make_plan([want()], {("local", "db/pw"): other}, {})
    assert item.action == REFUSE and "written for another secret (billing/db)" in item.reason


def test_a_location_the_state_gives_another_secret_is_refused() -> None:
    owners = {("local", "db/pw"): "payments/db-password"}
    (item,) = make_plan([want(version=4)], {("local", "db/pw"): None}, {}, owners)
    assert item.action == REFUSE and "belongs to another secret (payments/db-password" in (
        item.reason
    )


def test_a_newer_version_over_another_secrets_location_is_refused() -> None:
    (item,) = make_plan([want(name="dev/innocent", version=4)], {("local", "db/pw"): have(3)}, {})
    assert item.action == REFUSE and "written for another secret (payments/db)" in item.reason


def test_two_intents_of_one_commit_on_one_location_the_owner_keeps_it() -> None:
    one, two = want(name="a/one", version=1), want(name="b/two", version=1)
    items = {i.desired.name: i for i in make_plan([one, two], {}, {})}
    assert (items["a/one"].action, items["b/two"].action) == (WRITE, REFUSE)
    assert "shares its ref in local with a/one" in items["b/two"].reason
    owners = {("local", "db/pw"): "b/two"}
    items = {i.desired.name: i for i in make_plan([one, two], {}, {}, owners)}
    assert (items["a/one"].action, items["b/two"].action) == (REFUSE, WRITE)
