"""The facts the rules see about an intent's change, and the input document's guards."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gitrot.files.repo import parse_config, parse_intent
from gitrot.policy.facts import compare
from gitrot.policy.input import Facts, input_document
from tests.intents import config_text, intent_text

NOW = datetime(2025, 1, 31, 12, tzinfo=UTC)
PATH = "secrets/payments/db.yaml"


def test_an_intent_repairing_a_broken_file_is_judged_without_a_base() -> None:
    """The older file does not load: the change is a modification whose base is unknown,
    so version-step has nothing to compare with and no rotation is assumed."""
    now = intent_text("payments/db", 2).encode()
    intent = parse_intent(now, PATH)
    facts = compare(intent, now, b"apiVersion: gitrot/v1\nkind: RotationIntent\nspec: [\n")
    assert (facts.status, facts.base) == ("modified", None)
    document = input_document(intent, parse_config(config_text(), "gitrot.yaml"), now=NOW,
                              facts=facts, context="pr")  # fmt: skip
    assert document["base"] is None
    assert document["change"] == {"status": "modified", "rotation": False}
    assert document["history"] == {"rotated_at": None, "previous_rotated_at": None}


def test_an_unchanged_intent_is_its_own_base() -> None:
    now = intent_text("payments/db", 2).encode()
    intent = parse_intent(now, PATH)
    facts = compare(intent, now, now, rotated_at=0)
    assert (facts.status, facts.base, facts.base_rotated_at) == ("unchanged", intent, 0)


def test_a_change_status_outside_the_schema_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown change status 'deleted'"):
        Facts(status="deleted")


def test_a_context_outside_the_schema_is_refused() -> None:
    intent = parse_intent(intent_text("payments/db", 2), PATH)
    config = parse_config(config_text(), "gitrot.yaml")
    with pytest.raises(ValueError, match="unknown context 'nightly'"):
        input_document(intent, config, now=NOW, context="nightly")
