"""Running every policy side's rules over the intents a judgement loaded (docs/architecture.md)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from gitrot.core.findings import Finding
from gitrot.core.layout import SOPS_CONFIG
from gitrot.policy import engine
from gitrot.policy.facts import creation_facts
from gitrot.policy.input import Facts

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from gitrot.core.models import RotationIntent
    from gitrot.judge.inputs import Policy
    from gitrot.policy.facts import RuleFacts


def run_rules(
    policies: list[Policy],
    intents: list[RotationIntent],
    facts: Mapping[str, Facts],
    findings: list[Finding],
    *,
    now: datetime,
    context: str,
    pr: Mapping[str, object] | None,
    moves: bool,
) -> list[Finding]:
    """The findings of every policy's rules over ``intents`` (each finding once), with
    ``facts`` and each policy's ``.sops.yaml`` creation rule. With ``moves``, an intent
    whose environment or class changed is judged as it was too (:func:`stricter`).
    Problems of a policy's ``.sops.yaml`` go to ``findings``."""
    if not intents:
        return []
    variants = stricter(intents, facts) if moves else []
    judged: list[Finding] = []
    for policy in policies:
        creation = creation_rules(policy, intents, findings)
        own = {path: with_rule(fact, creation.get(path)) for path, fact in facts.items()}
        judged.extend(
            engine.evaluate(
                policy.rules,
                [*intents, *variants],
                policy.config,
                now=now,
                facts=own,
                context=context,
                pr=pr,
            )
        )
    return list(dict.fromkeys(judged))


def with_rule(fact: Facts, rule: RuleFacts | None) -> Facts:
    """``fact`` with the creation rule of one policy."""
    return Facts(
        status=fact.status,
        base=fact.base,
        base_rotated_at=fact.base_rotated_at,
        creation_rule=rule,
    )


def creation_rules(
    policy: Policy, intents: list[RotationIntent], findings: list[Finding]
) -> dict[str, RuleFacts]:
    """The creation rule of the policy's ``.sops.yaml`` for each intent."""
    if policy.sops is None:
        return {}
    creation, problems = creation_facts(policy.sops, [i.path for i in intents])
    findings.extend(Finding.from_error(p.at(SOPS_CONFIG)) for p in problems)
    return creation


def stricter(intents: list[RotationIntent], facts: Mapping[str, Facts]) -> list[RotationIntent]:
    """For each intent whose environment or class the change moves, the intent as it would
    be with the old ones: judged too, so a move never skips the stricter side's rules."""
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
