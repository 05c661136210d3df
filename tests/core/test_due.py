"""gitrot.core.due: pure, with stand-in intents, classes and history."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from gitrot.codec.yaml_scan import scan_field, scan_int
from gitrot.core.due import DueItem, due

DAY = 86400
NOW = 1_700_000_000


class Intent(NamedTuple):
    name: str
    version: int
    rotation_class: str = "db"

    @property
    def path(self) -> str:
        return f"secrets/{self.name}.yaml"


class Limit(NamedTuple):
    max_age: int | None


class Change(NamedTuple):
    version: int | None
    time: int


CLASSES = {"db": Limit(90 * DAY), "api": Limit(30 * DAY), "forever": Limit(None)}


def test_overdue_due_soon_and_fine_sorted_most_overdue_first() -> None:
    intents = [
        Intent("fine", 1),
        Intent("soon", 2, "api"),
        Intent("late", 3),
        Intent("later", 1),
        Intent("never", 1, "forever"),
        Intent("unknown-class", 1, "nope"),
    ]
    changes = {
        "secrets/fine.yaml": Change(1, NOW - 10 * DAY),
        "secrets/soon.yaml": Change(2, NOW - 25 * DAY),
        "secrets/late.yaml": Change(3, NOW - 100 * DAY),
        "secrets/later.yaml": Change(1, NOW - 120 * DAY),
        "secrets/never.yaml": Change(1, NOW - 1000 * DAY),
        "secrets/unknown-class.yaml": Change(1, NOW - 1000 * DAY),
    }
    items = due(intents, CLASSES, changes, now=NOW, within=14 * DAY)
    assert [item.name for item in items] == ["later", "late", "soon"]
    assert items[1] == DueItem(
        name="late",
        path="secrets/late.yaml",
        version=3,
        last_rotated=NOW - 100 * DAY,
        age=100 * DAY,
        max_age=90 * DAY,
        due_at=NOW - 10 * DAY,
        overdue=True,
    )
    assert not items[2].overdue
    assert items[2].due_at == NOW + 5 * DAY
    assert [item.name for item in due(intents, CLASSES, changes, now=NOW, within=0)] == [
        "later",
        "late",
    ]
    assert "name='later'" in repr(items[0])
    assert len({items[0], items[0]}) == 1


def test_no_history_or_uncommitted_bump_counts_from_now() -> None:
    intents = [Intent("new", 1, "api"), Intent("bumped", 4, "api")]
    changes = {"secrets/bumped.yaml": Change(3, NOW - 400 * DAY)}
    assert due(intents, CLASSES, changes, now=NOW, within=29 * DAY) == []
    items = due(intents, CLASSES, changes, now=NOW, within=30 * DAY)
    assert [(item.name, item.age, item.last_rotated) for item in items] == [
        ("bumped", 0, NOW),
        ("new", 0, NOW),
    ]


def test_due_exactly_now_is_overdue() -> None:
    items = due(
        [Intent("x", 1)], CLASSES, {"secrets/x.yaml": Change(1, NOW - 90 * DAY)}, now=NOW, within=0
    )
    assert items[0].overdue and items[0].due_at == NOW


@pytest.mark.parametrize(
    ("text", "block", "key", "value"),
    [
        (b"spec:\n    version: 7\n", b"spec", b"version", b"7"),
        (b"metadata:\n  name: a\n  class: db # x\nspec: {}\n", b"metadata", b"class", b"db"),
        (b"metadata:\n  labels:\n    class: no\n  class: yes\n", b"metadata", b"class", b"yes"),
        (b"metadata:\n  labels:\n    class: no\n", b"metadata", b"class", None),
        (b"metadata: {class: db}\n", b"metadata", b"class", None),
        (b"metadata:\n  class: 'db'\n", b"metadata", b"class", None),
        (b"metadata:\n  class:\n", b"metadata", b"class", None),
        (b"spec:\n  version: 1\nspec:\n  version: 2\n", b"spec", b"version", None),
        (b"spec:\n\tversion: 1\n", b"spec", b"version", None),
        (b"kind: x\n", b"spec", b"version", None),
        (b"spec:\n  version: 1", b"spec", b"version", b"1"),
    ],
)
def test_scan_field(text: bytes, block: bytes, key: bytes, value: bytes | None) -> None:
    assert scan_field(text, block, key) == value


@pytest.mark.parametrize(
    ("value", "number"), [(b"7", 7), (b"0", 0), (b"010", None), (b"-1", None), (None, None)]
)
def test_scan_int(value: bytes | None, number: int | None) -> None:
    assert scan_int(value) == number
