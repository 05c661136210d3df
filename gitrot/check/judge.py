"""``gitrot check``: judge a change (the merge base of ``--base`` against ``--head``).

Everything is read from git objects (:class:`gitrot.git.change.Change`): the head's
gitrot.yaml, .sops.yaml, rule files, waivers and scan allowlist; the changed intents on
both sides. The cost follows the change: only changed intents are judged, and their
history is walked only until their versions are found; a change to gitrot.yaml,
.sops.yaml, the rules or the waivers judges every intent of the head (they can change
the verdict on any of them).
"""

from __future__ import annotations

from gitrot.check import changes
from gitrot.core.findings import Finding, Severity
from gitrot.errors import GitrotError

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from gitrot.core.models import Config, RotationIntent
    from gitrot.git.change import Change, ChangedFile
    from gitrot.policy.input import Facts
    from gitrot.policy.rules import AnyRule

CONFIG_FILE = "gitrot.yaml"
SOPS_CONFIG = ".sops.yaml"
SCAN_ALLOWLIST = ".gitrot-scan-allow.yaml"
MAX_SCAN_BYTES = 1024 * 1024


class Verdict:
    """What the check found: findings, the files it read, and the rules' descriptions."""

    __slots__ = ("checked", "findings", "rules")

    def __init__(
        self, findings: list[Finding], checked: list[str], rules: dict[str, tuple[str, str]]
    ) -> None:
        self.findings = findings
        self.checked = checked
        self.rules = rules


def judge(change: Change, *, now: datetime, pr: Mapping[str, object] | None = None) -> Verdict:
    """Every finding of the change: the loader's and the rules' on the intents it touches
    (or all of them, see the module), the change checks, and the secret scan of every
    added or modified file and commit message."""
    findings: list[Finding] = []
    files = [f for f in change.files if not f.path.startswith("../")]
    findings.extend(scan_change(change))
    findings.extend(changes.sealed_changes(files))
    findings.extend(_sealed_documents(change, files))
    config = _config(change, findings)
    if config is None:
        return Verdict(findings, [f.path for f in change.files], dict(changes.RULES))
    from gitrot.policy import rules as rules_module
    from gitrot.policy.plugins import installed_rules

    loaded = rules_module.check_unique(
        [*rules_module.builtin_rules(), *_repo_rules(change, config), *installed_rules()]
    )
    meta = {**rules_module.describe(loaded), **changes.RULES}
    changed = {f.path: f for f in files}
    wide = _changes_policy(changed, config)
    intents, befores = _intents(change, changed, wide, findings)
    findings.extend(_deleted(change, files))
    facts = _facts(change, intents, befores, changed, findings, config, now=now)
    from gitrot.policy import engine

    judged = engine.evaluate(loaded, intents, config, now=now, facts=facts, context="pr", pr=pr)
    for intent in intents:
        before = facts[intent.path].base
        judged.extend(changes.target_changes(intent, before))
        sealed = getattr(intent.value, "path", None)
        if sealed is not None:
            exists = sealed in changed or change.read_new(sealed) is not None
            judged.extend(changes.missing_sealed(intent, exists))
    judged.extend(_reused_versions(change, intents, changed))
    judged.extend(_recipients(change, files))
    findings.extend(_waive(change, config, judged, loaded, now=now, judged_all=wide))
    return Verdict(findings, [f.path for f in change.files], meta)


# -- the head's configuration ---------------------------------------------------------------


def _config(change: Change, findings: list[Finding]) -> Config | None:
    from gitrot import repo

    text = change.read_new(CONFIG_FILE)
    if text is None:
        findings.append(
            Finding(
                "schema",
                Severity.ERROR,
                CONFIG_FILE,
                0,
                0,
                "the head has no gitrot.yaml: it is not a gitrot policy repository",
                hint="run gitrot check in the policy repository (or its folder of the git "
                "tree); gitrot init creates one",
            )
        )
        return None
    try:
        return repo.parse_config(text, CONFIG_FILE)
    except GitrotError as exc:
        findings.append(Finding.from_error(exc.at(CONFIG_FILE)))
        return None


