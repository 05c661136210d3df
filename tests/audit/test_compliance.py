"""Compliance over time (gitrot/audit/compliance.py): the age of each secret against its
class's max age, from ledger rows alone; table-driven, and invariants under hypothesis."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitrot.audit.compliance import APPLIED, MERGED, as_json, assess, assess_secret, effects
from gitrot.audit.model import LedgerRow
from gitrot.core.durations import DAY
from gitrot.core.models import RotationClass
from gitrot.files.waivers import Waiver, parse_waivers

CLASSES = {
    "k": RotationClass("k", max_age=100),
    "long": RotationClass("long", max_age=1000),
    "free": RotationClass("free"),
}


def row(
    version: int,
    merged: int | None = None,
    applied: int | None = None,
    *,
    secret: str = "svc/db",  # noqa: S107 (a secret's name)
    cls: str = "k",
    emergency: bool = False,
    authored: int = 0,
) -> LedgerRow:
    return LedgerRow(
        secret=secret,
        version=version,
        path=f"secrets/{secret}.yaml",
        commit=f"c{version:039d}",
        author="Alice <alice@example.com>",
        authored_at=authored,
        reason=f"rotation {version}",
        emergency=emergency,
        rotation_class=cls,
        merge_commit=None if merged is None else f"m{version:039d}",
        merged_at=merged,
        applied_at=applied,
        applied_commit=None if applied is None else f"a{version:039d}",
    )


@dataclass(frozen=True)
class Case:
    name: str
    rows: list[LedgerRow]
    until: int
    since: int | None = None
    points: list[tuple[int, int]] | None = None
    gaps: Sequence[tuple[int, int, int]] = ()  # (start, end, version)
    longest: int | None = None


CASES = [
    Case(
        "never rotated, over from max_age on",
        [row(1, merged=0)],
        until=250,
        points=[(0, 0), (250, 250)],
        gaps=[(100, 250, 1)],
        longest=250,
    ),
    Case(
        "rotated in time: a sawtooth",
        [row(1, 0, 0), row(2, 70, 80)],
        until=150,
        points=[(0, 0), (80, 80), (80, 0), (150, 70)],
        longest=80,
    ),
    Case(
        "the clock starts when applied, not merged",
        [row(1, 0, 0), row(2, 50, 120)],
        until=150,
        points=[(0, 0), (120, 120), (120, 0), (150, 30)],
        gaps=[(100, 120, 1)],
    ),
    Case(
        "a version replaced before it was applied never takes effect",
        [row(1, 0, 0), row(2, 50), row(3, 60, 130)],
        until=140,
        points=[(0, 0), (130, 130), (130, 0), (140, 10)],
        gaps=[(100, 130, 1)],
    ),
    Case(
        "with no note, the last version takes effect when merged",
        [row(1, 0, 0), row(2, 90)],
        until=200,
        points=[(0, 0), (90, 90), (90, 0), (200, 110)],
        gaps=[(190, 200, 2)],
    ),
    Case(
        "since clips the series and the gap (it began before)",
        [row(1, 0, 0)],
        since=150,
        until=200,
        points=[(150, 150), (200, 200)],
        gaps=[(150, 200, 1)],
    ),
    Case(
        "versions replaced before since are not in the series",
        [row(1, 0, 0), row(2, 10, 10), row(3, 150, 150)],
        since=160,
        until=170,
        points=[(160, 10), (170, 20)],
    ),
    Case(
        "a class without max_age, or unknown, sets no limit",
        [row(1, 0, 0, cls="free"), row(2, 500, 500, cls="nope"), row(3, 900, 900)],
        until=950,
        points=[(0, 0), (500, 500), (500, 0), (900, 400), (900, 0), (950, 50)],
        longest=500,
    ),
    Case(
        "each version is judged by its own class",
        [row(1, 0, 0, cls="long"), row(2, 500, 500, cls="k")],
        until=700,
        gaps=[(600, 700, 2)],
    ),
    Case(
        "a version cannot take effect before the one before it",
        [row(1, 0, 0), row(2, 10, 50), row(3, 20, 40)],
        until=60,
        points=[(0, 0), (50, 50), (50, 0), (60, 10)],
    ),
    Case(
        "a version after until is not in effect",
        [row(1, 0, 0), row(2, 300, 300)],
        until=200,
        points=[(0, 0), (200, 200)],
        gaps=[(100, 200, 1)],
    ),
    Case(
        "exactly max_age old is not over",
        [row(1, 0, 0), row(2, 100, 100)],
        until=150,
        longest=100,
    ),
    Case(
        "a branch that never landed takes no effect",
        [row(1, None, None)],
        until=200,
        points=[],
        longest=0,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_age_over_time(case: Case) -> None:
    result = assess({"svc/db": case.rows}, CLASSES, since=case.since, until=case.until)
    got = result["svc/db"]
    if case.points is not None:
        assert got.points == case.points
    assert [(g.start, g.end, g.version) for g in got.gaps] == list(case.gaps)
    assert got.exceeded is bool(case.gaps)
    assert got.over_for == sum(end - start for start, end, _ in case.gaps)
    if case.longest is not None:
        assert got.longest_age == case.longest


def test_a_gap_says_when_it_began_and_whether_it_goes_on() -> None:
    got = assess({"s": [row(1, 0, 0), row(2, 300, 300)]}, CLASSES, since=150, until=450)["s"]
    first, second = got.gaps
    assert (first.start, first.began, first.end, first.ongoing) == (150, 100, 300, False)
    assert (second.start, second.began, second.end, second.ongoing) == (400, 400, 450, True)
    assert (first.duration, got.over_for, got.age) == (150, 200, 150)


def test_rotations_say_where_the_time_came_from() -> None:
    rows = [row(1, 0, 5), row(2, 50), row(3, 60, 70, emergency=True), row(4, 80)]
    assert [(r.version, r.at, r.source, r.emergency) for _, r in effects(rows)] == [
        (1, 5, APPLIED, False),
        (3, 70, APPLIED, True),
        (4, 80, MERGED, False),
    ]
    got = assess({"s": rows}, CLASSES, since=6, until=100)["s"]
    assert [r.version for r in got.rotations] == [3, 4]  # v1 took effect before since


def test_class_and_max_age_are_those_in_effect_at_until() -> None:
    rows = [row(1, 0, 0, cls="long"), row(2, 50, 50, cls="free"), row(3, 500, cls="k")]
    got = assess({"s": rows}, CLASSES, since=None, until=100)["s"]
    assert (got.rotation_class, got.max_age, got.age, got.start) == ("free", None, 50, 0)
    unborn = assess({"s": [row(1, 500, cls="long")]}, CLASSES, since=None, until=100)["s"]
    assert (unborn.rotation_class, unborn.max_age, unborn.age, unborn.start) == (
        "long",
        1000,
        None,
        None,
    )
    assert not unborn.exceeded and unborn.points == []


def test_emergency_rotations_in_the_period_are_listed() -> None:
    rows = [
        row(1, 0, 0, emergency=True),
        row(2, 40, 45, emergency=True),
        row(3, 60, emergency=True),
        row(4, None, None, emergency=True, authored=70),
        row(5, 80, 90),
        row(6, 300, 310, emergency=True),
    ]
    got = assess({"s": rows}, CLASSES, since=10, until=200)["s"]
    assert [(e.version, e.at, e.applied) for e in got.emergencies] == [
        (2, 45, True),
        (3, 60, False),
        (4, 70, False),
    ]
    assert got.emergencies[0].reason == "rotation 2" and got.emergencies[0].author.startswith("Al")
    everything = assess({"s": rows}, CLASSES, since=None, until=400)["s"]
    assert [e.version for e in everything.emergencies] == [1, 2, 3, 4, 6]


def waiver(globs: tuple[str, ...], expires: str, rule: str = "max-age") -> Waiver:
    reason = "CHG-1: the vendor cannot take a new key yet"
    return Waiver(rule, globs, reason, "bob@example.com", expires, where="waivers.yaml", line=4)


def test_waivers_at_until_cover_the_gaps_their_window_reaches() -> None:
    day = DAY
    rows = [row(1, 0, 0, cls="d"), row(2, 5 * day, 5 * day, cls="d")]
    classes = {"d": RotationClass("d", max_age=2 * day)}
    waivers = [
        waiver(("svc/*",), "1970-01-05"),  # through day 4 (ends at 5 * day)
        waiver(("other",), "1999-01-01"),
        waiver(("svc/db",), "1970-01-06", rule="reason-required"),
        waiver(("svc/db",), "1970-01-03"),  # ends before the first gap's end
    ]
    got = assess({"svc/db": rows}, classes, waivers, since=None, until=8 * day)["svc/db"]
    assert [w.expires for w in got.waivers] == ["1970-01-05", "1970-01-03"]
    assert got.waivers[0].ends_at == 5 * day and got.waivers[0].where == "waivers.yaml:4"
    first, second = got.gaps
    assert first.waived and [w.expires for w in first.waivers] == ["1970-01-05"]
    assert (second.start, second.end, second.ongoing, second.waived) == (
        7 * day,
        8 * day,
        True,
        False,
    )


def test_waivers_read_as_the_docstring_says() -> None:
    text = """apiVersion: gitrot/v1
