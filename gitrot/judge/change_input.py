"""The pipeline's inputs for a change read from git objects (``gitrot check``, the PR check).

A change is judged with the BASE's policy (the target branch's gitrot.yaml, rule files,
waivers, scan allowlist and ``.sops.yaml``) and with the head's: a finding under either
counts (identical findings once), so a pull request cannot loosen the policy that judges
it; tightening works at once, loosening needs a change of its own, merged first. Without a
gitrot.yaml at the base (the commit that creates the repository) the head's judges alone.
A change to the policy is itself a finding (``policy-changed``,
:mod:`gitrot.judge.policy_diff`) that needs a policy owner's approval; waivers the change
adds need their approver's (:func:`gitrot.judge.waive.effective_waivers`). Without the pull
request's facts (author, approvals) all of these fail closed.

The cost follows the change: only changed intents are judged (every intent of the head
when the policy changes), their history walked only as far back as the rules look, and a
policy that is the same on both sides is evaluated once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitrot.core.findings import Finding, Severity
from gitrot.core.layout import CONFIG_FILE, SECRETS_PREFIX, is_intent_path, is_sealed_path
from gitrot.errors import GitrotError
from gitrot.files import repo, waivers
from gitrot.judge import changes, pr_checks
from gitrot.judge.commits import Commits, commit_facts
from gitrot.judge.pipeline import judge
from gitrot.judge.policy_diff import waiver_list
from gitrot.judge.policy_files import changed_policy_files, policy_changes
from gitrot.judge.pr import approved_by
from gitrot.judge.scan import scan_change
from gitrot.judge.sides import Tree, allowlist, distinct, load_sides, quiet_config
from gitrot.judge.waive import effective_waivers

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from gitrot.core.models import Config, RotationIntent
    from gitrot.files.waivers import Waiver
    from gitrot.git.change import Change
    from gitrot.judge.inputs import FileChange, Policy, Verdict
    from gitrot.policy.input import Facts


class ChangeInput:
    """The change ``change`` (its merge base against its head): see the module."""

    context = "pr"
    moves = True

    def __init__(self, change: Change, *, now: datetime, pr: Mapping[str, object] | None) -> None:
        self.change = change
        self.now = now
        self.pr = pr
        self.rules = dict(changes.RULES)
        self.files = [f for f in change.files if not f.path.startswith("../")]
        self.checked = [f.path for f in change.files]
        self.changed = {f.path: f for f in self.files}
        self.commits = Commits(change.repo, change.prefix, change.merge_base, change.head, now=now)
        self.old_tree = Tree(change.merge_base, change.prefix)
        base_tree = Tree(change.base, change.prefix)
        self.found: list[Finding] = []
        self.config = self._head_config()
        self.base_config = quiet_config(base_tree)
        same_base = change.merge_base.id == change.base.id
        self.old_config = self.base_config if same_base else quiet_config(self.old_tree)
        self.head: Policy | None = None
        self.base: Policy | None = None
        self.befores: dict[str, bytes | None] = {}
        self.judged_all = False
        sealed = [f.path for f in self.files if f.status != "deleted" and is_sealed_path(f.path)]
        if self.config is None:
            self.found.extend(
                scan_change(change, [allowlist(base_tree)] if self.base_config else [])
            )
            self.targets = sealed
            return
        self.base, self.head = load_sides(
            base_tree,
            self.base_config,
            Tree(change.head, change.prefix),
            self.config,
            changes.CHECK_IDS,
        )
        self.found.extend(scan_change(change, [p.allow for p in (self.base, self.head) if p]))
        configs = [c for c in (self.old_config, self.base_config, self.config) if c is not None]
        self.judged_all = bool(changed_policy_files(self.changed, configs, intents_only=True))
        self.targets = [*sealed, *self._intent_paths()]
        self.found.extend(pr_checks.deleted(change, self.files))

    def _head_config(self) -> Config | None:
        """The head's gitrot.yaml; None, with a finding, when it has none or it is broken."""
        try:
            text = self.change.read_new(CONFIG_FILE)
        except GitrotError as exc:  # a symbolic link
            self.found.append(Finding.from_error(exc.at(CONFIG_FILE)))
            return None
        if text is None:
            self.found.append(
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
            self.found.append(Finding.from_error(exc.at(CONFIG_FILE)))
            return None

    def _intent_paths(self) -> list[str]:
        """The head's intents to judge: the changed ones, or all when the policy changes."""
        if self.judged_all:
            paths = [p for p in self.change.new_tree_paths(SECRETS_PREFIX) if is_intent_path(p)]
        else:
            paths = [
                p for p, f in self.changed.items() if f.status != "deleted" and is_intent_path(p)
            ]
        return sorted(paths)

    def problems(self) -> list[Finding]:
        return self.found

    def read(self, path: str) -> bytes | None:
        return self.change.read_new(path)

    def intent_paths(self) -> list[str]:
        return [p for p in self.change.new_tree_paths(SECRETS_PREFIX) if is_intent_path(p)]

    def kept(self, item: FileChange) -> bool | None:
        old = self.change.read_old(item.old_path or item.path)
        new = self.change.read_new(item.path)
        if old is None or new is None:
            return False
        return changes.sealed_kept(old, new, item.path, self.commits.keys())

    def recipients(self) -> Mapping[str, str] | None:
        return pr_checks.sealed_recipients((self.base_config, self.config))

    def wants_policy(self) -> bool:
        return True

    def policies(self, findings: list[Finding]) -> list[Policy]:
        return distinct([p for p in (self.base, self.head) if p is not None])

    def facts(
        self, intents: list[RotationIntent], texts: Mapping[str, bytes], policies: list[Policy]
    ) -> dict[str, Facts]:
        self.befores = self.commits.befores(intents)
        configs = [p.config for p in policies]
        return commit_facts(self.commits, intents, texts, self.befores, configs, merged=False)

    def review(
        self,
        judged: list[Finding],
        intents: list[RotationIntent],
        texts: Mapping[str, bytes],
        facts: Mapping[str, Facts],
    ) -> list[Finding]:
        """The rules' findings (failing closed without the PR facts), the intent checks,
        removed recipients and the policy changes."""
        assert self.head is not None and self.config is not None  # noqa: S101 - policies()
        base = self.base
        owner = approved_by(self.pr, base.config.owners) if base is not None else None
        added = {p for p, f in self.changed.items() if f.status in ("added", "renamed")}
        policies = distinct([p for p in (base, self.head) if p is not None])
        if intents:
            judged = pr_checks.fail_closed(judged, policies, self.pr)
            judged.extend(
                pr_checks.intent_checks(
                    self.commits,
                    intents,
                    texts,
                    self.befores,
                    facts,
                    added,
                    owner=owner,
                    pr=self.pr,
                    in_pr=True,
                )
            )
        judged.extend(pr_checks.recipients_removed(self.change, self.files))
        if base is not None:
            judged.extend(
                policy_changes(
                    self.change, self.changed, self.old_config, self.config, base, self.pr
                )
            )
        return judged

    def waivers(self, policies: list[Policy]) -> tuple[list[Waiver], list[Finding]]:
        assert self.head is not None  # noqa: S101 - policies() found it
        old_ids = self._old_waiver_ids() if self.base is not None else set()
        return effective_waivers(self.head, self.base, old_ids, now=self.now, pr=self.pr)

    def _old_waiver_ids(self) -> set[tuple[object, ...]]:
        """The identities of the waivers the change left from (the merge base's)."""
        config = self.old_config
        if config is None or not config.waivers_path:
            return set()
        text = self.old_tree.read(config.waivers_path)
        if text is None:
            return set()
        return {waivers.identity(w) for w in waiver_list(text, config.waivers_path)}


def judge_change(
    change: Change, *, now: datetime, pr: Mapping[str, object] | None = None
) -> Verdict:
    """The verdict of ``change``: :func:`gitrot.judge.pipeline.judge` of its inputs."""
    return judge(ChangeInput(change, now=now, pr=pr))