def _policy_files(change: Change, config: Config) -> list[str]:
    """The rule files ``policy.paths`` names at the head (a folder: its own ``*.yaml``)."""
    found: list[str] = []
    for entry in config.policy_paths:
        rel = entry.rstrip("/")
        inside = [p for p in change.new_tree_paths(rel + "/") if p.endswith(".yaml")]
        direct = [p for p in inside if "/" not in p[len(rel) + 1 :]]
        if direct:
            found.extend(direct)
        elif rel.endswith(".yaml") and change.read_new(rel) is not None:
            found.append(rel)
    return list(dict.fromkeys(found))


def _repo_rules(change: Change, config: Config) -> list[AnyRule]:
    from gitrot.errors import InputError
    from gitrot.policy.rules import parse_rules
    from gitrot.repo_fields import decode

    rules: list[AnyRule] = []
    for path in _policy_files(change, config):
        data = change.read_new(path) or b""
        rules.extend(parse_rules(decode(data, path, MAX_SCAN_BYTES, InputError), path))
    return rules


def _changes_policy(changed: Mapping[str, ChangedFile], config: Config) -> bool:
    """Whether the change touches what every intent is judged by."""
    wide = {CONFIG_FILE, SOPS_CONFIG}
    if config.waivers_path:
        wide.add(config.waivers_path)
    folders = tuple(p.rstrip("/") + "/" for p in config.policy_paths)
    for path, item in changed.items():
        for candidate in (path, item.old_path or path):
            if candidate in wide or (candidate.startswith(folders) and candidate.endswith(".yaml")):
                return True
    return False


# -- intents ----------------------------------------------------------------------------------


def _intents(
    change: Change,
    changed: Mapping[str, ChangedFile],
    wide: bool,
    findings: list[Finding],
) -> tuple[list[RotationIntent], dict[str, bytes]]:
    """The head's intents to judge (loaded; a broken one is a finding) and their texts."""
    from gitrot import repo
    from gitrot.check.changes import is_intent_path

    if wide:
        paths = [p for p in change.new_tree_paths("secrets/") if is_intent_path(p)]
    else:
        paths = [p for p, f in changed.items() if f.status != "deleted" and is_intent_path(p)]
    intents: list[RotationIntent] = []
    texts: dict[str, bytes] = {}
    for path in sorted(paths):
        data = change.read_new(path)
        if data is None:
            continue
        try:
            intents.append(repo.parse_intent(data, path))
        except GitrotError as exc:
            findings.append(Finding.from_error(exc.at(path)))
            continue
        texts[path] = data
    return intents, texts


def _facts(  # noqa: PLR0917 - what the judge has read so far
    change: Change,
    intents: list[RotationIntent],
    texts: Mapping[str, bytes],
    changed: Mapping[str, ChangedFile],
    findings: list[Finding],
    config: Config,
    *,
    now: datetime,
) -> dict[str, Facts]:
    """Base, status, history and creation rule of each judged intent."""
    from gitrot.policy import facts as known

    olds = {i.path: _old_path(i.path, changed) for i in intents}
    befores = {path: change.read_old(old) for path, old in olds.items()}
    creation: dict[str, known.RuleFacts] = {}
    sops_text = change.read_new(SOPS_CONFIG)
    if sops_text is not None:
        try:
            rule_list = known.sops_rules(sops_text, SOPS_CONFIG)
            creation, problems = known.creation_facts(rule_list, [i.path for i in intents])
        except GitrotError as exc:
            problems = [exc]
        findings.extend(Finding.from_error(p.at(SOPS_CONFIG)) for p in problems)
    times = _rotation_times(change, intents, olds, befores, config, now=now)
    found: dict[str, Facts] = {}
    for intent in intents:
        old = olds[intent.path]
        found[intent.path] = known.compare(
            intent,
            texts.get(intent.path),
            befores[intent.path],
            before_path=old,
            renamed=old != intent.path,
            rotated_at=times.get(intent.path),
            rule=creation.get(intent.path),
        )
    return found


