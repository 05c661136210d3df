"""``gitrot check``: judge a change (the merge base of ``--base`` against ``--head``), and
the reconciler's re-check of what it is about to apply, by one pipeline.

Everything is read from git objects. A change is judged with the BASE's policy (the target
branch's gitrot.yaml, rule files, waivers, scan allowlist and ``.sops.yaml``) and with the
head's: a finding under either counts (identical findings once), so a pull request cannot
loosen the policy that judges it; tightening works at once, loosening needs a change of
its own, merged first. Without a gitrot.yaml at the base (the commit that creates the
repository) the head's judges alone. A change to the policy is itself a finding
(``policy-changed``, :mod:`gitrot.judge.policy_diff`) that needs a policy owner's approval;
waivers the change adds need their approver's (:func:`gitrot.files.waivers.approval_problems`).
Without the pull request's facts (author, approvals) all of these fail closed.

The cost follows the change: only changed intents are judged (every intent of the head
when the policy changes), their history walked only as far back as the rules look, and a
policy that is the same on both sides is evaluated once.

:func:`judge_commits` is the same pipeline for the reconciler (``gitrot reconcile`` and
``plan``): the last reconciled commit is the base, the target commit the head. The pull
request's facts are not known after the merge: rules that need them (``requires: [pr]``)
are not evaluated there, and neither are the approvals of policy changes, waivers, starts
and moves (the PR check enforced them).
"""

from __future__ import annotations

from gitrot.core.findings import Finding, Severity
from gitrot.core.layout import (
    CONFIG_FILE,
    SCAN_ALLOWLIST,
    SECRETS_PREFIX,
    SOPS_CONFIG,
    in_secrets,
    is_intent_path,
    is_sealed_path,
)
from gitrot.errors import GitrotError
from gitrot.judge import changes
from gitrot.judge.sides import MAX_FILE_BYTES, Tree

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from datetime import datetime

    from gitrot.core.models import Config, RotationIntent
    from gitrot.git.change import Change, ChangedFile
    from gitrot.git.repository import Commit, Repo
    from gitrot.judge.sides import Policy
    from gitrot.policy.input import Facts
    from gitrot.policy.model import AnyRule
    from gitrot.scan.allowlist import AllowEntry
    from gitrot.scan.detectors import Hit

__all__ = ["MAX_SCAN_BYTES", "judge"]

MAX_SCAN_BYTES = MAX_FILE_BYTES
PR = "pr"
RECONCILE = "reconcile"


class Verdict:
    """What the check found: findings, the files it read, and the rules' descriptions."""

    __slots__ = ("checked", "findings", "rules")

    def __init__(
        self, findings: list[Finding], checked: list[str], rules: dict[str, tuple[str, str]]
    ) -> None:
        self.findings = findings
        self.checked = checked
        self.rules = rules


class _Pipeline:
    """What judging intents needs besides the intents: the commits (``old``: the intents
    before, None when unknown; ``new``: the commit judged), the policies to judge with
    (the base's and the new side's, each once), the PR facts, and the mode (``pr`` or
    ``reconcile``)."""

    __slots__ = ("mode", "new", "now", "old", "owner", "policies", "pr", "prefix", "repo")

    def __init__(
        self,
        repo: Repo,
        prefix: str,
        old: Commit | None,
        new: Commit,
        policies: list[Policy],
        *,
        now: datetime,
        pr: Mapping[str, object] | None,
        mode: str,
        owner: str | None = None,
    ) -> None:
        self.repo = repo
        self.prefix = prefix
        self.old = old
        self.new = new
        self.policies = policies
        self.now = now
        self.pr = pr
        self.mode = mode
        self.owner = owner  # the base's policy owner who approved the pull request


# -- the PR check ------------------------------------------------------------------------------


