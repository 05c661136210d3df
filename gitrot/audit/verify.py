"""What ``gitrot audit --verify`` fails on, pure (docs/audit.md, "--verify").

:func:`problems` judges the ledger's rows and what :mod:`gitrot.audit.reach` found in the
repository; each failure is a :class:`~gitrot.audit.model.Problem` with a stable check id
(:data:`CHECKS`, in the order they are reported):

- ``applied-not-merged``: a note says a version was applied, and no commit of the main
  branch set that version (``applied_at`` without ``merge_commit``);
- ``merged-not-applied``: a merged version no note says was applied, for longer than
  :data:`GRACE` (one day: a scheduled reconcile runs at least daily) before the next
  version merged, or before ``until`` for the last one. A version replaced within the grace
  period (the reconciler went straight to the next) is not a problem;
- ``note-unreachable``: a ``refs/notes/gitrot`` note on a commit no longer reachable from
  the main branch (the history it describes was rewritten);
- ``reconciled-not-ancestor``: ``refs/gitrot/reconciled`` is not an ancestor of the main
  branch (or equal to it);
- ``signature``: with ``require_signatures``, a commit of a row (its ``signatures``) whose
  status is anything but ``good`` (unsigned, unknown key, wrong principal, bad, expired,
  or unchecked: no allowed-signers file), once per commit;
- ``over-max-age``: a gap of the compliance report (:mod:`gitrot.audit.compliance`) that no
  waiver covers: the secret was over its max age in the period.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from gitrot.audit.compliance import SecretCompliance
from gitrot.audit.model import GOOD, LedgerRow, Problem
from gitrot.core.durations import DAY, format_duration

APPLIED_NOT_MERGED = "applied-not-merged"
MERGED_NOT_APPLIED = "merged-not-applied"
NOTE_UNREACHABLE = "note-unreachable"
RECONCILED_NOT_ANCESTOR = "reconciled-not-ancestor"
SIGNATURE = "signature"
OVER_MAX_AGE = "over-max-age"
CHECKS = (
    APPLIED_NOT_MERGED,
    MERGED_NOT_APPLIED,
    NOTE_UNREACHABLE,
    RECONCILED_NOT_ANCESTOR,
    SIGNATURE,
    OVER_MAX_AGE,
)
#: how long a merged version may wait for the reconciler before it is a problem
GRACE = DAY


def problems(
    rows: Sequence[LedgerRow],
    *,
    until: int,
    notes_unreachable: Sequence[str] = (),
    reconciled: str | None = None,
    reconciled_ok: bool = True,
    require_signatures: bool = False,
    compliance: Mapping[str, SecretCompliance] | None = None,
    grace: int = GRACE,
) -> list[Problem]:
    """Every problem, in :data:`CHECKS` order, then by secret, version and commit.

    The caller (``gitrot audit --verify``, gitrot/commands/audit.py) passes the ledger's
    ``rows`` (every version of the secrets audited, up to ``until``), ``until`` (epoch
    seconds: the end of the period), ``notes_unreachable``, ``reconciled`` and
    ``reconciled_ok`` from :func:`gitrot.audit.reach.reach` on the main branch,
    ``require_signatures`` from the policy (``audit.require_signatures``), and
    ``compliance`` from :func:`gitrot.audit.compliance.assess` (None skips
    ``over-max-age``). Exit 1 when the list is not empty, one :func:`line` per problem.
    """
    found: list[Problem] = []
    found += _applied_not_merged(rows)
    found += _merged_not_applied(rows, until, grace)
    found += [
        Problem(
            NOTE_UNREACHABLE,
            f"the gitrot note on {commit[:12]} is on no commit of the main branch: "
            "the history it records was rewritten",
            commit=commit,
        )
        for commit in sorted(set(notes_unreachable))
    ]
    if not reconciled_ok:
        found.append(
            Problem(
                RECONCILED_NOT_ANCESTOR,
                f"refs/gitrot/reconciled ({(reconciled or '?')[:12]}) is not an ancestor of "
                "the main branch: the main branch was rewritten after the reconciler ran",
                commit=reconciled or "",
            )
        )
    if require_signatures:
        found += _signatures(rows)
    if compliance is not None:
        found += _over_max_age(compliance)
    return found


def line(problem: Problem) -> str:
    """The one line ``--verify`` prints: ``CHECK: MESSAGE``."""
    return f"{problem.check}: {problem.message}"


def _name(row: LedgerRow) -> str:
    return f"{row.secret} v{row.version}"


def _applied_not_merged(rows: Sequence[LedgerRow]) -> list[Problem]:
    return [
        Problem(
            APPLIED_NOT_MERGED,
            f"{_name(row)} was applied (note on {(row.applied_commit or '?')[:12]}) but no "
            "commit of the main branch sets it",
            secret=row.secret,
            version=row.version,
            commit=row.applied_commit or "",
        )
        for row in _ordered(rows)
        if row.applied_at is not None and row.merge_commit is None
    ]


def _merged_not_applied(rows: Sequence[LedgerRow], until: int, grace: int) -> list[Problem]:
    by_secret: dict[str, list[LedgerRow]] = {}
    for row in _ordered(rows):
        by_secret.setdefault(row.secret, []).append(row)
    found = []
    for versions in by_secret.values():
        merged = [row for row in versions if row.merged_at is not None]
        for index, row in enumerate(merged):
            if row.applied_at is not None or row.merged_at is None:
                continue
            following = merged[index + 1].merged_at if index + 1 < len(merged) else None
            waited = min(until if following is None else following, until) - row.merged_at
            if waited > grace:
                found.append(
                    Problem(
                        MERGED_NOT_APPLIED,
                        f"{_name(row)} merged in {(row.merge_commit or '?')[:12]} and no note "
                        f"says it was applied within {format_duration(grace)}",
                        secret=row.secret,
                        version=row.version,
                        commit=row.merge_commit or "",
                    )
                )
    return found


def _signatures(rows: Sequence[LedgerRow]) -> list[Problem]:
    seen: set[str] = set()
    found = []
    for row in _ordered(rows):
        for commit, signature in sorted(row.signatures.items()):
            if signature.status == GOOD or commit in seen:
                continue
            seen.add(commit)
            detail = f": {signature.detail}" if signature.detail else ""
            found.append(
                Problem(
                    SIGNATURE,
                    f"commit {commit[:12]} ({_name(row)}) is {signature.status}{detail}",
                    secret=row.secret,
                    version=row.version,
                    commit=commit,
                )
            )
    return found


def _over_max_age(compliance: Mapping[str, SecretCompliance]) -> list[Problem]:
    found = []
    for name in sorted(compliance):
        for gap in compliance[name].gaps:
            if gap.waived:
                continue
            still = " and still is" if gap.ongoing else ""
            found.append(
                Problem(
                    OVER_MAX_AGE,
                    f"{name} v{gap.version} was over its max age "
                    f"({format_duration(gap.max_age)}) for {format_duration(gap.duration)} "
                    f"from {_date(gap.start)}{still}",
                    secret=name,
                    version=gap.version,
                )
            )
    return found


def _ordered(rows: Sequence[LedgerRow]) -> list[LedgerRow]:
    return sorted(rows, key=lambda row: (row.secret, row.version, row.commit))


def _date(epoch: int) -> str:
    """``YYYY-MM-DD HH:MM UTC`` of epoch seconds (no clock, no time zone data)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
