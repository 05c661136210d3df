"""The reconciler's re-check: the intents it is about to apply, judged by the PR check's stages.

``gitrot reconcile`` and ``plan`` judge the intents of the target commit with the last
reconciled commit as the base. The pull request's facts are not known after the merge:
rules that need them (``requires: [pr]``) are not evaluated there, and neither are the
approvals of policy changes, waivers, starts and moves (the PR check enforced them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitrot.judge import changes, pr_checks
from gitrot.judge.commits import Commits, commit_facts
from gitrot.judge.evaluate import run_rules
from gitrot.judge.sides import Tree, distinct, load_sides, quiet_config
from gitrot.judge.waive import effective_waivers, waive

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from gitrot.core.findings import Finding
    from gitrot.core.models import Config, RotationIntent
    from gitrot.git.repository import Commit, Repo


def judge_commits(  # noqa: PLR0917 - the facts of one judgement
    repo: Repo,
    old: Commit | None,
    new: Commit,
    prefix: str,
    intents: list[RotationIntent],
    texts: Mapping[str, bytes],
    *,
    now: datetime,
    config: Config,
    befores: Mapping[str, bytes | None] | None = None,
) -> dict[str, list[Finding]]:
    """The findings (waived ones marked) on ``intents`` (``texts``: their files at
    ``new``) as the PR check would judge them, with ``old`` as the base (the last
    reconciled commit; None: no base, the intents' history unknown) and ``new`` as the head:
    the rules of both commits' policies (once when they are the same), the intents' facts
    from git, and ``new``'s waivers. ``befores`` overrides each intent's file before (e.g.
    what was last applied); ``config`` is ``new``'s gitrot.yaml, as the caller read it.
    ``{intent path: findings}``; InputError for a rule file that does not load."""
    new_tree = Tree(new, prefix)
    old_tree = Tree(old, prefix) if old is not None else None
    old_config = quiet_config(old_tree) if old_tree is not None else None
    base, head = load_sides(old_tree or new_tree, old_config, new_tree, config, changes.CHECK_IDS)
    policies = distinct([p for p in (base, head) if p is not None])
    commits = Commits(repo, prefix, old, new, now=now)
    if befores is None:
        befores = commits.befores(intents)
    configs = [p.config for p in policies]
    facts = commit_facts(commits, intents, texts, befores, configs, merged=True)
    problems: list[Finding] = []
    judged = run_rules(
        policies, intents, facts, problems, now=now, context="pr", pr=None, moves=True
    )
    judged.extend(
        pr_checks.intent_checks(commits, intents, texts, befores, facts, set(), in_pr=False)
    )
    effective, _ = effective_waivers(head, None, set(), now=now, pr=None)
    found: dict[str, list[Finding]] = {}
    for finding in waive(judged, effective, [], now=now, judged_all=False):
        found.setdefault(finding.path, []).append(finding)
    return found
