"""The plan's rows for rotation at the source, pure: resume a pending version, abandon one
below a newer version, refuse an abandoned version or a pending one without a rotator, a
rotator named by two intents; the status row of a pending version."""

from __future__ import annotations

import pytest

from gitrot.backends.base import AppliedVersion, idempotency_key
from gitrot.core.ports import ABANDONED, CURRENT, PENDING, PROMOTED, SET, TESTED, WRITTEN
from gitrot.reconcile.plan import RECORD, REFUSE, RESUME, WRITE, make_plan
from gitrot.reconcile.status import pending
from tests.reconcile.test_plan import want

LOCATION = ("local", "db/pw")


def held(version: int, stage: str = PENDING, step: str = WRITTEN) -> AppliedVersion:
    return AppliedVersion(
        ref="db/pw", version=version, name="payments/db", commit="c",
        key=idempotency_key("payments/db", version), backend_id=f"v{version}.age",
        written_at=1, stage=stage, step=step,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("rotator", "applied", "action", "step", "abandon", "reason"),
    [
        (
            "db",
            None,
            WRITE,
            None,
            None,
            "superseded; rotated at the source by db",
        ),
        (
            "db",
            held(3, step=SET),
            RESUME,
            SET,
            None,
            "version 3 is pending at step set: resume with rotator db",
        ),
        ("db", held(3, step=TESTED), RESUME, TESTED, None, "pending at step tested"),
        ("db", held(2, step=TESTED), WRITE, None, 2, "pending version 2 is abandoned"),
        ("", held(2, step=SET), WRITE, None, 2, "pending version 2 is abandoned"),
        ("db", held(2, step=ABANDONED), WRITE, None, None, "(newest: 2)"),
        ("db", held(3, step=ABANDONED), REFUSE, ABANDONED, None, "version 3 was abandoned"),
        ("", held(3, step=SET), REFUSE, SET, None, "but the intent names no rotator"),
        ("db", held(3, CURRENT, PROMOTED), RECORD, PROMOTED, None, "is in the backend"),
        ("db", held(4, CURRENT, PROMOTED), REFUSE, None, None, "a rollback is a new version"),
    ],
)
def test_the_rotation_rows(
    rotator: str,
    applied: AppliedVersion | None,
    action: str,
    step: str | None,
    abandon: int | None,
    reason: str,
) -> None:
    (item,) = make_plan([want(rotator=rotator)], {LOCATION: applied}, {})
    assert (item.action, item.step, item.abandon) == (action, step, abandon)
    assert reason in item.reason
    document = item.as_dict()
    assert (document["step"], document["abandon"]) == (step, abandon)
    assert document["rotator"] == (rotator or None)
    if action in (WRITE, RESUME):
        assert item.triggers == ("api", "worker")  # told once promoted


def test_a_rotator_named_by_two_intents_refuses_both() -> None:
    items = make_plan(
        [want(rotator="db"), want("other/db", ref="o/pw", rotator="db"), want("x/y", ref="x")],
        {},
        {},
    )
    actions = {item.desired.name: (item.action, item.reason) for item in items}
    assert actions["payments/db"][0] == actions["other/db"][0] == REFUSE
    assert "its rotator db is named by other/db too" in actions["payments/db"][1]
    assert actions["x/y"][0] == WRITE


def test_the_status_of_a_pending_version() -> None:
    wanted = want(rotator="db")
    refusals = {("payments/db", 3): "payments/db: rotator db failed at test: no"}
    assert pending(held(3, step=SET), wanted, refusals) == {
        "version": 3, "step": SET, "reason": refusals[("payments/db", 3)],
    }  # fmt: skip
    assert pending(held(2, step=WRITTEN), wanted, refusals) == {
        "version": 2, "step": WRITTEN, "reason": "",
    }  # fmt: skip
    assert pending(held(3, CURRENT, PROMOTED), wanted, refusals) is None
    assert pending(None, wanted, refusals) is None