def _rotation_times(
    change: Change,
    intents: list[RotationIntent],
    olds: Mapping[str, str],
    befores: Mapping[str, bytes | None],
    config: Config,
    *,
    now: datetime,
) -> dict[str, int]:
    """When each intent's version at the merge base took effect, read only as far back as
    the rules look: for a rotation, the longest ``min_interval`` of the classes (all
    ``min-interval`` compares with); otherwise the longest ``max_age``. A version set
    before that horizon is reported at the horizon (it is at least that old), so the cost
    follows the rules' windows, not the history's length."""
    from gitrot.git.blobs import spec_version
    from gitrot.git.history import last_version_changes

    classes = config.classes.values()
    windows = {
        True: max((c.min_interval or 0 for c in classes), default=0),
        False: max((c.max_age or 0 for c in classes), default=0),
    }
    groups: dict[bool, list[RotationIntent]] = {True: [], False: []}
    for intent in intents:
        before = befores[intent.path]
        if before is not None:
            old_version = spec_version(before)
            groups[old_version is None or intent.version > old_version].append(intent)
    start = int(now.timestamp())
    times: dict[str, int] = {}
    for rotated, members in groups.items():
        if not members:
            continue
        horizon = start - windows[rotated]
        keys = {change.prefix + olds[i.path]: i.path for i in members}
        history = (
            last_version_changes(
                change.repo,
                rev=str(change.merge_base.id),
                prefix=change.prefix + "secrets/",
                paths=list(keys),
                since=horizon,
            )
            if windows[rotated]
            else {}
        )
        for key, path in keys.items():
            record = history.get(key)
            times[path] = record.time if record is not None else horizon - 1
    return times


def _old_path(path: str, changed: Mapping[str, ChangedFile]) -> str:
    item = changed.get(path)
    return item.old_path if item is not None and item.old_path else path


def _sealed_documents(change: Change, files: list[ChangedFile]) -> list[Finding]:
    """The loader's findings on every sealed value document the change adds or modifies."""
    from gitrot import repo
    from gitrot.check.changes import is_sealed_path

    found: list[Finding] = []
    for item in files:
        if item.status == "deleted" or not is_sealed_path(item.path):
            continue
        try:
            repo.parse_sealed(change.read_new(item.path) or b"", item.path)
        except GitrotError as exc:
            found.append(Finding.from_error(exc.at(item.path)))
    return found


def _deleted(change: Change, files: list[ChangedFile]) -> list[Finding]:
    from gitrot import repo
    from gitrot.check.changes import deleted_intent, is_intent_path

    found: list[Finding] = []
    for item in files:
        if item.status != "deleted" or not is_intent_path(item.path):
            continue
        data = change.read_old(item.path)
        try:
            before = repo.parse_intent(data, item.path) if data is not None else None
        except GitrotError:
            before = None
        found.extend(deleted_intent(item.path, before))
    return found


def _reused_versions(
    change: Change, intents: list[RotationIntent], changed: Mapping[str, ChangedFile]
) -> list[Finding]:
    """``version-reused`` for intents the change adds at a path that had an intent before."""
    added = [i for i in intents if i.path in changed and changed[i.path].status == "added"]
    if not added:
        return []
    from gitrot.check.history import highest_versions

    highest = highest_versions(change, [i.path for i in added])
    found: list[Finding] = []
    for intent in added:
        found.extend(changes.reused_version(intent, highest.get(intent.path)))
    return found


def _recipients(change: Change, files: list[ChangedFile]) -> list[Finding]:
    """``recipients-removed`` for SOPS documents under secrets/ the change modifies."""
    found: list[Finding] = []
    for item in files:
        if item.status not in ("modified", "renamed") or not item.path.startswith("secrets/"):
            continue
        if not item.path.endswith(".yaml"):
            continue
        before = _age_recipients(change.read_old(item.old_path or item.path))
        after = _age_recipients(change.read_new(item.path))
        if before is None or after is None:
            continue
        line = min(after.values(), default=0) or 0
        found.extend(changes.removed_recipients(item.path, before, after, line))
    return found


