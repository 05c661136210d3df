"""``gitrot status``: per secret, desired (git) against applied (backend) against told.

Made from the plan ``gitrot plan --full`` makes at REV (the same readers: every intent,
each backend's newest version, the reconciler's signed state ``refs/gitrot/state``; a
state that does not verify is ignored with a warning, and its deliveries show as pending),
rows by :mod:`gitrot.reconcile.status`. A secret drifts when the plan has something to do
for it (a version to write or record, a consumer to tell, a refusal), shown with the
plan's reason. A version pending in its backend (a rotation at the source that has not
been promoted) shows its step and the reason the last run's note recorded.
``--exit-code`` exits 1 on drift.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime

from gitrot import output, ui
from gitrot.errors import EXIT_FINDINGS, EXIT_OK
from gitrot.files import workspace
from gitrot.git import state as refs
from gitrot.reconcile import status
from gitrot.reconcile.ledger import parse_note
from gitrot.reconcile.observe import plan
from gitrot.reconcile.wiring import Reconciler


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status",
        help="desired vs applied vs consumed, per secret",
        description="Per secret: the desired version at REV, the version its backend holds "
        "and when it was written, and each consumer's last delivery.",
    )
    parser.add_argument("--rev", default="HEAD", metavar="REV")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--exit-code", action="store_true", help="exit 1 on drift")
    parser.set_defaults(
        run=lambda args: run_status(args.rev, fmt=args.format, exit_code=args.exit_code)
    )


def run_status(
    rev: str, *, fmt: str = "text", exit_code: bool = False, root: str | None = None
) -> int:
    reconciler = Reconciler.from_config(root or str(workspace.find_root()), os.environ)
    planned = plan(reconciler, rev, now=datetime.now(UTC), full=True)
    commit = str(planned.commit.id)
    rows = status.rows(
        planned.wanted, planned.applied, planned.state, planned.items,
        last_refusals(reconciler, commit),
    )  # fmt: skip
    if fmt == "json":
        document = {"commit": str(planned.commit.id), "secrets": rows}
        output.data(json.dumps(document, indent=2) + "\n")
    else:
        cells, styles = table_rows(rows)
        ui.table(COLUMNS, cells, plain=_render(rows), styles=styles, caption=f"at {commit[:12]}")
    drift = any(not row["in_sync"] for row in rows)
    return EXIT_FINDINGS if exit_code and drift else EXIT_OK


def last_refusals(reconciler: Reconciler, commit: str) -> dict[tuple[str, int], str]:
    """``{(name, version): reason}`` of the notes on ``commit`` and on the reconciled
    commit (the last run's; the one on ``commit`` wins)."""
    found: dict[tuple[str, int], str] = {}
    for rev in (refs.reconciled(reconciler.repo), commit):
        note = parse_note(refs.read_note(reconciler.repo, rev)) if rev else None
        refused = note.get("refused") if note else None
        for record in refused if isinstance(refused, list) else []:
            if not isinstance(record, dict):
                continue
            name, version, why = record.get("name"), record.get("version"), record.get("reason")
            if isinstance(name, str) and type(version) is int and isinstance(why, str):
                found[(name, version)] = why
    return found


COLUMNS = (
    ui.Column("secret"),
    ui.Column("desired", "right"),
    ui.Column("applied", "right"),
    ui.Column("written"),
    ui.Column("consumers"),
    ui.Column("state"),
)


def table_rows(rows: list[dict[str, object]]) -> tuple[list[list[str]], list[str]]:
    """The cells of the drawn table (:data:`COLUMNS`) and each row's style: refused red,
    drifting or pending yellow."""
    cells, styles = [], []
    for row in rows:
        state, style = "in sync", ""
        if not row["in_sync"]:
            state, style = f"drift: {row['action']}: {row['reason']}", "yellow"
        if row["problem"]:
            state, style = f"refused: {row['problem']}", "red"
        held = row["pending"]
        if isinstance(held, dict):
            why = f": {held['reason']}" if held["reason"] else ""
            state += f"\npending v{held['version']} at step {held['step']}, not promoted{why}"
            style = style or "yellow"
        applied = row["applied"] if row["applied"] is not None else "-"
        cells.append(
            [str(row["name"]), str(row["desired"]), str(applied), _written(row["applied_at"]),
             _told(row["consumers"]) or "-", state]
        )  # fmt: skip
        styles.append(style)
    return cells, styles


def _written(when: object) -> str:
    if not isinstance(when, int):
        return "-"
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _told(consumers: object) -> str:
    assert isinstance(consumers, dict)  # noqa: S101 - built by status.rows
    return ", ".join(f"{name} {'ok' if d['ok'] else 'pending'}" for name, d in consumers.items())


def _render(rows: list[dict[str, object]]) -> str:
    if not rows:
        return "no secrets\n"
    lines = [f"{'secret':<32} {'desired':>7} {'applied':>7}  {'written':<20} consumers"]
    for row in rows:
        written = _written(row["applied_at"])
        told = _told(row["consumers"])
        applied = row["applied"] if row["applied"] is not None else "-"
        mark = "" if row["in_sync"] else f"  <- drift ({row['action']}: {row['reason']})"
        if row["problem"]:
            mark = f"  <- refused: {row['problem']}"
        held = row["pending"]
        if isinstance(held, dict):
            why = f": {held['reason']}" if held["reason"] else ""
            mark += (
                f"\n{'':<32} pending v{held['version']} at step {held['step']}, not promoted{why}"
            )
        lines.append(
            f"{row['name']:<32} {row['desired']:>7} {applied!s:>7}  {written:<20} "
            f"{told or '-'}{mark}"
        )
    return "\n".join(lines) + "\n"
