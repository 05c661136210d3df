"""One side's policy, read from a commit: gitrot.yaml, its rule files, waivers, the scan
allowlist and ``.sops.yaml``.

The PR check judges a change with the base's policy and the head's (a finding under either
counts); the reconciler with the last reconciled commit's and the target's. A
:class:`Tree` reads files of one commit below the policy repository's folder; a
:class:`Policy` is what that commit says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitrot.core.findings import Finding, Severity
from gitrot.core.layout import CONFIG_FILE, SCAN_ALLOWLIST, SOPS_CONFIG
from gitrot.errors import GitrotError, InputError
from gitrot.files import repo, waivers
from gitrot.files.fields import decode
from gitrot.git.repository import read_blob
from gitrot.git.state import list_blobs
from gitrot.judge.inputs import Policy
from gitrot.policy import rules as rules_module
from gitrot.policy.facts import sops_rules
from gitrot.policy.python_rules import installed_rules
from gitrot.scan import allowlist as allowlist_module

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from gitrot.core.models import Config
    from gitrot.files.waivers import Waiver
    from gitrot.git.repository import Commit
    from gitrot.policy.model import AnyRule
    from gitrot.scan.allowlist import AllowEntry

MAX_FILE_BYTES = 1024 * 1024


class Tree:
    """The files of ``commit`` below ``prefix`` (``""`` or ``"policy/"``), from git objects."""

    __slots__ = ("commit", "prefix")

    def __init__(self, commit: Commit, prefix: str) -> None:
        self.commit = commit
        self.prefix = prefix

    def read(self, path: str) -> bytes | None:
        return read_blob(self.commit, self.prefix + path)

    def list(self, folder: str) -> list[str]:
        """The files under ``folder`` (policy-relative), sorted."""
        top = (self.prefix + folder).rstrip("/")
        found = list_blobs(self.commit, top)
        return sorted(path[len(self.prefix) :] for path in found)


def rule_files(tree: Tree, config: Config) -> list[str]:
    """The rule files ``policy.paths`` names in ``tree`` (a folder: its own ``*.yaml``)."""
    found: list[str] = []
    for entry in config.policy_paths:
        rel = entry.rstrip("/")
        inside = [p for p in tree.list(rel + "/") if p.endswith(".yaml")]
        direct = [p for p in inside if "/" not in p[len(rel) + 1 :]]
        if direct:
            found.extend(direct)
        elif rel.endswith(".yaml") and tree.read(rel) is not None:
            found.append(rel)
    return list(dict.fromkeys(found))


def load_config(tree: Tree) -> Config | None:
    """The commit's gitrot.yaml; None when it has none. A GitrotError when it does not load."""
    text = tree.read(CONFIG_FILE)
    if text is None:
        return None
    return repo.parse_config(text, CONFIG_FILE)


def quiet_config(tree: Tree) -> Config | None:
    """A side's gitrot.yaml; None when absent or broken (the head's alone judges then)."""
    try:
        return load_config(tree)
    except GitrotError:
        return None


def allowlist(tree: Tree) -> list[AllowEntry]:
    """A side's scan allowlist (none without the file)."""
    text = tree.read(SCAN_ALLOWLIST)
    if text is None:
        return []
    return allowlist_module.parse(text.decode("utf-8", "replace"), where=SCAN_ALLOWLIST)


def distinct(policies: list[Policy]) -> list[Policy]:
    """The policies, each judged once: a side whose files equal another's adds nothing."""
    seen: set[object] = set()
    found = []
    for policy in policies:
        key = policy.key()
        if key not in seen:
            seen.add(key)
            found.append(policy)
    return found


def load_sides(
    base_tree: Tree,
    base_config: Config | None,
    head_tree: Tree,
    head_config: Config,
    extra_ids: Collection[str],
) -> tuple[Policy | None, Policy]:
    """The policies of the base (None without its gitrot.yaml) and of the head, with the
    built-in rules and those installed packages register (the same on both sides)."""
    builtin, installed = rules_module.builtin_rules(), list(installed_rules())
    head = load_policy(head_tree, head_config, builtin, installed, extra_ids)
    if base_config is None:
        return None, head
    return load_policy(base_tree, base_config, builtin, installed, extra_ids), head


def load_policy(
    tree: Tree,
    config: Config,
    builtin: Sequence[AnyRule],
    installed: Sequence[AnyRule],
    extra_ids: Collection[str],
) -> Policy:
    """The policy of ``tree`` whose gitrot.yaml is ``config``: the ``builtin`` rules, the
    repository's rule files, then the ``installed`` ones, checked for unique ids (InputError);
    ``.sops.yaml``, the waivers (``extra_ids``: the ids of checks a waiver may name besides
    the rules') and the scan allowlist (InputError when it does not load)."""
    policy = Policy(config)
    config_text = tree.read(CONFIG_FILE)
    if config_text is not None:
        policy.texts[CONFIG_FILE] = config_text
    repo_rules: list[AnyRule] = []
    policy.rule_files = rule_files(tree, config)
    for path in policy.rule_files:
        data = tree.read(path) or b""
        policy.texts[path] = data
        repo_rules.extend(
            rules_module.parse_rules(decode(data, path, MAX_FILE_BYTES, InputError), path)
        )
    policy.rules = rules_module.check_unique([*builtin, *repo_rules, *installed])
    sops_text = tree.read(SOPS_CONFIG)
    if sops_text is not None:
        policy.texts[SOPS_CONFIG] = sops_text
        try:
            policy.sops = sops_rules(sops_text, SOPS_CONFIG)
        except GitrotError as exc:
            policy.sops_problem = exc
    allow_text = tree.read(SCAN_ALLOWLIST)
    if allow_text is not None:
        policy.texts[SCAN_ALLOWLIST] = allow_text
        policy.allow = allowlist_module.parse(
            allow_text.decode("utf-8", "replace"), where=SCAN_ALLOWLIST
        )
    if config.waivers_path:
        text = tree.read(config.waivers_path)
        if text is not None:
            policy.texts[config.waivers_path] = text
            known = {rule.id for rule in policy.rules} | set(extra_ids)
            policy.waivers, policy.waiver_problems = _waivers(text, config.waivers_path, known)
    return policy


def _waivers(text: bytes, where: str, known: Collection[str]) -> tuple[list[Waiver], list[Finding]]:
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        bad = Finding(
            waivers.INVALID, Severity.ERROR, where, 0, 0, "the waivers file is not UTF-8 text"
        )
        return [], [bad]
    return waivers.parse_waivers(decoded, where, known)
