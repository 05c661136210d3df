"""The judging pipeline: one :func:`judge` for the work tree and a change (docs/architecture.md).

Its stages, in order: the findings its inputs know at once (the configuration's, the
scanner's); ``sealed-immutable`` for sealed value documents changed since the base
(:func:`gitrot.judge.changes.sealed_changes`); the loader's checks of every target (a
sealed value document for its recipients, an intent for its schema, names and encryption);
``rotator-shared`` for an intent naming a rotator another intent names
(:mod:`gitrot.judge.sources`);
the rules of every policy side over the intents that loaded, with what the base side says
about them (:mod:`gitrot.judge.evaluate`); the checks only a change can make
(:meth:`~gitrot.judge.inputs.Inputs.review`); and the waivers
(:func:`gitrot.judge.waive.waive`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gitrot.core.findings import Finding
from gitrot.core.layout import SOPS_CONFIG, in_secrets, is_sealed_path
from gitrot.errors import GitrotError
from gitrot.files import repo
from gitrot.judge import changes
from gitrot.judge.evaluate import run_rules
from gitrot.judge.inputs import Verdict
from gitrot.judge.sources import shared_rotators
from gitrot.judge.waive import waive
from gitrot.policy.rules import describe as describe_rules

if TYPE_CHECKING:
    from gitrot.core.models import RotationIntent
    from gitrot.judge.inputs import Inputs, Policy


def judge(inputs: Inputs, *, progress: Callable[[int, int], None] | None = None) -> Verdict:
    """Every finding of ``inputs``: see the module. ``progress(done, total)`` is called as
    each target is loaded (a progress bar's callback, :func:`gitrot.ui.progress`)."""
    findings = [*inputs.problems(), *changes.sealed_changes(inputs.files, inputs.kept)]
    intents, texts = load(inputs, findings, progress)
    findings.extend(shared_rotators(intents, inputs))
    if not intents and not inputs.wants_policy():
        return Verdict(findings, inputs.checked, dict(inputs.rules))
    policies = inputs.policies(findings)
    if not policies:
        return Verdict(findings, inputs.checked, dict(inputs.rules))
    sops_problem = policies[-1].sops_problem  # the judged side's .sops.yaml
    if sops_problem is not None:
        findings.append(Finding.from_error(sops_problem.at(SOPS_CONFIG)))
    facts = inputs.facts(intents, texts, policies)
    judged = run_rules(
        policies,
        intents,
        facts,
        findings,
        now=inputs.now,
        context=inputs.context,
        pr=inputs.pr,
        moves=inputs.moves,
    )
    judged = inputs.review(judged, intents, texts, facts)
    effective, problems = inputs.waivers(policies)
    findings.extend(
        waive(judged, effective, problems, now=inputs.now, judged_all=inputs.judged_all)
    )
    return Verdict(findings, inputs.checked, describe(policies, inputs.rules))


def describe(
    policies: list[Policy], extra: dict[str, tuple[str, str]]
) -> dict[str, tuple[str, str]]:
    """The descriptions of every policy's rules, then of the checks ``extra`` names."""
    meta: dict[str, tuple[str, str]] = {}
    for policy in policies:
        meta.update(describe_rules(policy.rules))
    meta.update(extra)
    return meta


def load(
    inputs: Inputs,
    findings: list[Finding],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[RotationIntent], dict[str, bytes]]:
    """The loader's checks of every target: a sealed value document is sealed for its
    recipients; an intent (any ``secrets/*.yaml`` or ``.yml`` target) loads. Problems go to
    ``findings``; the intents that loaded and their texts are returned."""
    intents: list[RotationIntent] = []
    texts: dict[str, bytes] = {}
    recipients = inputs.recipients()
    total = len(inputs.targets)
    for done, path in enumerate(inputs.targets, 1):
        if progress is not None:
            progress(done, total)
        try:
            if is_sealed_path(path):
                repo.parse_sealed(inputs.read(path) or b"", path, recipients)
                continue
            if not (in_secrets(path) and path.endswith((".yaml", ".yml"))):
                continue
            data = inputs.read(path) or b""  # the inputs name files they have
            intents.append(repo.parse_intent(data, path))
        except GitrotError as exc:
            findings.append(Finding.from_error(exc.at(path)))
            continue
        texts[path] = data
    return intents, texts
