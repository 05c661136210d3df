"""What git and ``.sops.yaml`` say about intents: the :class:`~gitrot.policy.input.Facts`
both ``gitrot validate`` (against HEAD) and ``gitrot check`` (against the merge base) give
the rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gitrot.codec.metadata import DEFAULT_SELECTOR
from gitrot.errors import GitrotError
from gitrot.files import repo
from gitrot.keys import creation_rules as rules
from gitrot.policy.input import Facts

if TYPE_CHECKING:
    from collections.abc import Iterable

    from gitrot.core.models import RotationIntent
    from gitrot.keys.creation_rules import CreationRule

#: a creation rule as the rules see it: (selector, recipients, mac_only_encrypted)
RuleFacts = tuple[tuple[str, str] | None, tuple[str, ...], bool]


def sops_rules(text: str | bytes, where: str) -> list[CreationRule]:
    """The creation rules of a ``.sops.yaml`` text (a file or a git blob); ConfigError."""
    found, _indent = rules.rules_from_text(text, where=where)
    return found


def creation_facts(
    rule_list: list[CreationRule], paths: Iterable[str]
) -> tuple[dict[str, RuleFacts], list[GitrotError]]:
    """``{path: (selector, recipients, mac_only_encrypted)}`` of the creation rule for each
    repo-relative path (absent without a matching rule), and the rules' problems."""
    found: dict[str, RuleFacts] = {}
    for path in paths:
        try:
            rule = rules.match_rule(rule_list, Path(path), Path())
        except rules.NoMatchingRuleError:
            continue
        except GitrotError as exc:
            return found, [exc]
        recipients = tuple(r for group in rule.key_groups for r in group)
        found[path] = (rule.selector or DEFAULT_SELECTOR, recipients, rule.mac_only_encrypted)
    return found, []


def compare(
    intent: RotationIntent,
    now: bytes | None,
    before: bytes | None,
    *,
    rotated_at: int | None = None,
    rule: RuleFacts | None = None,
) -> Facts:
    """The facts of ``intent`` whose file is ``now`` and was ``before`` (None: added).

    ``rotated_at`` is when its version took effect. An older file that does not load
    leaves ``base`` unknown (None).
    """
    if before is None:
        return Facts(status="added", creation_rule=rule)
    base: RotationIntent | None
    if now == before:
        status, base = "unchanged", intent
    else:
        status = "modified"
        try:
            base = repo.parse_intent(before, intent.path)
        except GitrotError:
            base = None  # the older file was broken; version-step cannot compare with it
    return Facts(status=status, base=base, base_rotated_at=rotated_at, creation_rule=rule)