def judge(change: Change, *, now: datetime, pr: Mapping[str, object] | None = None) -> Verdict:
    """Every finding of the change: the loader's and the rules' (base's and head's) on the
    intents it touches (or all of them, see the module), the change checks, the policy
    changes, and the secret scan of every added or modified file and commit message."""
    from gitrot.judge.pr import approved_by

    findings: list[Finding] = []
    files = [f for f in change.files if not f.path.startswith("../")]
    head_tree = Tree(change.head, change.prefix)
    base_tree = Tree(change.base, change.prefix)
    old_tree = Tree(change.merge_base, change.prefix)
    config = _config(change, findings)
    base_config = _quiet_config(base_tree)
    old_config = _quiet_config(old_tree) if change.merge_base.id != change.base.id else base_config
    kept = _sealed_kept(change)
    if config is None:
        findings.extend(scan_change(change, [_allowlist(base_tree)] if base_config else []))
        findings.extend(changes.sealed_changes(files, kept))
        findings.extend(_sealed_documents(change, files))
        return Verdict(findings, [f.path for f in change.files], dict(changes.RULES))
    builtin, installed = _shared_rules()
    extra_ids = set(changes.RULES) | {"sealed-immutable"}
    from gitrot.judge.sides import load_policy

    head = load_policy(head_tree, config, builtin, installed, extra_ids)
    base = (
        load_policy(base_tree, base_config, builtin, installed, extra_ids) if base_config else None
    )
    policies = _distinct([p for p in (base, head) if p is not None])
    findings.extend(scan_change(change, [p.allow for p in (base, head) if p is not None]))
    findings.extend(changes.sealed_changes(files, kept))
    findings.extend(_sealed_documents(change, files, (base_config, config)))
    from gitrot.policy import rules as rules_module

    meta: dict[str, tuple[str, str]] = {}
    for policy in policies:
        meta.update(rules_module.describe(policy.rules))
    meta.update(changes.RULES)
    changed = {f.path: f for f in files}
    configs = [c for c in (old_config, base_config, config) if c is not None]
    wide = _changes_policy(changed, configs)
    intents, texts = _intents(change, changed, wide, findings)
    findings.extend(_deleted(change, files))
    if head.sops_problem is not None:
        findings.append(Finding.from_error(_at(head.sops_problem, SOPS_CONFIG)))
    owners = base.config.owners if base is not None else ()
    pipeline = _Pipeline(
        change.repo,
        change.prefix,
        change.merge_base,
        change.head,
        policies,
        now=now,
        pr=pr,
        mode=PR,
        owner=approved_by(pr, owners) if base is not None else None,
    )
    added = {p for p, f in changed.items() if f.status in ("added", "renamed")}
    judged = _judge_intents(pipeline, intents, texts, added, findings)
    judged.extend(_recipients(change, files))
    if base is not None:
        judged.extend(_policy_changes(change, changed, old_config, config, base, head, pr))
    findings.extend(_waive_pr(head, base, old_tree, old_config, judged, now=now, pr=pr, wide=wide))
    return Verdict(findings, [f.path for f in change.files], meta)


def _keys(repo: Repo, prefix: str) -> changes.Keys:
    """The keys the change checks may open encrypted fields with (loaded when first used):
    the reconciler's in the checked-out policy folder (none in a bare clone), the user's."""
    import os

    return changes.Keys(os.path.join(repo.workdir, prefix) if repo.workdir else None)


def _sealed_kept(change: Change) -> Callable[[ChangedFile], bool | None]:
    """Whether a modified sealed document still holds its value (:func:`changes.sealed_kept`)."""
    keys = _keys(change.repo, change.prefix)

    def kept(item: ChangedFile) -> bool | None:
        old = change.read_old(item.old_path or item.path)
        new = change.read_new(item.path)
        if old is None or new is None:
            return False
        return changes.sealed_kept(old, new, item.path, keys)

    return kept


def _quiet_config(tree: Tree) -> Config | None:
    """A side's gitrot.yaml; None when absent or broken (the head's alone judges then)."""
    from gitrot.judge.sides import load_config

    try:
        return load_config(tree)
    except GitrotError:
        return None


def _allowlist(tree: Tree) -> list[AllowEntry]:
    """A side's scan allowlist (none without the file)."""
    from gitrot.scan import allowlist

    text = tree.read(SCAN_ALLOWLIST)
    if text is None:
        return []
    return allowlist.parse(text.decode("utf-8", "replace"), where=SCAN_ALLOWLIST)


def _shared_rules() -> tuple[list[AnyRule], list[AnyRule]]:
    """The built-in rules and those installed packages register (the same on both sides)."""
    from gitrot.policy import rules as rules_module
    from gitrot.policy.python_rules import installed_rules

    return rules_module.builtin_rules(), list(installed_rules())


def _distinct(policies: list[Policy]) -> list[Policy]:
    """The policies, each judged once: a side whose files equal another's adds nothing."""
    seen: set[object] = set()
    found = []
    for policy in policies:
        key = policy.key()
        if key not in seen:
            seen.add(key)
            found.append(policy)
    return found


