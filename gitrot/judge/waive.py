"""Which waivers count (the base's policy and the change's own), and applying them."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING

from gitrot.core.findings import Finding, Severity
from gitrot.files import waivers
from gitrot.judge.pr import MISSING_HINT

if TYPE_CHECKING:
    from datetime import datetime

    from gitrot.files.waivers import Waiver
    from gitrot.judge.inputs import Policy


def waive(
    judged: list[Finding],
    effective: list[Waiver],
    problems: list[Finding],
    *,
    now: datetime,
    judged_all: bool,
) -> list[Finding]:
    """``judged`` with the ``effective`` waivers applied, and, when the whole repository is
    judged (only there can a waiver be known unused), the findings about waivers
    (``problems``, expired, unused); a run on a few files still honours the valid waivers."""
    today = now.date().isoformat()
    result = waivers.apply_waivers(judged, effective, today=today, judged_all=judged_all)
    if judged_all:
        return [*problems, *result]
    return [f for f in result if f.rule_id not in waivers.RULE_IDS]


def effective_waivers(
    head: Policy,
    base: Policy | None,
    old_ids: set[tuple[object, ...]],
    *,
    now: datetime,
    pr: Mapping[str, object] | None,
) -> tuple[list[Waiver], list[Finding]]:
    """The waivers of ``head`` that count, and the findings about them.

    A waiver counts when the ``base`` has it, or the change adds it (or changes it) and its
    approver may approve it, did, and it is short-lived enough (``old_ids``: the waivers the
    change left from; one the base removed since no longer counts). Without a base policy
    the head's waivers count as they are."""
    problems: list[Finding] = list(head.waiver_problems)
    if base is None:
        return list(head.waivers), problems
    today = now.date().isoformat()
    base_ids = {waivers.identity(w) for w in base.waivers}
    effective = []
    for waiver in head.waivers:
        key = waivers.identity(waiver)
        if key in base_ids:
            effective.append(waiver)
            continue
        if key in old_ids:
            continue  # the base removed it since the change left it: it no longer counts
        found = approval_problems(
            waiver,
            approvers=base.config.waiver_approvers,
            max_days=base.config.max_waiver_days,
            today=today,
            pr=pr,
        )
        problems.extend(found)
        if not found:
            effective.append(waiver)
    return effective, problems


#: the PR check's findings about the waivers a pull request adds or changes
UNAPPROVED = "waiver-unapproved"
TOO_LONG = "waiver-too-long"


def approval_problems(
    waiver: Waiver,
    *,
    approvers: Collection[str],
    max_days: int,
    today: str,
    pr: Mapping[str, object] | None,
) -> list[Finding]:
    """Why a waiver a pull request adds or changes does not count, at its file:line: its
    ``approver`` must be one of the base's ``policy.waiver_approvers`` (case-insensitive),
    not the pull request's author, and have approved it (``pr``: the PR facts, None when
    unknown: an error); it may last at most ``max_days`` from ``today`` (``YYYY-MM-DD``)."""
    found: list[Finding] = []

    def problem(rule: str, message: str, hint: str) -> None:
        found.append(
            Finding(rule, Severity.ERROR, waiver.where, waiver.line, 0, message, hint=hint)
        )

    who = waiver.approver.strip().lower()
    allowed = {a.lower() for a in approvers}
    what = waiver.describe()
    if not allowed:
        problem(
            UNAPPROVED,
            f"{what} names approver {waiver.approver!r}, but the base's gitrot.yaml lists no "
            "policy.waiver_approvers",
            "merge a change that sets policy.waiver_approvers (approved by a policy owner) first",
        )
    elif who not in allowed:
        problem(
            UNAPPROVED,
            f"{what} names approver {waiver.approver!r}, who is not in the base's "
            "policy.waiver_approvers",
            f"name one of {', '.join(sorted(allowed))} as approver, and ask them to approve",
        )
    if pr is None:
        problem(UNAPPROVED, f"{what} cannot be checked: the PR's facts are unknown", MISSING_HINT)
    elif who and who == str(pr.get("author") or "").lower():
        problem(
            UNAPPROVED,
            f"{what} is approved by {waiver.approver!r}, the pull request's author",
            "a waiver is approved by someone else than who asks for it",
        )
    else:
        approvals = pr.get("approvals")
        given = {str(a).lower() for a in approvals} if isinstance(approvals, list) else set()
        if who not in given:
            problem(
                UNAPPROVED,
                f"{what} names approver {waiver.approver!r}, who has not approved the pull request",
                f"ask {waiver.approver} to approve the pull request",
            )
    latest = (date.fromisoformat(today) + timedelta(days=max_days)).isoformat()
    if waiver.expires > latest:
        problem(
            TOO_LONG,
            f"{what} expires on {waiver.expires}, more than policy.max_waiver_days "
            f"({max_days}) from today",
            f'set expires to {latest} or earlier, e.g. expires: "{latest}"',
        )
    return found
