"""``gitrot audit``: the ledger of every secret version, from git alone (docs/audit.md)."""

from __future__ import annotations

import argparse
import fnmatch
import os
import time
from datetime import UTC, datetime

from gitrot import output, ui
from gitrot.audit import table, verify
from gitrot.audit.compliance import MAX_AGE_RULE, as_json, assess
from gitrot.audit.history import read_history
from gitrot.audit.ledger import build_ledger, by_secret, signature_check
from gitrot.audit.render import RENDERERS, Report, render
from gitrot.audit.state import state_problems
from gitrot.errors import EXIT_FINDINGS, EXIT_OK, InputError
from gitrot.files import repo as files
from gitrot.files import workspace
from gitrot.files.fsutil import write_output
from gitrot.files.waivers import load_waivers
from gitrot.git.process import run_git
from gitrot.git.repository import open_repo
from gitrot.git.state import RECONCILED_REF


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="the ledger of every secret version, from git alone",
        description="One row per secret version: who asked (author), why (reason), who "
        "approved (trailers, merge commits), when it merged into the main branch, when it "
        "was applied and who was told (the reconciler's notes), and the commits' "
        "signatures; compliance with each class's max age. --verify exits 1 on gaps.",
    )
    parser.add_argument("--format", dest="fmt", choices=tuple(RENDERERS), default="table")
    parser.add_argument("--output", default=None, metavar="FILE", help="write the report here")
    parser.add_argument("--since", default=None, metavar="DATE", help="e.g. 2025-01-01")
    parser.add_argument("--until", default=None, metavar="DATE", help="default: now")
    parser.add_argument("--secret", default=None, metavar="GLOB", help="e.g. 'payments/*'")
    parser.add_argument("--environment", default=None, metavar="ENV")
    parser.add_argument(
        "--main",
        default=None,
        metavar="BRANCH",
        help="default: the branch refs/gitrot/reconciled follows, else main",
    )
    parser.add_argument(
        "--allowed-signers", default=None, metavar="FILE", help="git's allowed signers format"
    )
    parser.add_argument("--verify", action="store_true", help="exit 1 on any problem")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    since = parse_date(args.since, "--since")
    until = parse_date(args.until, "--until")
    if since is not None and until is not None and since > until:
        raise InputError("--since is after --until")
    root = workspace.find_root()
    config = files.load_config(root)
    settings = config.audit
    signers_path = args.allowed_signers or (
        os.path.join(root, settings.allowed_signers) if settings.allowed_signers else None
    )
    allowed = read_allowed(signers_path)
    repo = open_repo(root)
    main = args.main or settings.main or default_main(root)
    with ui.progress("audit: history, signatures, ledger", total=3) as bar:
        history = read_history(repo, main, prefix=workspace.top_prefix(root))
        bar(1)
        check = signature_check(allowed, signers_path or "allowed signers file")
        rows = [
            row
            for row in build_ledger(history, signatures=check)
            if (args.secret is None or fnmatch.fnmatchcase(row.secret, args.secret))
            and (args.environment is None or row.environment == args.environment)
        ]
        bar(2)
        end = until if until is not None else int(time.time())
        waivers = load_waivers(root, config.waivers_path, {MAX_AGE_RULE})[0]
        known = [row for row in rows if (row.merged_at or row.authored_at) <= end]
        compliance = assess(by_secret(known), config.classes, waivers, since=since, until=end)
        bar(3)
    problems = []
    if args.verify:
        reconciled = _reconciled(root)
        problems = verify.problems(
            known,
            until=end,
            notes_unreachable=history.orphan_notes,
            reconciled=reconciled,
            reconciled_ok=reconciled is None or reconciled in history.parents,
            require_signatures=settings.require_signatures,
            compliance=compliance,
        )
        problems += state_problems(repo, config.signing_key)
    shown = [row for row in known if since is None or (row.merged_at or row.authored_at) >= since]
    report = Report(shown, as_json(compliance), problems, since, until, main)
    text = render(report, args.fmt)
    if args.output:
        write_output(args.output, text)
    elif args.fmt == "table":  # rich draws it on a terminal; the plain text elsewhere
        cells, styles = table.cells(report.rows)
        ui.table(table.COLUMNS, cells, plain=text, styles=styles, title="gitrot audit")
    else:
        output.data(text)
    for problem in problems:
        output.info(f"gitrot: {verify.line(problem)}")
    return EXIT_FINDINGS if problems else EXIT_OK


def parse_date(text: str | None, option: str) -> int | None:
    """``YYYY-MM-DD`` or an ISO 8601 time (UTC unless it says otherwise), in epoch seconds."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{option} {text!r} is not a date", hint="e.g. 2025-01-31 or 2025-01-31T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def read_allowed(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read the allowed signers file: {getattr(exc, 'strerror', None) or exc}",
            where=path,
        ) from None


def default_main(root: str) -> str:
    """The branch that contains ``refs/gitrot/reconciled`` (``main`` first), else main."""
    result = run_git(
        ["for-each-ref", "--contains", RECONCILED_REF, "--format=%(refname:short)", "refs/heads/"],
        cwd=root,
    )
    branches = result.stdout.decode().split() if result.returncode == 0 else []
    if not branches or "main" in branches:
        return "main"
    return branches[0]


def _reconciled(root: str) -> str | None:
    result = run_git(["rev-parse", "--verify", "--quiet", f"{RECONCILED_REF}^{{commit}}"], cwd=root)
    return result.stdout.decode().strip() or None if result.returncode == 0 else None
