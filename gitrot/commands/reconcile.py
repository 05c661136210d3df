"""``gitrot reconcile [--rev REV] [--jobs N] [--push REMOTE]``: apply what git says.

Writes the new secret versions to their backends exactly once, tells their consumers, and
records what it did: the state of every secret in ``refs/gitrot/state`` (signed), what this
run did in a note on the commit (``refs/notes/gitrot``), and ``refs/gitrot/reconciled``.
``--full`` compares every intent with its backend (as a run does when the state does not
verify). Safe to kill and rerun at any point, and to run several at once.
Exit 0 when everything is applied and delivered; 1 when an intent was refused or a delivery
failed (it is retried on the next run); 3 when a backend or the remote is unreachable.

SIGINT and SIGTERM stop a run at once: running trigger commands are killed with their
process groups, no trigger starts and no webhook retries any more, and the main thread is
interrupted (KeyboardInterrupt: exit 130; SIGTERM: exit 143). What it was doing then has
:data:`GRACE` seconds to finish; then the process exits anyway (a run is safe to kill
anywhere: the next one converges).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import FrameType

from gitrot import output, ui
from gitrot.errors import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, InputError
from gitrot.files import workspace
from gitrot.reconcile.run import reconcile
from gitrot.reconcile.wiring import Reconciler
from gitrot.triggers.command import stop_all

EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process SIGTERM ended
GRACE = 1.5  # seconds between the signal and the forced exit


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
    parser.add_argument(
        "--full",
        action="store_true",
        help="compare every intent with its backend, whatever refs/gitrot/state says",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(
        run=lambda args: run_reconcile(
            args.rev, jobs=args.jobs, push=args.push, fmt=args.format, full=args.full
        )
    )


def run_reconcile(
    rev: str,
    *,
    jobs: int = 4,
    push: str | None = None,
    fmt: str = "text",
    root: str | None = None,
    full: bool = False,
) -> int:
    if jobs < 1 or jobs > 64:
        raise InputError("--jobs must be between 1 and 64")
    reconciler = Reconciler.from_config(root or str(workspace.find_root()), os.environ)
    with stopped_by_signals(), ui.progress("items applied") as bar:
        outcome = reconcile(
            reconciler, rev, jobs=jobs, push=push, full=full, now=lambda: datetime.now(UTC),
            progress=bar,
        )  # fmt: skip
    if fmt == "json":
        document = {
            "commit": outcome.commit,
            "state": outcome.state,
            "applied": outcome.applied,
            "deliveries": outcome.deliveries,
            "refused": outcome.refused,
        }
        output.data(json.dumps(document, indent=2) + "\n")
    else:
        for record in outcome.applied:
            output.info(f"gitrot: {applied_line(record)}")
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


def applied_line(record: Mapping[str, object]) -> str:
    """``NAME vN written to BACKEND``, and for a rotation at the source the steps this run
    took (``pending, set, tested, promoted by ROTATOR``) and the versions it abandoned."""
    steps = record.get("steps")
    rotated = bool(record.get("rotator")) and isinstance(steps, list)
    how = "written to" if not record["found"] else "resumed in" if rotated else "found in"
    line = f"{record['name']} v{record['version']} {how} {record['backend']}"
    if rotated and isinstance(steps, list):
        took = ", ".join(str(step) for step in steps) or "nothing left to do"
        line += f" (rotator {record['rotator']}: {took})"
    abandoned = record.get("abandoned")
    if isinstance(abandoned, list) and abandoned:
        line += "; abandoned pending " + ", ".join(f"v{v}" for v in abandoned)
    return line


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """While the ``with`` runs, SIGINT and SIGTERM kill the running trigger commands, stop
    new ones and webhook retries, and interrupt the main thread (outside the main thread,
    where handlers cannot be installed, nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop(signum: int, frame: FrameType | None) -> None:
    """The handler: kill, stop, arm the forced exit, raise in the main thread."""
    stop_all()
    interrupted = signum == signal.SIGINT
    code = EXIT_INTERRUPTED if interrupted else EXIT_TERMINATED
    _force_exit_after(GRACE, code)
    if interrupted:
        raise KeyboardInterrupt
    output.error("gitrot: error: terminated (SIGTERM)", "")
    raise SystemExit(code)


def _force_exit_after(seconds: float, code: int) -> None:
    """Exit with ``code`` in ``seconds`` unless the process has ended by then (worker
    threads in a backend call or a webhook request would otherwise hold the exit)."""

    def end() -> None:
        time.sleep(seconds)
        stop_all()
        os._exit(code)

    threading.Thread(target=end, name="gitrot-stop", daemon=True).start()
