"""What the judging pipeline reads (:class:`Inputs`) and what it returns (:class:`Verdict`).

The work tree (:mod:`gitrot.judge.worktree`, ``gitrot validate``) and a change read from git
objects (:mod:`gitrot.judge.pull`, ``gitrot check``) are judged by one pipeline
(:func:`gitrot.judge.pipeline.judge`, docs/architecture.md); they differ only in what they
give it: the files to judge and how to read them, the base side (or none), the facts, and the
policy sides to judge with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # pygit2 behind the git types; the hook never imports them
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from gitrot.core.findings import Finding
    from gitrot.core.models import Config, RotationIntent
    from gitrot.errors import GitrotError
    from gitrot.files.waivers import Waiver
    from gitrot.keys.creation_rules import CreationRule
    from gitrot.policy.input import Facts
    from gitrot.policy.model import AnyRule
    from gitrot.scan.allowlist import AllowEntry


class FileChange(Protocol):
    """A file that differs from the base (:class:`gitrot.git.change.ChangedFile` is one):
    ``status`` is added, modified, deleted or renamed; ``old_path`` the name before a
    rename."""

    @property
    def path(self) -> str: ...

    @property
    def old_path(self) -> str | None: ...

    @property
    def status(self) -> str: ...


class Policy:
    """What one side's policy files say (a commit's, or the work tree's). ``texts`` holds
    the raw text of each policy file (for :mod:`gitrot.judge.policy_diff`); ``rule_files``
    the rule files ``policy.paths`` names there."""

    __slots__ = (
        "allow",
        "config",
        "rule_files",
        "rules",
        "sops",
        "sops_problem",
        "texts",
        "waiver_problems",
        "waivers",
    )

    def __init__(self, config: Config) -> None:
        self.config = config
        self.rules: list[AnyRule] = []
        self.rule_files: list[str] = []
        self.texts: dict[str, bytes] = {}
        self.sops: list[CreationRule] | None = None
        self.sops_problem: GitrotError | None = None
        self.allow: list[AllowEntry] = []
        self.waivers: list[Waiver] = []
        self.waiver_problems: list[Finding] = []

    def key(self) -> tuple[tuple[str, bytes], ...]:
        """Equal for two commits whose policies judge alike (the same files, byte for byte)."""
        return tuple(sorted(self.texts.items()))


class Verdict:
    """What a judgement found: findings, the files it read, and the rules' descriptions."""

    __slots__ = ("checked", "findings", "rules")

    def __init__(
        self, findings: list[Finding], checked: list[str], rules: dict[str, tuple[str, str]]
    ) -> None:
        self.findings = findings
        self.checked = checked
        self.rules = rules


class Inputs(Protocol):
    """One judgement's inputs.

    ``targets`` are the files to load (intents and sealed value documents, policy-relative),
    ``checked`` the files the report names as checked, ``files`` the files with their status
    against the base (for ``sealed-immutable``), ``judged_all`` whether the whole repository
    is judged (then waiver findings are reported), ``context`` where the rules run,
    ``moves`` whether an intent that moved is judged with its old environment and class
    too, and ``rules`` the descriptions of the checks besides the policy's rules."""

    targets: list[str]
    checked: list[str]
    judged_all: bool
    context: str
    now: datetime
    pr: Mapping[str, object] | None
    moves: bool
    rules: dict[str, tuple[str, str]]

    @property
    def files(self) -> Sequence[FileChange]: ...

    def problems(self) -> list[Finding]:
        """Findings known before anything is loaded (the configuration's, the scanner's)."""

    def read(self, path: str) -> bytes | None:
        """The judged side's bytes of ``path`` (None: absent); GitrotError when refused."""

    def intent_paths(self) -> list[str]:
        """Every intent of the judged side, judged or not (:mod:`gitrot.judge.sources`)."""

    def kept(self, item: FileChange) -> bool | None:
        """Whether a modified sealed document still holds its value (see ``sealed_kept``)."""

    def recipients(self) -> Mapping[str, str] | None:
        """The age recipients every sealed value document must be sealed for (None: no check)."""

    def wants_policy(self) -> bool:
        """Whether the policies load even when no intent loaded (a rule file is judged)."""

    def policies(self, findings: list[Finding]) -> list[Policy]:
        """The policy sides to judge with, the base's first, each once (none without a
        gitrot.yaml); their problems go to ``findings``."""

    def facts(
        self, intents: list[RotationIntent], texts: Mapping[str, bytes], policies: list[Policy]
    ) -> dict[str, Facts]:
        """What the base side says about each intent (the creation rule is per policy)."""

    def review(
        self,
        judged: list[Finding],
        intents: list[RotationIntent],
        texts: Mapping[str, bytes],
        facts: Mapping[str, Facts],
    ) -> list[Finding]:
        """The rules' findings with the checks only this input can make (a change's)."""

    def waivers(self, policies: list[Policy]) -> tuple[list[Waiver], list[Finding]]:
        """The waivers that count, and the findings about waivers."""