def _at(exc: Exception, where: str) -> GitrotError:
    return exc.at(where) if isinstance(exc, GitrotError) else GitrotError(str(exc), where=where)


def _config(change: Change, findings: list[Finding]) -> Config | None:
    from gitrot.files import repo

    try:
        text = change.read_new(CONFIG_FILE)
    except GitrotError as exc:  # a symbolic link
        findings.append(Finding.from_error(exc.at(CONFIG_FILE)))
        return None
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


def _policy_paths(configs: Iterable[Config]) -> tuple[set[str], tuple[str, ...]]:
    """(the policy files, the rule folders) that any of ``configs`` names."""
    exact = {CONFIG_FILE, SOPS_CONFIG, SCAN_ALLOWLIST}
    folders: list[str] = []
    for config in configs:
        if config.waivers_path:
            exact.add(config.waivers_path)
        for entry in config.policy_paths:
            rel = entry.rstrip("/")
            if rel.endswith(".yaml"):
                exact.add(rel)
            folders.append(rel + "/")
    return exact, tuple(folders)


def _is_policy_file(path: str, exact: set[str], folders: tuple[str, ...]) -> bool:
    if path in exact:
        return True
    for folder in folders:
        if path.startswith(folder) and path.endswith(".yaml") and "/" not in path[len(folder) :]:
            return True
    return False


def _changes_policy(changed: Mapping[str, ChangedFile], configs: Iterable[Config]) -> bool:
    """Whether the change touches what every intent is judged by (on any side)."""
    exact, folders = _policy_paths(configs)
    exact.discard(SCAN_ALLOWLIST)  # the allowlist judges files, not intents
    for path, item in changed.items():
        for candidate in (path, item.old_path or path):
            if _is_policy_file(candidate, exact, folders):
                return True
    return False


def _policy_changes(  # noqa: PLR0917 - the sides of the change
    change: Change,
    changed: Mapping[str, ChangedFile],
    old_config: Config | None,
    config: Config,
    base: Policy,
    head: Policy,
    pr: Mapping[str, object] | None,
) -> list[Finding]:
    """``policy-changed`` for each thing the change does to a policy file."""
    from gitrot.judge import policy_diff

    exact, folders = _policy_paths([c for c in (old_config, config) if c is not None])
    paths = set()
    for path, item in changed.items():
        for candidate in (path, item.old_path or path):
            if _is_policy_file(candidate, exact, folders):
                paths.add(candidate)
    if not paths:
        return []
    old_tree = Tree(change.merge_base, change.prefix)
    described = policy_diff.describe(
        old_tree, Tree(change.head, change.prefix), old_config, config, paths
    )
    return policy_diff.findings(described, base.config.owners, pr)


# -- intents ----------------------------------------------------------------------------------


def _intents(
    change: Change,
    changed: Mapping[str, ChangedFile],
    wide: bool,
    findings: list[Finding],
) -> tuple[list[RotationIntent], dict[str, bytes]]:
    """The head's intents to judge (loaded; a broken one is a finding) and their texts."""
    from gitrot.files import repo

    if wide:
        paths = [p for p in change.new_tree_paths(SECRETS_PREFIX) if is_intent_path(p)]
    else:
        paths = [p for p, f in changed.items() if f.status != "deleted" and is_intent_path(p)]
    intents: list[RotationIntent] = []
    texts: dict[str, bytes] = {}
    for path in sorted(paths):
        try:
            data = change.read_new(path)
            if data is None:
                continue
            intents.append(repo.parse_intent(data, path))
        except GitrotError as exc:
            findings.append(Finding.from_error(exc.at(path)))
            continue
        texts[path] = data
    return intents, texts


