"""Which files of a change are its policy, and the ``policy-changed`` findings for them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitrot.core.layout import CONFIG_FILE, SCAN_ALLOWLIST, SOPS_CONFIG
from gitrot.judge import policy_diff
from gitrot.judge.sides import Tree

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from gitrot.core.findings import Finding
    from gitrot.core.models import Config
    from gitrot.git.change import Change, ChangedFile
    from gitrot.judge.inputs import Policy


def policy_paths(configs: Iterable[Config]) -> tuple[set[str], tuple[str, ...]]:
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


def is_policy_file(path: str, exact: set[str], folders: tuple[str, ...]) -> bool:
    """Whether ``path`` is one of ``exact`` or a rule file directly in one of ``folders``."""
    if path in exact:
        return True
    for folder in folders:
        if path.startswith(folder) and path.endswith(".yaml") and "/" not in path[len(folder) :]:
            return True
    return False


def changed_policy_files(
    changed: Mapping[str, ChangedFile], configs: Iterable[Config], *, intents_only: bool = False
) -> set[str]:
    """The policy files (old or new names) the change touches; ``intents_only``: only those
    that judge intents (the scan allowlist judges files)."""
    exact, folders = policy_paths(configs)
    if intents_only:
        exact.discard(SCAN_ALLOWLIST)
    paths = set()
    for path, item in changed.items():
        for candidate in (path, item.old_path or path):
            if is_policy_file(candidate, exact, folders):
                paths.add(candidate)
    return paths


def policy_changes(  # noqa: PLR0917 - the sides of the change
    change: Change,
    changed: Mapping[str, ChangedFile],
    old_config: Config | None,
    config: Config,
    base: Policy,
    pr: Mapping[str, object] | None,
) -> list[Finding]:
    """``policy-changed`` for each thing the change does to a policy file."""
    paths = changed_policy_files(changed, [c for c in (old_config, config) if c is not None])
    if not paths:
        return []
    described = policy_diff.describe(
        Tree(change.merge_base, change.prefix),
        Tree(change.head, change.prefix),
        old_config,
        config,
        paths,
    )
    return policy_diff.findings(described, base.config.owners, pr)
