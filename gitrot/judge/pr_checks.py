"""The checks only a change can make, on what it reads (pure parts: gitrot.judge.changes)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from gitrot.core.findings import Finding, Severity
from gitrot.core.layout import in_secrets, is_intent_path
from gitrot.core.models import SealedValue
from gitrot.errors import GitrotError
from gitrot.files import repo
from gitrot.judge import changes
from gitrot.judge.history import highest_versions
from gitrot.judge.pr import MISSING_HINT
from gitrot.judge.sides import Tree

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from gitrot.core.models import Config, RotationIntent
    from gitrot.git.change import Change, ChangedFile
    from gitrot.judge.commits import Commits
    from gitrot.judge.inputs import Policy
    from gitrot.policy.input import Facts

_RECIPIENT_LINE = re.compile(rb"\s*-?\s*recipient:\s*(age1[0-9a-z]+)\s*$")


def intent_checks(  # noqa: PLR0917 - what one review reads
    commits: Commits,
    intents: list[RotationIntent],
    texts: Mapping[str, bytes],
    befores: Mapping[str, bytes | None],
    facts: Mapping[str, Facts],
    added: set[str],
    *,
    owner: str | None = None,
    pr: Mapping[str, object] | None = None,
    in_pr: bool,
) -> list[Finding]:
    """The checks of each intent against its base: ``target-changed`` (or
    ``ref-reencrypted``), ``sealed-missing``, ``version-reused``, and in the PR check
    (``in_pr``) the moves and starts a policy ``owner`` may approve. ``added`` are paths the
    change adds (a rename adds its new name)."""
    new = Tree(commits.new, commits.prefix)
    keys = commits.keys()
    found: list[Finding] = []
    for intent in intents:
        before = facts[intent.path].base
        found.extend(
            changes.target_changes(intent, before, _ref_compare(intent, texts, befores, keys))
        )
        if isinstance(intent.value, SealedValue):
            found.extend(changes.missing_sealed(intent, new.read(intent.value.path) is not None))
        if in_pr:
            found.extend(_approvable(changes.moved(intent, before), owner, pr))
    fresh = [i for i in intents if i.path in added or facts[i.path].status == "added"]
    found.extend(_starts(commits, fresh, owner, pr, in_pr=in_pr))
    return found


def _ref_compare(
    intent: RotationIntent,
    texts: Mapping[str, bytes],
    befores: Mapping[str, bytes | None],
    keys: changes.Keys,
) -> Callable[[], bool | None]:
    """Whether the intent's ref decrypts the same before and now (asked only when its
    ciphertext changed)."""

    def compare() -> bool | None:
        old = befores.get(intent.path)
        return changes.same_ref(old, texts.get(intent.path), intent.path, keys)

    return compare


def _approvable(
    found: list[Finding], owner: str | None, pr: Mapping[str, object] | None
) -> list[Finding]:
    """Findings a policy owner's approval turns into warnings."""
    return [changes.approved(f.rule_id, f, owner, pr is not None) for f in found]


def _starts(
    commits: Commits,
    fresh: list[RotationIntent],
    owner: str | None,
    pr: Mapping[str, object] | None,
    *,
    in_pr: bool,
) -> list[Finding]:
    """``version-reused`` and (in the PR check) ``version-start`` for new intents."""
    if not fresh or commits.old is None:
        return []
    paths = [i.path for i in fresh]
    highest = highest_versions(commits.repo, commits.prefix, commits.old, paths)
    found: list[Finding] = []
    for intent in fresh:
        found.extend(changes.reused_version(intent, highest.get(intent.path)))
        if in_pr:
            start = changes.version_start(intent, highest.get(intent.path))
            found.extend(_approvable(start, owner, pr))
    return found


def fail_closed(
    judged: list[Finding], policies: list[Policy], pr: Mapping[str, object] | None
) -> list[Finding]:
    """In the PR check, a rule that needs the pull request's facts and could not have them
    is an error saying how to give them, never a pass."""
    if pr is not None:
        return judged
    needs = {
        rule.id
        for policy in policies
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


def sealed_recipients(configs: Iterable[Config | None]) -> dict[str, str]:
    """The age recipients of every config (the base's and the head's), each once:
    every one must be able to open a sealed value document, as the reconciler must."""
    recipients: dict[str, str] = {}  # name in gitrot.yaml -> age recipient
    for config in configs:
        for name, recipient in (config.recipients if config is not None else {}).items():
            if recipient not in recipients.values():
                label = name if name not in recipients else f"{name} ({recipient})"
                recipients[label] = recipient
    return recipients


def deleted(change: Change, files: list[ChangedFile]) -> list[Finding]:
    """``intent-deleted`` for intents deleted, or renamed (a rename deletes the old name),
    without a retired last version."""
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
        found.extend(changes.deleted_intent(path, before, renamed_to))
    return found


def recipients_removed(change: Change, files: list[ChangedFile]) -> list[Finding]:
    """``recipients-removed`` for SOPS documents under secrets/ the change modifies."""
    found: list[Finding] = []
    for item in files:
        if item.status not in ("modified", "renamed") or not in_secrets(item.path):
            continue
        if not item.path.endswith(".yaml"):
            continue
        before = age_recipients(change.read_old(item.old_path or item.path))
        after = age_recipients(change.read_new(item.path))
        if before is None or after is None:
            continue
        line = min(after.values(), default=0) or 0
        found.extend(changes.removed_recipients(item.path, before, after, line))
    return found


def age_recipients(data: bytes | None) -> dict[str, int] | None:
    """``{recipient: line}`` of the ``recipient:`` lines of a SOPS YAML text (None: none)."""
    if data is None or b"sops:" not in data:
        return None
    found: dict[str, int] = {}
    for number, line in enumerate(data.split(b"\n"), start=1):
        match = _RECIPIENT_LINE.match(line)
        if match:
            found.setdefault(match.group(1).decode(), number)
    return found
