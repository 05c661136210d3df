"""Which intents are due for rotation: age against the class's ``max_age`` (pure, no clock).

The caller passes ``now`` and the history (when each intent's version last changed, from
:func:`gitrot.git.last_version_changes`), so the answer is deterministic and testable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol


class Intent(Protocol):
    """What ``due`` reads of an intent (``gitrot.core.models.RotationIntent``)."""

    @property
    def name(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def rotation_class(self) -> str: ...


class Limit(Protocol):
    """What ``due`` reads of a class (``gitrot.core.models.RotationClass``)."""

    @property
    def max_age(self) -> int | None: ...


class Change(Protocol):
    """What ``due`` needs of a history record (``gitrot.git.VersionChange``)."""

    @property
    def version(self) -> int | None: ...
    @property
    def time(self) -> int: ...


class DueItem:
    """One intent that is due (``overdue``) or falls due within the window asked for.

    Times are epoch seconds, durations seconds: ``age = now - last_rotated`` and
    ``due_at = last_rotated + max_age``.
    """

    __slots__ = ("age", "due_at", "last_rotated", "max_age", "name", "overdue", "path", "version")

    def __init__(
        self,
        *,
        name: str,
        path: str,
        version: int,
        last_rotated: int,
        age: int,
        max_age: int,
        due_at: int,
        overdue: bool,
    ) -> None:
        self.name = name
        self.path = path
        self.version = version
        self.last_rotated = last_rotated
        self.age = age
        self.max_age = max_age
        self.due_at = due_at
        self.overdue = overdue

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, field) for field in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DueItem) and other._values() == self._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{field}={getattr(self, field)!r}" for field in self.__slots__)
        return f"DueItem({fields})"


def due(
    intents: Iterable[Intent],
    classes: Mapping[str, Limit],
    changes: Mapping[str, Change],
    *,
    now: int,
    within: int,
) -> list[DueItem]:
    """Intents whose ``max_age`` runs out by ``now + within``, most overdue first.

    ``changes`` maps an intent's repo-relative path to the commit that last changed its
    version. An intent with no history, or whose version differs from the one that history
    recorded (an uncommitted bump), counts as rotated at ``now``. Intents whose class sets
    no ``max_age`` (or whose class is unknown; the validator reports that) are skipped.
    """
    items = []
    for intent in intents:
        rotation_class = classes.get(intent.rotation_class)
        if rotation_class is None or rotation_class.max_age is None:
            continue
        change = changes.get(intent.path)
        last = change.time if change is not None and change.version == intent.version else now
        due_at = last + rotation_class.max_age
        if due_at > now + within:
            continue
        items.append(
            DueItem(
                name=intent.name,
                path=intent.path,
                version=intent.version,
                last_rotated=last,
                age=max(now - last, 0),
                max_age=rotation_class.max_age,
                due_at=due_at,
                overdue=due_at <= now,
            )
        )
    items.sort(key=lambda item: (item.due_at, item.name))
    return items