def _age_recipients(data: bytes | None) -> dict[str, int] | None:
    """``{recipient: line}`` of the ``recipient:`` lines of a SOPS YAML text (None: none)."""
    import re

    if data is None or b"sops:" not in data:
        return None
    found: dict[str, int] = {}
    for number, line in enumerate(data.split(b"\n"), start=1):
        match = re.match(rb"\s*-?\s*recipient:\s*(age1[0-9a-z]+)\s*$", line)
        if match:
            found.setdefault(match.group(1).decode(), number)
    return found


# -- waivers and the scanner -----------------------------------------------------------------


def _waive(
    change: Change,
    config: Config,
    findings: list[Finding],
    loaded: list[AnyRule],
    *,
    now: datetime,
    judged_all: bool,
) -> list[Finding]:
    from gitrot import waivers

    known = {rule.id for rule in loaded} | set(changes.RULES) | {"sealed-immutable"}
    valid: list[waivers.Waiver] = []
    invalid: list[Finding] = []
    if config.waivers_path:
        text = change.read_new(config.waivers_path)
        if text is not None:
            try:
                decoded = text.decode("utf-8")
            except UnicodeDecodeError:
                decoded = None
            if decoded is None:
                invalid = [
                    Finding(
                        waivers.INVALID,
                        Severity.ERROR,
                        config.waivers_path,
                        0,
                        0,
                        "the waivers file is not UTF-8 text",
                    )
                ]
            else:
                valid, invalid = waivers.parse_waivers(decoded, config.waivers_path, known)
    result = waivers.apply_waivers(
        findings, valid, today=now.date().isoformat(), judged_all=judged_all
    )
    if judged_all:
        return [*invalid, *result]
    return [f for f in result if f.rule_id not in waivers.RULE_IDS]


def scan_change(change: Change) -> list[Finding]:
    """Secret-looking strings in every added, modified or renamed file of the change (any
    folder; binary and huge files skipped) and in its commit messages; the head's
    ``.gitrot-scan-allow.yaml`` applies. Findings carry fingerprints, never the string."""
    from gitrot.scan import allowlist
    from gitrot.scan.detectors import scan_text

    entries: list[allowlist.AllowEntry] = []
    allow_text = change.read_new(SCAN_ALLOWLIST)
    if allow_text is not None:
        entries = allowlist.parse(allow_text.decode("utf-8", "replace"), where=SCAN_ALLOWLIST)
    hits = []
    for item in change.files:
        if item.status == "deleted" or (item.new_size or 0) > MAX_SCAN_BYTES:
            continue
        data = change.read_new(item.path)
        if data is None or b"\0" in data:
            continue
        hits.extend(scan_text(data.decode("utf-8", "replace"), path=item.path))
    found = [
        Finding(
            hit.rule,
            Severity.ERROR,
            hit.path,
            hit.line,
            hit.column,
            hit.description,
            hint="remove it (and rotate it if it was real), or allow its fingerprint in "
            f"{SCAN_ALLOWLIST} with a reason",
            fingerprint=hit.fingerprint,
        )
        for hit in allowlist.apply(hits, entries)
    ]
    for commit in change.commits:
        short = commit.id[:12]
        for hit in allowlist.apply(scan_text(commit.message, path=f"commit {short}"), entries):
            found.append(
                Finding(
                    hit.rule,
                    Severity.ERROR,
                    "",
                    0,
                    0,
                    f"commit {short} message, line {hit.line}: {hit.description}",
                    hint="rewrite the branch's history without it (git rebase -i), and "
                    "rotate the secret if it was real",
                    fingerprint=hit.fingerprint,
                )
            )
    return found
