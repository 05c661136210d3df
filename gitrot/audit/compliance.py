"""Compliance over time, pure (docs/audit.md, "Compliance"): each secret's age against its
class's ``max_age`` at every moment of a period, from the ledger's rows alone.

**When a version takes effect.** The age clock of a version starts when its value took
effect: ``applied_at`` (the reconciler's note) when known. Without one it falls back to
``merged_at`` (the version was desired on the main branch; this is the time ``gitrot due``
and the ``max-age`` rule count from), unless a later version of the same secret was applied:
then the reconciler went straight to that one, the unapplied version never took effect and
does not reset the clock. A version neither merged nor applied (a branch that never landed)
never takes effect. Effect times are made non-decreasing in version order (a version cannot
take effect before the one before it), so inconsistent notes cannot make the age negative.

**Age.** At time ``t`` the secret's age is ``t - e`` where ``e`` is the effect time of the
version in effect at ``t`` (the last to take effect at or before ``t``); before its first
version took effect a secret has no age. The age is over the limit when it is greater than
``max_age`` (the ``max-age`` rule's test), the limit being the ``max_age`` of the class the
version in effect names (``metadata.class`` of that version; the classes are gitrot.yaml's
as the caller read them, usually at ``until``). A class without ``max_age``, or unknown,
sets no limit for its versions.

**Waivers.** Only the waivers file at ``until`` is read (reading it at each point of
history is not done): a ``max-age`` waiver whose globs match the secret is listed with its
window, which ends at the end of its ``expires`` day (UTC); its start is unknown (the file
does not say when the entry was added). A gap counts as waived when such a waiver's window
reaches the gap's end; ``--verify`` does not fail on a waived gap.

Rows must hold every version of the secret up to ``until`` (not only those in the period):
the age at ``since`` depends on the version in effect then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from gitrot.audit.model import LedgerRow
from gitrot.core.due import Limit
from gitrot.core.durations import DAY

#: the rule id a waiver names to excuse age over the limit (gitrot/policies/builtin.yaml)
MAX_AGE_RULE = "max-age"
APPLIED = "applied"  # Rotation.source: the effect time is the note's
MERGED = "merged"  # ... the merge time (no note, and no later version applied)
_EPOCH = date(1970, 1, 1)


class WaiverLike(Protocol):
    """What compliance reads of a waiver (:class:`gitrot.files.waivers.Waiver`)."""

    @property
    def rule(self) -> str: ...
    @property
    def secrets(self) -> tuple[str, ...]: ...
    @property
    def reason(self) -> str: ...
    @property
    def approver(self) -> str: ...
    @property
    def expires(self) -> str: ...
    def covers(self, rule_id: str, name: str) -> bool: ...
    def location(self) -> str: ...


@dataclass(frozen=True)
class WaiverWindow:
    """A ``max-age`` waiver of the secret in the waivers file at ``until``: in force up to
    ``ends_at`` (epoch seconds: the first second after its ``expires`` day, UTC)."""

    secrets: tuple[str, ...]
    reason: str
    approver: str
    expires: str
    ends_at: int
    where: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": MAX_AGE_RULE,
            "secrets": list(self.secrets),
            "reason": self.reason,
            "approver": self.approver,
            "expires": self.expires,
            "ends_at": self.ends_at,
            "where": self.where,
        }


@dataclass(frozen=True)
class Gap:
    """A time the secret was over its max age, within the period: from ``start`` to
    ``end`` (epoch seconds); ``began`` is when it went over (before ``start`` when it was
    already over at the period's start); ``version`` the version too old, ``max_age`` its
    limit; ``ongoing`` when no later version took effect by ``until``; ``waivers`` the
    waivers whose window reaches ``end``."""

    start: int
    end: int
    began: int
    version: int
    max_age: int
    ongoing: bool
    waivers: tuple[WaiverWindow, ...] = ()

    @property
    def duration(self) -> int:
        return self.end - self.start

    @property
    def waived(self) -> bool:
        return bool(self.waivers)

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
            "began": self.began,
            "version": self.version,
            "max_age": self.max_age,
            "ongoing": self.ongoing,
            "waived": self.waived,
            "waivers": [w.as_dict() for w in self.waivers],
        }


@dataclass(frozen=True)
class Rotation:
    """A version taking effect: at ``at``, from the note (``source`` "applied") or the
    merge ("merged")."""

    version: int
    at: int
    source: str
    emergency: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "at": self.at,
            "source": self.source,
            "emergency": self.emergency,
        }


@dataclass(frozen=True)
class Emergency:
    """An emergency rotation in the period: ``at`` is its effect time, else its merge time,
    else its author time; ``applied`` whether a note says it was applied."""

    version: int
    commit: str
    at: int
    author: str
    reason: str
    applied: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "commit": self.commit,
            "at": self.at,
            "author": self.author,
            "reason": self.reason,
            "applied": self.applied,
        }


@dataclass
class SecretCompliance:
    """One secret over the period ``[start, until]`` (``start``: the later of ``since``
    and its first effect time; None when no version took effect by ``until``).

    ``points`` are ``(time, age)`` pairs in time order for a chart: the age grows with
    slope 1 between consecutive points and drops to 0 where two points share a time (a
    rotation). ``rotation_class`` and ``max_age`` are those of the version in effect at
    ``until`` (else the last version's).
    """

    secret: str
    until: int
    start: int | None = None
    rotation_class: str = ""
    max_age: int | None = None
    points: list[tuple[int, int]] = field(default_factory=list)
    rotations: list[Rotation] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    emergencies: list[Emergency] = field(default_factory=list)
    waivers: list[WaiverWindow] = field(default_factory=list)

    @property
    def longest_age(self) -> int:
        """The greatest age reached in the period (0 without points)."""
        return max((age for _, age in self.points), default=0)

    @property
    def exceeded(self) -> bool:
        """Whether the secret was over its max age at any time in the period."""
        return bool(self.gaps)

    @property
    def over_for(self) -> int:
        """Seconds over the max age in the period, all gaps together."""
        return sum(gap.duration for gap in self.gaps)

    @property
    def age(self) -> int | None:
        """The age at ``until`` (None when no version was in effect)."""
        return self.points[-1][1] if self.points else None

    def as_dict(self) -> dict[str, object]:
        return {
            "secret": self.secret,
            "start": self.start,
            "until": self.until,
            "class": self.rotation_class,
            "max_age": self.max_age,
            "age": self.age,
            "longest_age": self.longest_age,
            "exceeded": self.exceeded,
            "over_for": self.over_for,
            "points": [[at, age] for at, age in self.points],
            "rotations": [r.as_dict() for r in self.rotations],
            "gaps": [g.as_dict() for g in self.gaps],
            "emergencies": [e.as_dict() for e in self.emergencies],
            "waivers": [w.as_dict() for w in self.waivers],
        }


def assess(
    rows_by_secret: Mapping[str, Sequence[LedgerRow]],
    classes: Mapping[str, Limit],
    waivers: Iterable[WaiverLike] = (),
    *,
    since: int | None,
    until: int,
) -> dict[str, SecretCompliance]:
    """Each secret's compliance over ``[since, until]`` (epoch seconds; ``since`` None: from
    its first version), keyed and ordered by secret name. ``classes`` maps a class name to
    its limits (``config.classes``), ``waivers`` are the waivers file's at ``until``:
    ``load_waivers(root, config.waivers_path, {MAX_AGE_RULE})[0]`` for the work tree, or
    ``parse_waivers(text, path, {MAX_AGE_RULE})[0]`` of the file at the last commit before
    ``until`` (waivers of other rules are left out either way)."""
    if since is not None and since > until:
        raise ValueError("since is after until")
    chosen = [w for w in waivers if w.rule == MAX_AGE_RULE]
    return {
        name: assess_secret(
            name,
            rows_by_secret[name],
            classes,
            [window(w) for w in chosen if w.covers(MAX_AGE_RULE, name)],
            since=since,
            until=until,
        )
        for name in sorted(rows_by_secret)
    }


def assess_secret(
    name: str,
    rows: Sequence[LedgerRow],
    classes: Mapping[str, Limit],
    windows: Sequence[WaiverWindow] = (),
    *,
    since: int | None,
    until: int,
) -> SecretCompliance:
    """One secret's compliance (:func:`assess`); ``windows`` are its ``max-age`` waivers."""
    ordered = sorted(rows, key=lambda row: row.version)
    result = SecretCompliance(name, until, waivers=list(windows))
    result.emergencies = _emergencies(ordered, since, until)
    in_effect = [(row, rotation) for row, rotation in effects(ordered) if rotation.at <= until]
    last = in_effect[-1][0] if in_effect else (ordered[-1] if ordered else None)
    if last is not None:
        result.rotation_class = last.rotation_class
        result.max_age = _limit(classes, last)
    if not in_effect:
        return result
    start = in_effect[0][1].at if since is None else max(since, in_effect[0][1].at)
    result.start = start
    for index, (row, rotation) in enumerate(in_effect):
        following = in_effect[index + 1][1].at if index + 1 < len(in_effect) else None
        end = until if following is None else following
        if end < start or (end == start and following is not None):
            continue  # replaced before the period began
        if rotation.at >= start:
            result.rotations.append(rotation)
        begin = max(rotation.at, start)
        _add_point(result.points, (begin, begin - rotation.at))
        _add_point(result.points, (end, end - rotation.at))
        limit = _limit(classes, row)
        if limit is not None and end > max(rotation.at + limit, start):
            result.gaps.append(
                Gap(
                    start=max(rotation.at + limit, start),
                    end=end,
                    began=rotation.at + limit,
                    version=row.version,
                    max_age=limit,
                    ongoing=following is None,
                    waivers=tuple(w for w in windows if w.ends_at >= end),
                )
            )
    return result


def effects(rows: Sequence[LedgerRow]) -> list[tuple[LedgerRow, Rotation]]:
    """The versions that took effect, in version order, each with its :class:`Rotation`
    (the module docstring says when a version takes effect); times non-decreasing."""
    found: list[tuple[LedgerRow, Rotation]] = []
    applied_later = False
    for row in sorted(rows, key=lambda row: row.version, reverse=True):
        if row.applied_at is not None:
            found.append((row, Rotation(row.version, row.applied_at, APPLIED, row.emergency)))
            applied_later = True
        elif row.merged_at is not None and not applied_later:
            found.append((row, Rotation(row.version, row.merged_at, MERGED, row.emergency)))
    found.reverse()
    latest: int | None = None
    for index, (row, rotation) in enumerate(found):
        if latest is not None and rotation.at < latest:
            found[index] = (row, Rotation(rotation.version, latest, rotation.source, row.emergency))
        latest = found[index][1].at
    return found


def window(waiver: WaiverLike) -> WaiverWindow:
    """The window of a waiver: through the end of its ``expires`` day, UTC."""
    ends_at = (date.fromisoformat(waiver.expires) - _EPOCH).days * DAY + DAY
    return WaiverWindow(
        tuple(waiver.secrets),
        waiver.reason,
        waiver.approver,
        waiver.expires,
        ends_at,
        waiver.location(),
    )


def as_json(result: Mapping[str, SecretCompliance]) -> dict[str, object]:
    """The ``compliance`` object of ``gitrot audit --format json``: ``{secret: ...}``."""
    return {name: item.as_dict() for name, item in result.items()}


def _limit(classes: Mapping[str, Limit], row: LedgerRow) -> int | None:
    rotation_class = classes.get(row.rotation_class)
    return None if rotation_class is None else rotation_class.max_age


def _add_point(points: list[tuple[int, int]], point: tuple[int, int]) -> None:
    if not points or points[-1] != point:
        points.append(point)


def _emergencies(rows: Sequence[LedgerRow], since: int | None, until: int) -> list[Emergency]:
    found = []
    for row in rows:
        if not row.emergency:
            continue
        if row.applied_at is not None:
            at = row.applied_at
        elif row.merged_at is not None:
            at = row.merged_at
        else:
            at = row.authored_at
        if (since is None or at >= since) and at <= until:
            found.append(
                Emergency(
                    row.version, row.commit, at, row.author, row.reason, row.applied_at is not None
                )
            )
    return found
