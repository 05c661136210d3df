"""The pipeline's inputs for the work tree (``gitrot validate``, the hook), judged against HEAD.

The files are read from the disk (never through a symbolic link, never a FIFO or device);
the base side is ``HEAD``, read by the ``git`` executable alone (:mod:`gitrot.git.worktree`:
the hook cannot afford pygit2); the one policy side is the work tree's. Without files to
judge, or when the waivers file is one of them, every file gitrot owns is judged.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gitrot.core.findings import Finding
from gitrot.core.layout import CONFIG_FILE, SOPS_CONFIG, in_secrets, is_sealed_path
from gitrot.errors import GitrotError, InputError
from gitrot.files import repo, waivers
from gitrot.files.fsutil import inside, read_bytes
from gitrot.git.worktree import at_head, head_blobs
from gitrot.judge import changes
from gitrot.judge.inputs import Policy
from gitrot.judge.waive import effective_waivers
from gitrot.policy import facts as known
from gitrot.policy import rules as rules_module
from gitrot.policy.input import Facts

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from gitrot.core.models import Config, RotationIntent
    from gitrot.files.waivers import Waiver
    from gitrot.judge.inputs import FileChange


class Modified:
    """A file of the work tree that differs from its version at HEAD."""

    __slots__ = ("path",)
    status = "modified"
    old_path = None

    def __init__(self, path: str) -> None:
        self.path = path


class WorkTree:
    """The files ``targets`` (policy-relative; every file gitrot owns when empty) of the
    policy repository at ``root``: see the module."""

    def __init__(self, root: str, targets: list[str], *, context: str, now: datetime) -> None:
        self.root = root
        self.moves = False  # no base policy whose classes a move could leave
        self.pr: Mapping[str, object] | None = None
        self.rules: dict[str, tuple[str, str]] = {}
        self.context = context
        self.now = now
        self.config: Config | None = None
        self.config_error: GitrotError | None = None
        try:
            self.config = repo.load_config(root)
        except GitrotError as exc:
            self.config_error = exc.at(CONFIG_FILE)
        waivers_path = self.config.waivers_path if self.config is not None else None
        self.judged_all = not targets or (waivers_path is not None and waivers_path in targets)
        if self.judged_all:
            intent_files, sealed_files = repo.secrets_files(root)
            everything = [CONFIG_FILE, *intent_files, *sealed_files]
            targets = list(dict.fromkeys([*targets, *everything]))
        self.targets = self.checked = targets
        self.committed: dict[str, tuple[bytes, bytes]] = {}  # path: (at HEAD, now)
        self.files = self._changed_sealed()

    def _changed_sealed(self) -> list[Modified]:
        """The sealed value documents among the targets that differ from HEAD (one
        deleted, or refused by the loader, is not: the PR check judges deletions)."""
        sealed = [t for t in self.targets if is_sealed_path(t)]
        found = []
        for path, before in ((head_blobs(self.root, sealed) if sealed else None) or {}).items():
            now = self.current(path) if before is not None else None
            if before is not None and now is not None and now != before:
                self.committed[path] = (before, now)
                found.append(Modified(path))
        return found

    def problems(self) -> list[Finding]:
        if self.config_error is not None and CONFIG_FILE in self.targets:
            return [Finding.from_error(self.config_error)]
        return []

    def read(self, path: str) -> bytes | None:
        """The file's bytes; InputError for a missing file, a symbolic link, one that
        leaves the repository, a FIFO or device, or one too big."""
        full = inside(self.root, path)
        if os.path.islink(full):
            raise InputError(repo.LINK_MESSAGE, where=path, hint=repo.LINK_HINT)
        return read_bytes(full, limit=repo.MAX_FILE_BYTES, where=path)

    def intent_paths(self) -> list[str]:
        return repo.secrets_files(self.root)[0]

    def current(self, path: str) -> bytes | None:
        """The file's bytes, or None when it cannot be read (the loader reports why)."""
        try:
            return self.read(path)
        except InputError:
            return None

    def kept(self, item: FileChange) -> bool | None:
        before, now = self.committed[item.path]
        return changes.sealed_kept(before, now, item.path, changes.Keys(self.root))

    def recipients(self) -> Mapping[str, str] | None:
        return self.config.recipients if self.config is not None else None

    def wants_policy(self) -> bool:
        """Whether a target may be a rule file (then the rules load, to check it)."""
        return any(t.endswith(".yaml") and not in_secrets(t) for t in self.targets)

    def policies(self, findings: list[Finding]) -> list[Policy]:
        """The work tree's policy; InputError for a rule file that does not load."""
        if self.config is None:
            if self.config_error is not None and CONFIG_FILE not in self.targets:
                findings.append(Finding.from_error(self.config_error))
            return []
        policy = Policy(self.config)
        policy.rules = rules_module.load_rules(self.root, self.config)
        if os.path.lexists(os.path.join(self.root, SOPS_CONFIG)):
            try:
                policy.sops = known.sops_rules(repo.read_file(self.root, SOPS_CONFIG), SOPS_CONFIG)
            except GitrotError as exc:
                policy.sops_problem = exc
        ids = {rule.id for rule in policy.rules} | changes.CHECK_IDS
        policy.waivers, policy.waiver_problems = waivers.load_waivers(
            self.root, self.config.waivers_path, ids
        )
        return [policy]

    def facts(
        self, intents: list[RotationIntent], texts: Mapping[str, bytes], policies: list[Policy]
    ) -> dict[str, Facts]:
        """Each intent against HEAD (the base of the commit being made): its file there, and
        when its version took effect."""
        head = at_head(self.root, [intent.path for intent in intents])
        if head is None:
            return {intent.path: Facts() for intent in intents}
        blobs, times = head
        return {
            intent.path: known.compare(
                intent,
                texts.get(intent.path),
                blobs.get(intent.path),
                rotated_at=times.get(intent.path),
            )
            for intent in intents
        }

    def review(
        self,
        judged: list[Finding],
        intents: list[RotationIntent],
        texts: Mapping[str, bytes],
        facts: Mapping[str, Facts],
    ) -> list[Finding]:
        return judged

    def waivers(self, policies: list[Policy]) -> tuple[list[Waiver], list[Finding]]:
        return effective_waivers(policies[-1], None, set(), now=self.now, pr=None)
