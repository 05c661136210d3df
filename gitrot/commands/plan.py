"""``gitrot plan [--rev REV]``: what ``gitrot reconcile`` would do, changing nothing.

Like ``terraform plan``: one line per secret to write, resume (a rotation at the source
stopped at a step, shown with it), record or notify, and why; refused
intents (policy at the target commit, a desired version below the applied one, a location
another secret owns) too. ``--full`` compares every intent with its backend. Exit 0
when the plan can be applied, 1 when something would be refused.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime

from gitrot import output, ui
from gitrot.core.ports import PROMOTED
from gitrot.errors import EXIT_FINDINGS, EXIT_OK
from gitrot.files import workspace
from gitrot.reconcile.observe import plan
from gitrot.reconcile.plan import REFUSE, Item
from gitrot.reconcile.wiring import Reconciler


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="what reconcile would do at a commit (dry run)",
        description="Compare the intents at REV (default HEAD) with the backends and the "
        "reconciler's signed state, and print what gitrot reconcile would write and whom it "
        "would tell.",
    )
    parser.add_argument("--rev", default="HEAD", metavar="REV")
    parser.add_argument(
        "--full",
        action="store_true",
        help="compare every intent with its backend, whatever refs/gitrot/state says",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(run=lambda args: run_plan(args.rev, fmt=args.format, full=args.full))


def run_plan(rev: str, *, fmt: str = "text", root: str | None = None, full: bool = False) -> int:
    reconciler = Reconciler.from_config(root or str(workspace.find_root()), os.environ)
    planned = plan(reconciler, rev, now=datetime.now(UTC), full=full)
    commit, items = str(planned.commit.id), planned.items
    if fmt == "json":
        document = {"commit": commit, "items": [item.as_dict() for item in items]}
        output.data(json.dumps(document, indent=2) + "\n")
    else:
        ui.table(
            COLUMNS, table_rows(items), plain=render(commit, items),
            styles=[STYLES.get(item.action, "") for item in items],
            title=f"commit {commit[:12]}", caption=f"plan: {summary(items)}",
        )  # fmt: skip
    return EXIT_FINDINGS if any(item.action == REFUSE for item in items) else EXIT_OK


SYMBOLS = {"write": "+", "resume": ">", "record": "=", "trigger": "~", "refuse": "!"}
STYLES = {"write": "green", "resume": "yellow", "refuse": "red"}
COLUMNS = (
    ui.Column(""),
    ui.Column("action"),
    ui.Column("secret"),
    ui.Column("version", "right"),
    ui.Column("backend"),
    ui.Column("why"),
)


def table_rows(items: list[Item]) -> list[list[str]]:
    """The cells of the drawn plan (:data:`COLUMNS`): the reason, the step a pending
    version is at and the consumers to tell, one line each in the last cell."""
    rows = []
    for item in items:
        d = item.desired
        notes = [item.reason] if item.reason else []
        if item.step is not None and item.step != PROMOTED:
            notes.append(f"step: {item.step} (pending, not promoted)")
        if item.triggers:
            notes.append(f"then tell: {', '.join(item.triggers)}")
        rows.append(
            [SYMBOLS[item.action], item.action, d.name, f"v{d.version}", d.backend or "",
             "\n".join(notes)]
        )  # fmt: skip
    return rows


def summary(items: list[Item]) -> str:
    """``N to write, M to refuse``: the plan's counts, in :data:`SYMBOLS` order."""
    counts = {a: sum(1 for i in items if i.action == a) for a in SYMBOLS}
    return ", ".join(f"{n} to {a}" for a, n in counts.items() if n)


def render(commit: str, items: list[Item]) -> str:
    if not items:
        return f"commit {commit[:12]}: nothing to do; every secret is applied and delivered\n"
    lines = [f"commit {commit[:12]}:"]
    for item in items:
        d = item.desired
        head = f"  {SYMBOLS[item.action]} {item.action:<7} {d.name} v{d.version}"
        if d.backend:
            head += f" ({d.backend})"
        lines.append(head)
        if item.reason:
            lines.append(f"      {item.reason}")
        if item.step is not None and item.step != PROMOTED:
            lines.append(f"      step: {item.step} (pending, not promoted)")
        if item.triggers:
            lines.append(f"      then tell: {', '.join(item.triggers)}")
    lines.append(f"plan: {summary(items)}")
    return "\n".join(lines) + "\n"
