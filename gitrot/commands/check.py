"""``gitrot check --base REV [--head REV]``: the PR check (docs/architecture.md).

Judges the change ``--head`` makes since it left ``--base`` (their merge base), read from
git objects: no checkout, a bare clone or a detached HEAD work. Exit 0 when no finding is
an error, 1 otherwise; 2 for an unknown revision or a bad rule file; 3 when git fails.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gitrot import output
from gitrot.core.findings import has_errors
from gitrot.errors import EXIT_FINDINGS, EXIT_OK
from gitrot.git.change import open_change
from gitrot.judge.change_input import judge_change
from gitrot.judge.pr import pr_facts
from gitrot.report import FORMATS, deliver, publish_github_summary, render
from gitrot.report.text import summary_line

if TYPE_CHECKING:
    import argparse

    from gitrot.core.findings import Finding


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="judge a change against its base (the PR status check)",
        description="Judge what --head changes since it left --base (their merge base): "
        "every policy rule on the intents it touches, version steps, sealed values, "
        "deleted intents, moved targets, removed recipients, and secrets in any changed "
        "file or commit message. Reads git objects only. Exit 1 when anything is wrong.",
    )
    parser.add_argument("--base", required=True, metavar="REV", help="the target branch")
    parser.add_argument("--head", default="HEAD", metavar="REV", help="default: HEAD")
    parser.add_argument(
        "--repo",
        default=".",
        metavar="PATH",
        help="the policy repository: a work tree, its folder in one, or a bare repository "
        "(default: the current directory)",
    )
    parser.add_argument(
        "--prefix",
        metavar="DIR",
        help="where the policy repository sits in the git tree (default: where --repo is "
        "in its work tree; '' for a bare repository)",
    )
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return check(
        args.base,
        args.head,
        repo=args.repo,
        prefix=args.prefix,
        fmt=args.format,
        output_file=args.output,
    )


def _moved(finding: Finding, top: str | None) -> Finding:
    """The finding with its path from the top of the git tree (unchanged when None)."""
    if top is None or not finding.path:
        return finding
    return finding.relocated(top)


def check(
    base: str,
    head: str = "HEAD",
    *,
    repo: str = ".",
    prefix: str | None = None,
    fmt: str = "text",
    output_file: str | None = None,
) -> int:
    change = open_change(repo, base, head, prefix=prefix)
    verdict = judge_change(change, now=datetime.now(UTC), pr=pr_facts(os.environ))
    findings, checked = verdict.findings, verdict.checked
    # one rule for every format (and for gitrot validate): paths from the top of the git
    # tree, as forges, pre-commit and CI name files, not from the policy's folder in it
    if change.prefix:
        findings = [_moved(f, change.top_path(f.path)) for f in findings]
        checked = [change.top_path(path) or path for path in checked]
    color = fmt == "text" and output_file is None and output.stdout_wants_color()
    report = render(
        findings,
        fmt,
        checked_files=checked,
        color=color,
        command="check",
        rules=verdict.rules,
    )
    deliver(report, output_file)
    publish_github_summary(
        findings, fmt, environ=os.environ, checked_files=checked, command="check",
        rules=verdict.rules,
    )  # fmt: skip
    if fmt == "text":
        output.info(summary_line(verdict.findings, len(verdict.checked)))
    return EXIT_FINDINGS if has_errors(verdict.findings) else EXIT_OK
