"""The base side read from git objects: each intent's file before, and when its version took effect.

Shared by the PR check (the base is the merge base) and the reconciler's re-check (the last
reconciled commit). The history is walked only as far back as the rules look.
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING

from gitrot.core.layout import SECRETS_PREFIX
from gitrot.errors import UnknownRevisionError
from gitrot.git.blobs import spec_version
from gitrot.git.history import last_version_changes
from gitrot.judge import changes
from gitrot.judge.history import steps_by_one
from gitrot.judge.sides import Tree
from gitrot.policy import facts as known
from gitrot.policy.input import Facts

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from gitrot.core.models import Config, RotationIntent
    from gitrot.git.history import VersionChange
    from gitrot.git.repository import Commit, Repo

MAX_WALK = 64  # version changes walked back to the one the reconciler last applied


class Commits:
    """The commits of one judgement: ``old`` the base (None: unknown, no history), ``new``
    the commit judged, both read below the policy folder ``prefix`` of ``repo``."""

    __slots__ = ("new", "now", "old", "prefix", "repo")

    def __init__(
        self, repo: Repo, prefix: str, old: Commit | None, new: Commit, *, now: datetime
    ) -> None:
        self.repo = repo
        self.prefix = prefix
        self.old = old
        self.new = new
        self.now = now

    def keys(self) -> changes.Keys:
        """The keys the change checks may open encrypted fields with (loaded when first
        used): the reconciler's in the checked-out policy folder (none in a bare clone),
        the user's."""
        return changes.Keys(
            os.path.join(self.repo.workdir, self.prefix) if self.repo.workdir else None
        )

    def befores(self, intents: list[RotationIntent]) -> dict[str, bytes | None]:
        """Each intent's file at ``old`` (the same path); none without a base."""
        if self.old is None:
            return {}
        old = Tree(self.old, self.prefix)
        return {i.path: old.read(i.path) for i in intents}


def commit_facts(
    commits: Commits,
    intents: list[RotationIntent],
    texts: Mapping[str, bytes],
    befores: Mapping[str, bytes | None],
    configs: Sequence[Config],
    *,
    merged: bool,
) -> dict[str, Facts]:
    """Base, status and history of each intent (the creation rule is per policy).
    ``merged``: the reconciler's view of several merged commits (:func:`merged_steps`)."""
    if commits.old is None:
        return {i.path: Facts() for i in intents}
    times = rotation_times(commits, intents, befores, configs)
    found = {
        intent.path: known.compare(
            intent,
            texts.get(intent.path),
            befores.get(intent.path),
            rotated_at=times.get(intent.path),
        )
        for intent in intents
    }
    if merged:
        merged_steps(commits, intents, found)
    return found


def merged_steps(commits: Commits, intents: list[RotationIntent], found: dict[str, Facts]) -> None:
    """The reconciler may apply several merged commits at once: an intent raised by more
    than one since the base is compared with its version before the last step when every
    commit on the way raised it by at most one (each was checked), never otherwise (a
    direct push that jumps from 1 to 5 stays a ``version-step`` finding)."""
    assert commits.old is not None  # noqa: S101 - commit_facts returns early without a base
    for intent in intents:
        fact = found[intent.path]
        base = fact.base
        if base is None or intent.version <= base.version + 1:
            continue
        if steps_by_one(commits.repo, commits.prefix, commits.old, commits.new, intent.path):
            previous = copy.copy(base)
            previous.version = intent.version - 1
            found[intent.path] = Facts(
                status=fact.status,
                base=previous,
                base_rotated_at=fact.base_rotated_at,
                creation_rule=fact.creation_rule,
            )


def rotation_times(
    commits: Commits,
    intents: list[RotationIntent],
    befores: Mapping[str, bytes | None],
    configs: Sequence[Config],
) -> dict[str, int]:
    """When each intent's version at ``old`` took effect, read only as far back as the
    rules look: for a rotation, the longest ``min_interval`` of the classes (all
    ``min-interval`` compares with); otherwise the longest ``max_age``. A version set
    before that horizon is reported at the horizon (it is at least that old), so the cost
    follows the rules' windows, not the history's length."""
    assert commits.old is not None  # noqa: S101 - commit_facts returns early without a base
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
    start = int(commits.now.timestamp())
    times: dict[str, int] = {}
    versions = {path: spec_version(text) for path, text in befores.items() if text is not None}
    for rotated, members in groups.items():
        if not members:
            continue
        horizon = start - windows[rotated]
        keys = {commits.prefix + i.path: i.path for i in members}
        history = (
            last_version_changes(
                commits.repo,
                rev=str(commits.old.id),
                prefix=commits.prefix + SECRETS_PREFIX,
                paths=list(keys),
                since=horizon,
            )
            if windows[rotated]
            else {}
        )
        for key, path in keys.items():
            record = history.get(key)
            if record is not None and record.version != versions.get(path):
                record = _setting(commits, record, versions.get(path), horizon)
            times[path] = record.time if record is not None else horizon - 1
    return times


def _setting(
    commits: Commits, record: VersionChange, version: int | None, horizon: int
) -> VersionChange | None:
    """The commit that set ``version`` (the one ``befores`` gives: what the reconciler last
    applied) when ``record``, the last version change at ``old``, set a later one: a run
    that failed moved the reconciled commit past a rotation it did not finish, and the
    rotation's clock starts when the applied version was set, not when the failed one was.
    Walks back one version change at a time (a few, bounded); None past the horizon."""
    for _ in range(MAX_WALK):
        if record.version == version or version is None:
            return record
        try:
            older = last_version_changes(
                commits.repo,
                rev=f"{record.commit_id}^",
                prefix=commits.prefix + SECRETS_PREFIX,
                paths=[record.path],
                since=horizon,
            )
        except UnknownRevisionError:  # set by a root commit: nothing before it
            return None
        found = older.get(record.path)
        if found is None:
            return None
        record = found
    return record