def _judge_intents(  # noqa: PLR0917 - what one judgement reads
    pipeline: _Pipeline,
    intents: list[RotationIntent],
    texts: Mapping[str, bytes],
    added: set[str],
    findings: list[Finding],
    befores: Mapping[str, bytes | None] | None = None,
) -> list[Finding]:
    """The findings of the rules (with every policy) and the intent checks on ``intents``
    (``texts``: their files at ``new``), not yet waived. ``added`` are paths the change adds
    (a rename adds its new name); ``befores`` the intents' files before (default: at
    ``old``, the same path). Problems of the policies' ``.sops.yaml`` go to ``findings``."""
    from gitrot.policy import engine

    if not intents:
        return []
    facts = _facts(pipeline, intents, texts, befores)
    variants = _stricter(intents, facts)
    judged: list[Finding] = []
    for policy in pipeline.policies:
        creation = _creation(policy, intents, findings)
        own = {path: _with_rule(fact, creation.get(path)) for path, fact in facts.items()}
        judged.extend(
            engine.evaluate(
                policy.rules,
                [*intents, *variants],
                policy.config,
                now=pipeline.now,
                facts=own,
                context="pr",
                pr=pipeline.pr,
            )
        )
    judged = list(dict.fromkeys(judged))
    if pipeline.mode == PR:
        judged = _fail_closed(judged, pipeline)
    new = Tree(pipeline.new, pipeline.prefix)
    keys = _keys(pipeline.repo, pipeline.prefix)
    for intent in intents:
        before = facts[intent.path].base
        judged.extend(
            changes.target_changes(
                intent, before, _ref_compare(pipeline, intent, texts, befores, keys)
            )
        )
        sealed = getattr(intent.value, "path", None)
        if sealed is not None:
            judged.extend(changes.missing_sealed(intent, new.read(sealed) is not None))
        if pipeline.mode == PR:
            judged.extend(_approvable(pipeline, changes.moved(intent, before)))
    fresh = [i for i in intents if i.path in added or facts[i.path].status == "added"]
    judged.extend(_starts(pipeline, fresh))
    return judged


def _ref_compare(
    pipeline: _Pipeline,
    intent: RotationIntent,
    texts: Mapping[str, bytes],
    befores: Mapping[str, bytes | None] | None,
    keys: changes.Keys,
) -> Callable[[], bool | None]:
    """Whether the intent's ref decrypts the same before and now (asked only when its
    ciphertext changed)."""

    def compare() -> bool | None:
        if befores is not None:
            old = befores.get(intent.path)
        else:
            old = Tree(pipeline.old, pipeline.prefix).read(intent.path) if pipeline.old else None
        return changes.same_ref(old, texts.get(intent.path), intent.path, keys)

    return compare


def _facts(
    pipeline: _Pipeline,
    intents: list[RotationIntent],
    texts: Mapping[str, bytes],
    befores: Mapping[str, bytes | None] | None,
) -> dict[str, Facts]:
    """Base, status and history of each intent (the creation rule is per policy)."""
    from gitrot.policy import facts as known
    from gitrot.policy.input import Facts

    if pipeline.old is None:
        return {i.path: Facts() for i in intents}
    old = Tree(pipeline.old, pipeline.prefix)
    if befores is None:
        befores = {i.path: old.read(i.path) for i in intents}
    configs = [p.config for p in pipeline.policies]
    times = _rotation_times(pipeline, intents, befores, configs)
    found = {
        intent.path: known.compare(
            intent,
            texts.get(intent.path),
            befores.get(intent.path),
            rotated_at=times.get(intent.path),
        )
        for intent in intents
    }
    if pipeline.mode == RECONCILE:
        _merged_steps(pipeline, intents, found)
    return found


def _merged_steps(
    pipeline: _Pipeline, intents: list[RotationIntent], found: dict[str, Facts]
) -> None:
    """The reconciler may apply several merged commits at once: an intent raised by more
    than one since the base is compared with its version before the last step when every
    commit on the way raised it by at most one (each was checked), never otherwise (a
    direct push that jumps from 1 to 5 stays a ``version-step`` finding)."""
    import copy

    from gitrot.judge.history import steps_by_one
    from gitrot.policy.input import Facts

    assert pipeline.old is not None  # noqa: S101 - _facts returns early without a base
    for intent in intents:
        fact = found[intent.path]
        base = fact.base
        if base is None or intent.version <= base.version + 1:
            continue
        if steps_by_one(pipeline.repo, pipeline.prefix, pipeline.old, pipeline.new, intent.path):
            previous = copy.copy(base)
            previous.version = intent.version - 1
            found[intent.path] = Facts(
                status=fact.status,
                base=previous,
                base_rotated_at=fact.base_rotated_at,
                creation_rule=fact.creation_rule,
            )


def _with_rule(fact: Facts, rule: object) -> Facts:
    from gitrot.policy.input import Facts

    return Facts(
        status=fact.status,
        base=fact.base,
        base_rotated_at=fact.base_rotated_at,
        creation_rule=rule,  # type: ignore[arg-type]
    )


