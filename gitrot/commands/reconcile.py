"""``gitrot reconcile [--rev REV] [--jobs N] [--push REMOTE]``: apply what git says.

Writes the new secret versions to their backends exactly once, tells their consumers, and
records what it did in a note on the commit (``refs/notes/gitrot``) and in
``refs/gitrot/reconciled``. Safe to kill and rerun at any point, and to run several at once.
Exit 0 when everything is applied and delivered; 1 when an intent was refused or a delivery
failed (it is retried on the next run); 3 when a backend or the remote is unreachable.
"""

from __future__ import annotations

from gitrot import output
from gitrot.errors import EXIT_FINDINGS, EXIT_OK

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    import argparse


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "reconcile",
        help="apply merged rotations: write versions, fire triggers, record in git",
        description="Apply the intents at REV (default HEAD): write each new version to its "
        "backend once, tell its consumers, and record it in a git note.",
    )
    parser.add_argument("--rev", default="HEAD", metavar="REV")
    parser.add_argument("--jobs", type=int, default=4, metavar="N", help="parallel items")
    parser.add_argument(
        "--push",
        metavar="REMOTE",
        help="publish the note and refs/gitrot/reconciled to REMOTE (compare-and-swap)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(
        run=lambda args: run_reconcile(args.rev, jobs=args.jobs, push=args.push, fmt=args.format)
    )


def run_reconcile(
    rev: str, *, jobs: int = 4, push: str | None = None, fmt: str = "text", root: str | None = None
) -> int:
    import os
    from datetime import UTC, datetime

    from gitrot import workspace
    from gitrot.errors import InputError
    from gitrot.reconcile.run import Session, reconcile

    if jobs < 1 or jobs > 64:
        raise InputError("--jobs must be between 1 and 64")
    session = Session(root or str(workspace.find_root()), os.environ)
    outcome = reconcile(session, rev, jobs=jobs, push=push, now=lambda: datetime.now(UTC))
    if fmt == "json":
        import json

        document = {
            "commit": outcome.commit,
            "applied": outcome.applied,
            "deliveries": outcome.deliveries,
            "refused": outcome.refused,
        }
        output.data(json.dumps(document, indent=2) + "\n")
    else:
        for record in outcome.applied:
            how = "found in" if record["found"] else "written to"
            output.info(f"gitrot: {record['name']} v{record['version']} {how} {record['backend']}")
        for delivery in outcome.deliveries:
            state = "told" if delivery["ok"] else f"NOT told ({delivery['detail']})"
            output.info(f"gitrot:   {delivery['trigger']} {state} about {delivery['name']}")
        for refused in outcome.refused:
            output.info(f"gitrot: refused {refused['name']}: {refused['reason']}")
        if outcome.noop:
            output.info(f"gitrot: {outcome.commit[:12]} is reconciled; nothing to do")
        else:
            output.info(f"gitrot: reconciled {outcome.commit[:12]} (note in refs/notes/gitrot)")
    return EXIT_FINDINGS if outcome.failed else EXIT_OK
