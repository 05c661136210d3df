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
from gitrot.core.layout import CONFIG_FILE, in_secrets, is_sealed_path
from gitrot.errors import EXIT_FINDINGS, EXIT_OK, GitrotError, InputError

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    import argparse

    from gitrot.core.findings import Finding
    from gitrot.core.models import Config, RotationIntent
    from gitrot.policy.input import Facts


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
    from gitrot.core.findings import has_errors
    from gitrot.files import workspace
    from gitrot.report import render

    groups = [(root, list(files))] if root is not None else _roots(files)
    # every FILE is checked before anything is judged or written: a bad one is exit 2
    judged = [(where, [_target(where, f) for f in group]) for where, group in groups]
    findings: list[Finding] = []
    targets: list[str] = []
    rules_meta: dict[str, tuple[str, str]] = {}
    for policy_root, policy_targets in judged:
        found, checked, meta = judge(policy_root, policy_targets, context=context)
        # one rule for every format, as gitrot check: paths from the top of the git tree
        prefix = workspace.top_prefix(policy_root)
        findings.extend(f.relocated(prefix + f.path) if prefix and f.path else f for f in found)
        targets.extend(prefix + path for path in checked)
        rules_meta.update(meta)
    color = fmt == "text" and output_file is None and output.stdout_wants_color()
    report = render(
        findings, fmt, checked_files=targets, color=color, command="validate", rules=rules_meta
    )
    from gitrot.report import deliver

    deliver(report, output_file)
    if fmt == "github":
        from gitrot.report import publish_github_summary

        publish_github_summary(
            findings, fmt, environ=os.environ, checked_files=targets, command="validate",
            rules=rules_meta,
        )  # fmt: skip
    if fmt == "text" and findings:
        from gitrot.report.text import summary_line

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
    from gitrot.files import workspace

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


def judge(
    root: str, targets: list[str], *, context: str = "pre-commit"
) -> tuple[list[Finding], list[str], dict[str, tuple[str, str]]]:
    """(findings, files checked, rule descriptions) of ``targets`` (every file gitrot owns
    when empty): the loader's checks, then the rules over the intents that loaded, then the
    waivers. A changed waivers file widens the run to the whole repository: whether a
    waiver is used can only be told there. Waiver findings (expired, unused, invalid) are
    reported only when the whole repository is judged; a run on a few files still honours
    the valid waivers."""
    from datetime import UTC, datetime

    from gitrot.core.findings import Finding
    from gitrot.core.models import RotationIntent
    from gitrot.files import repo

    config: Config | None = None
    config_error: GitrotError | None = None
    try:
        config = repo.load_config(root)
    except GitrotError as exc:
        config_error = exc.at(CONFIG_FILE)
    waivers_path = config.waivers_path if config is not None else None
    judged_all = not targets or (waivers_path is not None and waivers_path in targets)
    if judged_all:
        intent_files, sealed_files = repo.secrets_files(root)
        everything = [CONFIG_FILE, *intent_files, *sealed_files]
        targets = list(dict.fromkeys([*targets, *everything]))
    findings: list[Finding] = sealed_changes(root, targets)
    intents: list[RotationIntent] = []
    for relpath in targets:
        if relpath == CONFIG_FILE:
            if config_error is not None:
                findings.append(Finding.from_error(config_error))
            continue
        try:
            model = check_file(root, relpath, config)
        except GitrotError as exc:
            findings.append(Finding.from_error(exc.at(relpath)))
            continue
        if isinstance(model, RotationIntent):
            intents.append(model)
    if not intents and not _names_policy_file(targets):
        return findings, targets, {}
    if config is None:
        if config_error is not None and CONFIG_FILE not in targets:
            findings.append(Finding.from_error(config_error))
        return findings, targets, {}
    from gitrot.files import waivers
    from gitrot.policy import engine, rules

    loaded = rules.load_rules(root, config)
    rules_meta = rules.describe(loaded)
    facts, problems = intent_facts(root, intents)
    findings.extend(problems)
    now = datetime.now(UTC)
    judged = engine.evaluate(loaded, intents, config, now=now, facts=facts, context=context)
    known = {rule.id for rule in loaded}
    valid, invalid = waivers.load_waivers(root, config.waivers_path, known)
    judged = waivers.apply_waivers(
        judged, valid, today=now.date().isoformat(), judged_all=judged_all
    )
    if judged_all:
        findings.extend(invalid)
    else:
        judged = [f for f in judged if f.rule_id not in waivers.RULE_IDS]
    findings.extend(judged)
    return findings, targets, rules_meta


