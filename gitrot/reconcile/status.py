"""Status, pure: per secret, desired (git) against applied (backend) against told (the
state), from the same plan ``gitrot plan`` prints (docs/architecture.md, The reconciler).

A secret is in sync when the plan has nothing to do for it; otherwise its row carries the
plan's action and reason (``write``, ``resume``, ``record``, ``trigger``, ``refuse``). A
version pending in the backend (a rotation at the source not promoted) is shown with its
step and why it stopped (the reason the last note recorded for it, if any).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from gitrot.core.ports import PENDING, AppliedVersion
from gitrot.reconcile.plan import REFUSE, Desired, Item

if TYPE_CHECKING:  # the ledger reads git; status only reads what it was handed
    from gitrot.reconcile.ledger import Entry, State


def rows(
    wanted: list[Desired],
    applied: dict[tuple[str, str], AppliedVersion | None],
    state: State,
    items: list[Item],
    refusals: Mapping[tuple[str, int], str] | None = None,
) -> list[dict[str, object]]:
    """One row per intent, in name order (never a ref or a value); ``refusals`` maps
    (name, version) to the reason the last note recorded."""
    refusals = refusals or {}
    todo = {item.desired.name: item for item in items}
    found: list[dict[str, object]] = []
    for want in sorted(wanted, key=lambda w: w.name):
        have = applied.get((want.backend, want.ref))
        entry = state.entry(want.name) if state.trusted else None
        item = todo.get(want.name)
        found.append(
            {
                "name": want.name,
                "desired": want.version,
                "applied": have.version if have is not None else None,
                "applied_at": have.written_at if have is not None else None,
                "stage": have.stage if have is not None else None,
                "step": have.step if have is not None else None,
                "rotator": want.rotator or None,
                "pending": pending(have, want, refusals),
                "backend": want.backend,
                "consumers": consumers(want, entry),
                "in_sync": item is None,
                "action": item.action if item is not None else None,
                "reason": item.reason if item is not None else "",
                "problem": item.reason if item is not None and item.action == REFUSE else "",
            }
        )
    return found


def pending(
    have: AppliedVersion | None, want: Desired, refusals: Mapping[tuple[str, int], str]
) -> dict[str, object] | None:
    """The backend's pending version not promoted, its step and why it stopped."""
    if have is None or have.stage != PENDING:
        return None
    why = refusals.get((want.name, have.version), "")
    return {"version": have.version, "step": have.step, "reason": why}


def consumers(want: Desired, entry: Entry | None) -> dict[str, dict[str, object]]:
    """Each consumer's last delivery the state records; ``ok`` only when it told the
    desired version."""
    told: dict[str, dict[str, object]] = {}
    for trigger in want.consumers:
        last = entry.deliveries.get(trigger) if entry is not None else None
        told[trigger] = {
            "ok": bool(last and last.get("ok") and entry and entry.version == want.version),
            "version": entry.version if entry is not None and last else None,
            "at": last.get("at") if last else None,
            "delivery_id": last.get("delivery_id") if last else None,
        }
    return told
