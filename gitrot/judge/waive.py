"""Which waivers count (the base's policy and the change's own), and applying them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitrot.files import waivers

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from gitrot.core.findings import Finding
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
        found = waivers.approval_problems(
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
