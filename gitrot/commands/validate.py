"""``gitrot validate [FILE...]``: the pre-commit entry point.

It checks what the loader checks (the formats of intents, gitrot.yaml and sealed values:
schema, names, paths, encryption), then runs the policy rules (:mod:`gitrot.policy`: the
built-in pack and the repository's ``policy.paths``) over every intent that loaded. Every
problem is a finding (:mod:`gitrot.core.findings`; loader errors have the rule id
``schema``), reported in any ``--format`` of :mod:`gitrot.report`; exit 1 when any is an
error. A bad rule file, or a rule whose expression fails, is an input error (exit 2).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gitrot import output, ui
from gitrot.core.findings import has_errors
from gitrot.errors import EXIT_FINDINGS, EXIT_OK, InputError
from gitrot.files import workspace
from gitrot.files.fsutil import inside, refuse_special
from gitrot.judge.pipeline import judge
from gitrot.judge.tree_input import WorkTree
from gitrot.report import FORMATS, deliver, publish_github_summary, render
from gitrot.report.text import summary_line

if TYPE_CHECKING:
    import argparse

    from gitrot.core.findings import Finding


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check intents and gitrot.yaml (pre-commit hook)",
        description="Check FILEs (default: gitrot.yaml and every intent) and report every "
        "problem as path:line:col: severity: [rule] message. Exit 1 when anything is wrong.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (default), json, sarif (code scanning), github (Actions annotations), "
        "junit (CI test reports) or markdown (a PR comment)",
    )
    parser.add_argument(
        "--output",
        metavar="FILE",
        help="write the report to FILE (atomically, once it is complete) instead of stdout",
    )
    parser.add_argument(
        "--context",
        choices=("pre-commit", "pr", "scheduled"),
        default="pre-commit",
        help="where the rules run, for rules whose severity depends on it: pre-commit "
        "(default), pr, or scheduled (a periodic CI job: overdue secrets are errors)",
    )
    parser.set_defaults(
        run=lambda args: validate(
            args.files, fmt=args.format, output_file=args.output, context=args.context
        )
    )


def validate(
    files: list[str],
    *,
    fmt: str = "text",
    root: str | None = None,
    output_file: str | None = None,
    context: str = "pre-commit",
) -> int:
    groups = [(root, list(files))] if root is not None else _roots(files)
    # every FILE is checked before anything is judged or written: a bad one is exit 2
    judged = [(where, [_target(where, f) for f in group]) for where, group in groups]
    findings: list[Finding] = []
    targets: list[str] = []
    rules_meta: dict[str, tuple[str, str]] = {}
    now = datetime.now(UTC)
    with ui.progress("files checked") as bar:  # the whole repository only, never the hook
        for policy_root, policy_targets in judged:
            inputs = WorkTree(policy_root, policy_targets, context=context, now=now)
            verdict = judge(inputs, progress=None if files else bar)
            # one rule for every format, as gitrot check: paths from the top of the git tree
            prefix = workspace.top_prefix(policy_root)
            findings.extend(
                f.relocated(prefix + f.path) if prefix and f.path else f for f in verdict.findings
            )
            targets.extend(prefix + path for path in verdict.checked)
            rules_meta.update(verdict.rules)
    color = fmt == "text" and output_file is None and output.stdout_wants_color()
    report = render(
        findings, fmt, checked_files=targets, color=color, command="validate", rules=rules_meta
    )
    deliver(report, output_file)
    if fmt == "github":
        publish_github_summary(
            findings, fmt, environ=os.environ, checked_files=targets, command="validate",
            rules=rules_meta,
        )  # fmt: skip
    if fmt == "text" and findings:
        output.info(summary_line(findings, len(targets)))
    return EXIT_FINDINGS if has_errors(findings) else EXIT_OK


def _roots(files: list[str]) -> list[tuple[str, list[str]]]:
    """The policy repositories to judge, each with its FILE arguments.

    Without FILEs: the one here (or an input error). With FILEs (pre-commit passes them
    from the top of the git work tree): each file's own policy repository
    (:func:`gitrot.files.workspace.root_of`), so a policy folder in a bigger repository is found
    from the paths. A file in none is not gitrot's: skipped without a word (the hook in an
    application's repository that keeps sops files in ``secrets/`` passes quietly), except
    when the current directory is in a policy repository, where it is judged against that
    one (and one outside it is an input error)."""
    if not files:
        return [(workspace.find_root(), [])]
    here = workspace.nearest_root()
    groups: dict[str, list[str]] = {}
    known: dict[str, str | None] = {}  # folder: its policy repository (one walk per folder)
    for path in files:
        folder = os.path.dirname(os.path.abspath(path))
        if folder not in known:
            known[folder] = workspace.root_of(path)
        root = known[folder] or here
        if root is not None:
            groups.setdefault(root, []).append(path)
    return list(groups.items())


def _target(root: str, path: str) -> str:
    """The repo-relative form of a FILE argument; InputError (exit 2) for one outside the
    repository, reached through a symlink that leaves it, or a FIFO, socket or device."""
    relative = _relative(root, path)
    refuse_special(inside(root, relative), relative)
    return relative


def _relative(root: str, path: str) -> str:
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, root)
    if relative.startswith(".."):
        raise InputError(
            "is outside the policy repository", where=path, hint=f"the repository is {root}"
        )
    return relative.replace(os.sep, "/")