def _creation(
    policy: Policy, intents: list[RotationIntent], findings: list[Finding]
) -> dict[str, object]:
    """The creation rule of the policy's ``.sops.yaml`` for each intent."""
    if policy.sops is None:
        return {}
    from gitrot.policy import facts as known

    creation, problems = known.creation_facts(policy.sops, [i.path for i in intents])
    findings.extend(Finding.from_error(p.at(SOPS_CONFIG)) for p in problems)
    return dict(creation)


def _stricter(intents: list[RotationIntent], facts: Mapping[str, Facts]) -> list[RotationIntent]:
    """For each intent whose environment or class the change moves, the intent as it would
    be with the old ones: judged too, so a move never skips the stricter side's rules."""
    import copy

    found = []
    for intent in intents:
        before = facts[intent.path].base
        if before is None:
            continue
        if (before.environment, before.rotation_class) != (
            intent.environment,
            intent.rotation_class,
        ):
            variant = copy.copy(intent)
            variant.environment = before.environment
            variant.rotation_class = before.rotation_class
            found.append(variant)
    return found


def _fail_closed(judged: list[Finding], pipeline: _Pipeline) -> list[Finding]:
    """In the PR check, a rule that needs the pull request's facts and could not have them
    is an error saying how to give them, never a pass."""
    if pipeline.pr is not None:
        return judged
    from gitrot.judge.pr import MISSING_HINT

    needs = {
        rule.id
        for policy in pipeline.policies
        for rule in policy.rules
        if "pr" in getattr(rule, "requires", ())
    }
    result = []
    for finding in judged:
        if finding.severity == Severity.INFO and finding.rule_id in needs:
            result.append(
                Finding(
                    finding.rule_id,
                    Severity.ERROR,
                    finding.path,
                    finding.line,
                    finding.column,
                    "cannot be judged: the pull request's author and approvals are unknown",
                    hint=MISSING_HINT,
                )
            )
        else:
            result.append(finding)
    return list(dict.fromkeys(result))


def _approvable(pipeline: _Pipeline, found: list[Finding]) -> list[Finding]:
    """Findings a policy owner's approval turns into warnings."""
    return [changes.approved(f.rule_id, f, pipeline.owner, pipeline.pr is not None) for f in found]


def _starts(pipeline: _Pipeline, fresh: list[RotationIntent]) -> list[Finding]:
    """``version-reused`` and (in the PR check) ``version-start`` for new intents."""
    if not fresh or pipeline.old is None:
        return []
    from gitrot.judge.history import highest_versions

    highest = highest_versions(
        pipeline.repo, pipeline.prefix, pipeline.old, [i.path for i in fresh]
    )
    found: list[Finding] = []
    for intent in fresh:
        found.extend(changes.reused_version(intent, highest.get(intent.path)))
        if pipeline.mode == PR:
            start = changes.version_start(intent, highest.get(intent.path))
            found.extend(_approvable(pipeline, start))
    return found