kind: Waivers
waivers:
  - rule: max-age
    secrets: [svc/*]
    reason: "CHG-7: the vendor rotates in March"
    approver: bob@example.com
    expires: "1970-01-01"
  - rule: reason-required
    secrets: svc/db
    reason: "CHG-8: another rule entirely"
    approver: bob@example.com
    expires: "1970-01-01"
"""
    waivers, findings = parse_waivers(text, "waivers.yaml", {"max-age"})
    assert [f.rule_id for f in findings] == ["waiver-invalid"]  # the other rule: left out
    got = assess({"svc/db": [row(1, 0, 0)]}, CLASSES, waivers, since=None, until=DAY)["svc/db"]
    assert [(w.expires, w.where) for w in got.waivers] == [("1970-01-01", "waivers.yaml:4")]
    assert got.gaps[0].waived and got.gaps[0].end == DAY


def test_as_dict_is_json() -> None:
    rows = [row(1, 0, 0, emergency=True), row(2, 50, 150)]
    got = assess({"s": rows}, CLASSES, [waiver(("s",), "1970-01-02")], since=None, until=200)
    data = json.loads(json.dumps(as_json(got)))["s"]
    assert data["points"] == [[0, 0], [150, 150], [150, 0], [200, 50]]
    assert data["gaps"] == [
        {
            "start": 100,
            "end": 150,
            "duration": 50,
            "began": 100,
            "version": 1,
            "max_age": 100,
            "ongoing": False,
            "waived": True,
            "waivers": [data["waivers"][0]],
        }
    ]
    assert data["waivers"][0]["rule"] == "max-age" and data["waivers"][0]["ends_at"] == 2 * DAY
    assert (data["exceeded"], data["longest_age"], data["over_for"], data["age"]) == (
        True,
        150,
        50,
        50,
    )
    assert data["rotations"][1] == {"version": 2, "at": 150, "source": "applied",
                                    "emergency": False}  # fmt: skip
    assert data["emergencies"][0]["version"] == 1 and data["class"] == "k"


def test_a_secret_without_rows_is_empty() -> None:
    got = assess({"s": []}, CLASSES, since=None, until=10)["s"]
    assert got.as_dict() == {
        "secret": "s", "start": None, "until": 10, "class": "", "max_age": None, "age": None,
        "longest_age": 0, "exceeded": False, "over_for": 0, "points": [], "rotations": [],
        "gaps": [], "emergencies": [], "waivers": [],
    }  # fmt: skip


def test_since_after_until_is_refused() -> None:
    with pytest.raises(ValueError, match="since is after until"):
        assess({}, CLASSES, since=10, until=5)


def test_secrets_are_ordered_by_name() -> None:
    got = assess({"b": [row(1, 0, secret="b")], "a": [row(1, 0, secret="a")]}, CLASSES,
                 since=None, until=10)  # fmt: skip
    assert list(got) == ["a", "b"]


# -- invariants ----------------------------------------------------------------------------

times = st.one_of(st.none(), st.integers(0, 300))


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[LedgerRow], int | None, int, int]:
    count = draw(st.integers(1, 8))
    rows = [
        row(
            version,
            draw(times),
            draw(times),
            cls=draw(st.sampled_from(["k", "free"])),
            emergency=draw(st.booleans()),
            authored=draw(st.integers(0, 300)),
        )
        for version in range(1, count + 1)
    ]
    until = draw(st.integers(0, 400))
    since = draw(st.one_of(st.none(), st.integers(0, until)))
    return rows, since, until, draw(st.integers(1, 150))


def age_at(effect_times: list[int], t: float) -> float | None:
    before = [e for e in effect_times if e <= t]
    return t - max(before) if before else None


@settings(max_examples=300, derandomize=True, deadline=None)
@given(histories())
def test_invariants(history: tuple[list[LedgerRow], int | None, int, int]) -> None:
    rows, since, until, max_age = history
    classes = {"k": RotationClass("k", max_age=max_age), "free": RotationClass("free")}
    got = assess_secret("s", rows, classes, since=since, until=until)
    in_effect = [(r, rot) for r, rot in effects(rows) if rot.at <= until]
    starts = [rot.at for _, rot in in_effect]
    assert starts == sorted(starts)
    # the series: time never goes back, stays in the period, and the age never exceeds the
    # time since the previous version took effect
    assert [t for t, _ in got.points] == sorted(t for t, _ in got.points)
    for t, age in got.points:
        assert got.start is not None and got.start <= t <= until
        assert age >= 0
        earlier = [e for e in starts if e < t]
        if earlier:
            assert age <= t - max(earlier)
        assert age == t - max(e for e in starts if e <= t) or age == t - max(earlier)
    assert got.longest_age == max((a for _, a in got.points), default=0)
    # gaps: inside the period, never overlapping, and exactly when the age is over max_age
    for gap in got.gaps:
        assert got.start is not None and got.start <= gap.start < gap.end <= until
        assert gap.max_age == max_age and gap.began <= gap.start
    for first, second in zip(got.gaps, got.gaps[1:], strict=False):
        assert first.end <= second.start
    assert not any(gap.ongoing for gap in got.gaps[:-1])
    assert all(gap.end == until for gap in got.gaps if gap.ongoing)
    if got.start is None:
        assert not got.points and not got.gaps
        return
    limits = {rot.at: r.rotation_class for r, rot in in_effect}  # the last one at a time wins
    over = 0
    for t in range(got.start, until):
        current = max(e for e in starts if e <= t)
        if limits[current] == "k" and t - current >= max_age:
            over += 1
    assert got.over_for == over
    assert got.exceeded is (over > 0)