def sealed_changes(root: str, targets: list[str]) -> list[Finding]:
    """A ``sealed-immutable`` finding for each sealed value document among ``targets`` that
    differs from its committed version at HEAD (the value of a version never changes;
    re-encrypting it for other recipients keeps it: :func:`gitrot.judge.changes.sealed_kept`)."""
    from gitrot.core.findings import Finding, Severity
    from gitrot.git.worktree import head_blobs
    from gitrot.judge.changes import REKEYED_HINT, Keys, sealed_kept

    sealed = [t for t in targets if is_sealed_path(t)]
    committed = head_blobs(root, sealed) if sealed else None
    found: list[Finding] = []
    keys = Keys(root)
    for path, before in (committed or {}).items():
        if before is None:
            continue
        now = _read_bytes(root, path)
        if now is None:
            continue  # deleted (the PR check judges deletions), or refused by the loader
        if now == before:
            continue
        kept = sealed_kept(before, now, path, keys)  # re-encrypted for other recipients
        if kept:
            continue
        found.append(
            Finding(
                "sealed-immutable",
                Severity.ERROR,
                path,
                1,
                1,
                "a committed sealed value never changes: its version may already be applied"
                if kept is False
                else "the sealed value is re-encrypted under a new data key, and no key at "
                "hand opens both sides to tell that its value is the same",
                hint="restore it (git checkout HEAD -- FILE) and supply a new value for a "
                "new version: gitrot rotate NAME --value-stdin"
                if kept is False
                else REKEYED_HINT,
            )
        )
    return found


def intent_facts(
    root: str, intents: list[RotationIntent]
) -> tuple[dict[str, Facts], list[Finding]]:
    """What git (HEAD: the base of the commit being made) and ``.sops.yaml`` say about each
    intent, and the findings of a broken ``.sops.yaml``."""
    from gitrot.core.findings import Finding
    from gitrot.git.worktree import at_head
    from gitrot.keys.creation_rules import CONFIG_NAME
    from gitrot.policy import facts as known
    from gitrot.policy.input import Facts

    if not intents:
        return {}, []
    paths = [intent.path for intent in intents]
    creation: dict[str, known.RuleFacts] = {}
    problems: list[GitrotError] = []
    if os.path.lexists(os.path.join(root, CONFIG_NAME)):
        try:
            from gitrot.files import repo

            rule_list = known.sops_rules(repo.read_file(root, CONFIG_NAME), CONFIG_NAME)
            creation, problems = known.creation_facts(rule_list, paths)
        except GitrotError as exc:
            problems = [exc]
    head = at_head(root, paths)
    found: dict[str, Facts] = {}
    for intent in intents:
        rule = creation.get(intent.path)
        if head is None:
            found[intent.path] = Facts(creation_rule=rule)
            continue
        blobs, times = head
        found[intent.path] = known.compare(
            intent,
            _read_bytes(root, intent.path),
            blobs.get(intent.path),
            rotated_at=times.get(intent.path),
            rule=rule,
        )
    return found, [Finding.from_error(p.at(CONFIG_NAME)) for p in problems]


def _read_bytes(root: str, relpath: str) -> bytes | None:
    """The bytes of a file the loader also reads, or None when it cannot be read (missing,
    outside the repository, special): the loader reports those."""
    from gitrot.files import repo
    from gitrot.files.fsutil import inside, read_bytes

    try:
        return read_bytes(inside(root, relpath), limit=repo.MAX_FILE_BYTES, where=relpath)
    except InputError:
        return None


def check_file(
    root: str, relpath: str, config: Config | None = None
) -> Config | RotationIntent | None:
    """The model of one file, or its first problem raised; files gitrot does not own (and
    sealed values, which have no model here) give None. With ``config``, a sealed value
    must be sealed for each of its recipients."""
    from pathlib import Path

    from gitrot.files import repo

    if relpath == CONFIG_FILE:
        return repo.load_config(Path(root))
    if is_sealed_path(relpath):
        _check_sealed(root, relpath, config)
        return None
    if in_secrets(relpath) and relpath.endswith((".yaml", ".yml")):
        return repo.load_intent(Path(root), relpath)
    return None


def _names_policy_file(targets: list[str]) -> bool:
    """Whether a changed file may be a rule file (then the rules load, to check it)."""
    return any(t.endswith(".yaml") and not in_secrets(t) for t in targets)


def _check_sealed(root: str, relpath: str, config: Config | None) -> None:
    from gitrot.files import repo

    recipients = config.recipients if config is not None else None
    repo.parse_sealed(repo.read_file(root, relpath), relpath, recipients)


def _target(root: str, path: str) -> str:
    """The repo-relative form of a FILE argument; InputError (exit 2) for one outside the
    repository, reached through a symlink that leaves it, or a FIFO, socket or device."""
    from gitrot.files.fsutil import inside, refuse_special

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
