"""``rotator-shared``: one rotator serves one secret (docs/rotators.md).

An intent's ``spec.source.rotator`` names a rotator of gitrot.yaml, whose options (the
database role, the command) live there alone. Two intents naming one rotator would set one
credential at its source from two secrets, and a change could take over the source of a
secret it does not own by naming that secret's rotator: so an intent is refused when an
intent it does not precede (by path) names the same rotator, or one the change does not
judge does (an established secret keeps its rotator; the newcomer is refused). The other
intents of the judged side are read only when a judged intent names a rotator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitrot.core.findings import Finding, Severity
from gitrot.errors import GitrotError
from gitrot.files import repo

if TYPE_CHECKING:
    from gitrot.core.models import RotationIntent
    from gitrot.judge.inputs import Inputs

SHARED = "rotator-shared"
FIELD = "spec.source.rotator"


def shared_rotators(intents: list[RotationIntent], inputs: Inputs) -> list[Finding]:
    """A finding at ``spec.source.rotator`` of each judged intent whose rotator another
    intent of the judged side claims first (see the module)."""
    named = [intent for intent in intents if intent.rotator is not None]
    if not named:
        return []
    judged = {intent.path: intent for intent in intents}
    claims: dict[str, list[str]] = {}  # rotator: the paths naming it, sorted
    for path in sorted({*_paths(inputs), *judged}):
        rotator = judged[path].rotator if path in judged else _rotator_of(inputs, path)
        if rotator is not None:
            claims.setdefault(rotator, []).append(path)
    found = []
    for intent in named:
        assert intent.rotator is not None  # noqa: S101 - named above
        first = [p for p in claims[intent.rotator] if p < intent.path or p not in judged]
        if not first:
            continue
        line, column = intent.position(FIELD)
        found.append(
            Finding(
                SHARED,
                Severity.ERROR,
                intent.path,
                line,
                column,
                f"{FIELD} {intent.rotator!r} is the source of {first[0]} already: a "
                "rotator's source belongs to one secret",
                hint=f"declare a rotator of its own for {intent.name} under rotators in "
                "gitrot.yaml (its own role or account), and name it here",
            )
        )
    return found


def _paths(inputs: Inputs) -> list[str]:
    try:
        return inputs.intent_paths()
    except GitrotError:  # a symbolic link out of the repository: the loader reports it
        return []


def _rotator_of(inputs: Inputs, path: str) -> str | None:
    """The rotator an intent the change does not judge names (None: none, or it does not
    load: its own check says why)."""
    try:
        data = inputs.read(path)
        return None if data is None else repo.parse_intent(data, path).rotator
    except GitrotError:
        return None
