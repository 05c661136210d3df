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

from gitrot import output
from gitrot.errors import EXIT_FINDINGS, EXIT_OK, GitrotError, InputError

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    import argparse

    from gitrot.core.models import Config, RotationIntent


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from gitrot.report import FORMATS

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
    parser.set_defaults(
        run=lambda args: validate(args.files, fmt=args.format, output_file=args.output)
    )


def validate(
    files: list[str],
    *,
    fmt: str = "text",
    root: str | None = None,
    output_file: str | None = None,
) -> int:
    from gitrot import repo, workspace
    from gitrot.core.findings import Finding, has_errors
    from gitrot.core.models import Config, RotationIntent
    from gitrot.report import render

    root = root or workspace.find_root()
    targets = [_relative(root, f) for f in files] or [repo.CONFIG_FILE, *repo.intent_files(root)]
    findings: list[Finding] = []
    intents: list[RotationIntent] = []
    config: Config | None = None
    for relpath in targets:
        try:
            model = check_file(root, relpath)
        except GitrotError as exc:
            findings.append(Finding.from_error(exc.at(relpath)))
            continue
        if isinstance(model, RotationIntent):
            intents.append(model)
        elif isinstance(model, Config):
            config = model
    rules_meta: dict[str, tuple[str, str]] = {}
    if intents or _names_policy_file(targets):
        if config is None and repo.CONFIG_FILE not in targets:
            try:
                config = repo.load_config(root)
            except GitrotError as exc:
                findings.append(Finding.from_error(exc.at(repo.CONFIG_FILE)))
        if config is not None:
            from datetime import UTC, datetime

            from gitrot.policy import engine, rules

            loaded = rules.load_rules(root, config)
            rules_meta = rules.describe(loaded)
            findings.extend(engine.evaluate(loaded, intents, config, now=datetime.now(UTC)))
    color = fmt == "text" and output_file is None and output.stdout_wants_color()
    report = render(
        findings, fmt, checked_files=targets, color=color, command="validate", rules=rules_meta
    )
    if output_file is not None:
        from gitrot.fsutil import write_atomic

        try:
            write_atomic(output_file, report, durable=False)
        except OSError as exc:
            raise InputError(
                f"cannot write the report: {exc.strerror}",
                where=output_file,
                hint="give --output a file path in a writable directory",
            ) from None
    elif report:
        output.data(report)
    if fmt == "text" and findings:
        from gitrot.report.text import summary_line

        output.info(summary_line(findings, len(targets)))
    return EXIT_FINDINGS if has_errors(findings) else EXIT_OK


def check_file(root: str, relpath: str) -> Config | RotationIntent | None:
    """The model of one file, or its first problem raised; files gitrot does not own (and
    sealed values, which have no model here) give None."""
    from pathlib import Path

    from gitrot import repo
    from gitrot.core.models import SEALED_SUFFIX, SECRETS_DIR

    if relpath == repo.CONFIG_FILE:
        return repo.load_config(Path(root))
    if relpath.startswith(SECRETS_DIR + "/") and relpath.endswith(SEALED_SUFFIX):
        _check_sealed(root, relpath)
        return None
    if relpath.startswith(SECRETS_DIR + "/") and relpath.endswith((".yaml", ".yml")):
        return repo.load_intent(Path(root), relpath)
    return None


def _names_policy_file(targets: list[str]) -> bool:
    """Whether a changed file may be a rule file (then the rules load, to check it)."""
    return any(t.endswith(".yaml") and not t.startswith("secrets/") for t in targets)


def _check_sealed(root: str, relpath: str) -> None:
    from gitrot.fsutil import read_text
    from gitrot.sops.document import SopsFile
    from gitrot.sops.walk import Selector

    source = SopsFile.parse(read_text(os.path.join(root, relpath)), fmt="yaml", where=relpath)
    value = source.docs[0].get("value")
    if not isinstance(value, str) or not value.startswith("ENC[AES256_GCM,"):
        raise InputError("the sealed value is not encrypted", where=relpath)
    if not Selector(*source.metadata.selector).encrypts(["value"], [], False):
        raise InputError("the sealed document's selector does not encrypt 'value'", where=relpath)


def _relative(root: str, path: str) -> str:
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, root)
    if relative.startswith(".."):
        raise InputError(
            "is outside the policy repository", where=path, hint=f"the repository is {root}"
        )
    return relative.replace(os.sep, "/")
