"""``gitrot status``: per secret, desired (git) against applied (backend) against told.

Reads the intents at HEAD, each backend's newest version (the backend is the truth, not
the records), and the consumers' last deliveries from the reconciler's signed state
(``refs/gitrot/state``; a state that does not verify is ignored with a warning, and its
deliveries show as pending).
``--exit-code`` exits 1 on drift (a desired version not applied, or a consumer not told).
"""

from __future__ import annotations

from gitrot import output
from gitrot.errors import EXIT_FINDINGS, EXIT_OK

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    import argparse


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
    import os
    from datetime import UTC, datetime

    from gitrot.files import workspace
    from gitrot.git.repository import resolve
    from gitrot.reconcile import desired
    from gitrot.reconcile.run import Session, applied_versions, read_state

    session = Session.from_config(root or str(workspace.find_root()), os.environ)
    commit = resolve(session.repo, rev)
    config = desired.read_config(commit, session.prefix)
    state = read_state(session, config)
    ledger = dict(state.entries()) if state.trusted else {}
    blobs = desired.intent_blobs(commit, session.prefix)
    wanted = desired.load(
        session.repo,
        commit,
        session.prefix,
        sorted(blobs),
        blobs,
        config,
        session.identities,
        now=datetime.now(UTC),
    )
    applied = applied_versions(session, config, wanted, commit)
    rows = []
    drift = False
    for want in sorted(wanted, key=lambda w: w.name):
        have = applied.get((want.backend, want.ref))
        entry = ledger.get(want.name)
        deliveries = {}
        for trigger in want.consumers:
            last = entry.deliveries.get(trigger) if entry is not None else None
            told = bool(last and last.get("ok") and entry and entry.version == want.version)
            deliveries[trigger] = {
                "ok": told,
                "version": entry.version if entry is not None and last else None,
                "at": last.get("at") if last else None,
                "delivery_id": last.get("delivery_id") if last else None,
            }
        in_sync = (
            not want.problem
            and have is not None
            and have.version == want.version
            and all(d["ok"] for d in deliveries.values())
        )
        drift = drift or not in_sync
        rows.append(
            {
                "name": want.name,
                "desired": want.version,
                "applied": have.version if have is not None else None,
                "applied_at": have.written_at if have is not None else None,
                "backend": want.backend,
                "consumers": deliveries,
                "in_sync": in_sync,
                "problem": want.problem,
            }
        )
    if fmt == "json":
        import json

        output.data(json.dumps({"commit": str(commit.id), "secrets": rows}, indent=2) + "\n")
    else:
        output.data(_render(rows))
    return EXIT_FINDINGS if exit_code and drift else EXIT_OK


def _render(rows: list[dict[str, object]]) -> str:
    from datetime import UTC, datetime

    if not rows:
        return "no secrets\n"
    lines = [f"{'secret':<32} {'desired':>7} {'applied':>7}  {'written':<20} consumers"]
    for row in rows:
        when = row["applied_at"]
        written = (
            datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            if isinstance(when, int)
            else "-"
        )
        consumers = row["consumers"]
        assert isinstance(consumers, dict)  # noqa: S101 - built above
        told = ", ".join(
            f"{name} {'ok' if d['ok'] else 'pending'}" for name, d in consumers.items()
        )
        applied = row["applied"] if row["applied"] is not None else "-"
        mark = "" if row["in_sync"] else "  <- drift"
        if row["problem"]:
            mark = f"  <- refused: {row['problem']}"
        lines.append(
            f"{row['name']:<32} {row['desired']:>7} {applied!s:>7}  {written:<20} "
            f"{told or '-'}{mark}"
        )
    return "\n".join(lines) + "\n"