def _rotation_times(
    pipeline: _Pipeline,
    intents: list[RotationIntent],
    befores: Mapping[str, bytes | None],
    configs: Sequence[Config],
) -> dict[str, int]:
    """When each intent's version at ``old`` took effect, read only as far back as the
    rules look: for a rotation, the longest ``min_interval`` of the classes (all
    ``min-interval`` compares with); otherwise the longest ``max_age``. A version set
    before that horizon is reported at the horizon (it is at least that old), so the cost
    follows the rules' windows, not the history's length."""
    from gitrot.git.blobs import spec_version
    from gitrot.git.history import last_version_changes

    if pipeline.old is None:
        return {}
    classes = [c for config in configs for c in config.classes.values()]
    windows = {
        True: max((c.min_interval or 0 for c in classes), default=0),
        False: max((c.max_age or 0 for c in classes), default=0),
    }
    groups: dict[bool, list[RotationIntent]] = {True: [], False: []}
    for intent in intents:
        before = befores.get(intent.path)
        if before is not None:
            old_version = spec_version(before)
            groups[old_version is None or intent.version > old_version].append(intent)
    start = int(pipeline.now.timestamp())
    times: dict[str, int] = {}
    for rotated, members in groups.items():
        if not members:
            continue
        horizon = start - windows[rotated]
        keys = {pipeline.prefix + i.path: i.path for i in members}
        history = (
            last_version_changes(
                pipeline.repo,
                rev=str(pipeline.old.id),
                prefix=pipeline.prefix + SECRETS_PREFIX,
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


def _sealed_documents(
    change: Change, files: list[ChangedFile], configs: Iterable[Config | None] = ()
) -> list[Finding]:
    """The loader's findings on every sealed value document the change adds or modifies:
    also, that every recipient the ``configs`` (the base's and the head's) name can open
    it, as the reconciler must."""
    from gitrot.files import repo

    recipients: dict[str, str] = {}  # name in gitrot.yaml -> age recipient
    for config in configs:
        for name, recipient in (config.recipients if config is not None else {}).items():
            if recipient not in recipients.values():
                label = name if name not in recipients else f"{name} ({recipient})"
                recipients[label] = recipient
    found: list[Finding] = []
    for item in files:
        if item.status == "deleted" or not is_sealed_path(item.path):
            continue
        try:
            repo.parse_sealed(change.read_new(item.path) or b"", item.path, recipients)
        except GitrotError as exc:
            found.append(Finding.from_error(exc.at(item.path)))
    return found


def _deleted(change: Change, files: list[ChangedFile]) -> list[Finding]:
    """``intent-deleted`` for intents deleted, or renamed (a rename deletes the old name),
    without a retired last version."""
    from gitrot.files import repo
    from gitrot.judge.changes import deleted_intent

    found: list[Finding] = []
    for item in files:
        if item.status == "deleted":
            path, renamed_to = item.path, None
        elif item.status == "renamed" and item.old_path:
            path, renamed_to = item.old_path, item.path
        else:
            continue
        if not is_intent_path(path):
            continue
        data = change.read_old(path)
        try:
            before = repo.parse_intent(data, path) if data is not None else None
        except GitrotError:
            before = None
        found.extend(deleted_intent(path, before, renamed_to))
    return found


def _recipients(change: Change, files: list[ChangedFile]) -> list[Finding]:
    """``recipients-removed`` for SOPS documents under secrets/ the change modifies."""
    found: list[Finding] = []
    for item in files:
        if item.status not in ("modified", "renamed") or not in_secrets(item.path):
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


def _waive_pr(
    head: Policy,
    base: Policy | None,
    old_tree: Tree,
    old_config: Config | None,
    findings: list[Finding],
    *,
    now: datetime,
    pr: Mapping[str, object] | None,
    wide: bool,
) -> list[Finding]:
    """The findings waived by the waivers that count, and the findings about waivers.

    A waiver counts when the base has it, or the change adds it (or changes it) and its
    approver may approve it, did, and it is short-lived enough. Without a base policy the
    head's waivers count as they are."""
    from gitrot.files import waivers

    today = now.date().isoformat()
    problems: list[Finding] = list(head.waiver_problems)
    if base is None:
        effective = list(head.waivers)
    else:
        old_ids = _waiver_ids(old_tree, old_config)
        base_ids = {waivers.identity(w) for w in base.waivers}
        effective = []
        for waiver in head.waivers:
            key = waivers.identity(waiver)
            if key in base_ids:
                effective.append(waiver)
                continue
            if key in old_ids:
                continue  # the base removed it since the change left it: it no longer counts
            found = waivers.approval_problems(
                waiver,
                approvers=base.config.waiver_approvers,
                max_days=base.config.max_waiver_days,
                today=today,
                pr=pr,
            )
            problems.extend(found)
            if not found:
                effective.append(waiver)
    result = waivers.apply_waivers(findings, effective, today=today, judged_all=wide)
    if wide:
        return [*problems, *result]
    return [f for f in result if f.rule_id not in waivers.RULE_IDS]


def _waiver_ids(tree: Tree, config: Config | None) -> set[tuple[object, ...]]:
    """The identities of the waivers of ``tree`` (none without a config or waivers file)."""
    if config is None or not config.waivers_path:
        return set()
    text = tree.read(config.waivers_path)
    if text is None:
        return set()
    from gitrot.files import waivers
    from gitrot.judge.policy_diff import _waiver_list

    return {waivers.identity(w) for w in _waiver_list(text, config.waivers_path)}


def scan_change(change: Change, allowlists: Sequence[Sequence[AllowEntry]]) -> list[Finding]:
    """Secret-looking strings in every added, modified or renamed file of the change (any
    folder; binary and huge files skipped) and in its commit messages. A hit is accepted
    only when every one of ``allowlists`` (the base's and the head's
    ``.gitrot-scan-allow.yaml``) accepts it: an entry the change adds hides nothing in it.
    Findings carry fingerprints, never the string."""
    from gitrot.scan.detectors import scan_text

    # fingerprints keyed with the base's salt (the first allowlist's): what the allowlist takes
    salt = next((getattr(a, "salt", None) for a in allowlists if getattr(a, "salt", None)), None)
    hits: list[Hit] = []
    from gitrot.git.repository import LINK_MODE

    for item in change.files:
        if item.status == "deleted" or (item.new_size or 0) > MAX_SCAN_BYTES:
            continue
        if item.new_mode == LINK_MODE:
            continue  # a symbolic link: its blob is a path (gitrot refuses links it reads)
        data = change.read_new(item.path)
        if data is None or b"\0" in data:
            continue
        hits.extend(scan_text(data.decode("utf-8", "replace"), path=item.path, salt=salt))
    found = [
        Finding(
            hit.rule,
            Severity.ERROR,
            hit.path,
            hit.line,
            hit.column,
            hit.description,
            hint="remove it (and rotate it if it was real), or allow its fingerprint in "
            f"{SCAN_ALLOWLIST} with a reason (merged before the change that needs it)",
            fingerprint=hit.fingerprint,
        )
        for hit in _not_allowed(hits, allowlists)
    ]
    for commit in change.commits:
        short = commit.id[:12]
        message_hits = scan_text(commit.message, path=f"commit {short}", salt=salt)
        for hit in _not_allowed(message_hits, allowlists):
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


def _not_allowed(hits: list[Hit], allowlists: Sequence[Sequence[AllowEntry]]) -> list[Hit]:
    """The hits that some allowlist does not accept (all of them with no allowlist)."""
    if not allowlists:
        return hits
    return [
        hit
        for hit in hits
        if not all(any(entry.allows(hit) for entry in entries) for entries in allowlists)
    ]


# -- the reconciler's re-check ----------------------------------------------------------------


def judge_commits(  # noqa: PLR0917 - the facts of one judgement
    repo: Repo,
    old: Commit | None,
    new: Commit,
    prefix: str,
    intents: list[RotationIntent],
    texts: Mapping[str, bytes],
    *,
    now: datetime,
    befores: Mapping[str, bytes | None] | None = None,
    config: Config | None = None,
) -> dict[str, list[Finding]]:
    """The findings (waived ones marked) on ``intents`` (``texts``: their files at
    ``new``) as the PR check would judge them, with ``old`` as the base (the last
    reconciled commit; None: no base, the intents' history unknown) and ``new`` as the head:
    the rules of both commits' policies (once when they are the same), the intents' facts
    from git, and ``new``'s waivers. What needs the pull request's facts is not evaluated
    (its approvals are not known after the merge). ``befores`` overrides each intent's file
    before (e.g. what was last applied); ``config`` is ``new``'s gitrot.yaml when the caller
    has read it. ``{intent path: findings}``; InputError for a rule file that does not
    load."""
    if not intents:
        return {}
    from gitrot.files import waivers
    from gitrot.judge.sides import load_config, load_policy

    builtin, installed = _shared_rules()
    extra_ids = set(changes.RULES) | {"sealed-immutable"}
    new_tree = Tree(new, prefix)
    if config is None:
        config = load_config(new_tree)
    if config is None:
        raise GitrotError(
            f"the commit {str(new.id)[:12]} has no {CONFIG_FILE}", where=prefix + CONFIG_FILE
        )
    head = load_policy(new_tree, config, builtin, installed, extra_ids)
    sides = [head]
    if old is not None:
        old_tree = Tree(old, prefix)
        old_config = _quiet_config(old_tree)
        if old_config is not None:
            sides.insert(0, load_policy(old_tree, old_config, builtin, installed, extra_ids))
    pipeline = _Pipeline(repo, prefix, old, new, _distinct(sides), now=now, pr=None, mode=RECONCILE)
    problems: list[Finding] = []
    judged = _judge_intents(pipeline, intents, texts, set(), problems, befores)
    today = now.date().isoformat()
    result = waivers.apply_waivers(judged, head.waivers, today=today, judged_all=False)
    found: dict[str, list[Finding]] = {}
    for finding in result:
        if finding.rule_id in waivers.RULE_IDS:
            continue
        found.setdefault(finding.path, []).append(finding)
    return found
