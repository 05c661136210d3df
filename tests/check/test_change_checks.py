"""``gitrot check`` on the change checks' edges (:mod:`gitrot.judge.changes`): a sealed
value replaced by something that is no SOPS document or under other sops settings, keys at
hand that cannot tell, and a move without the PR's facts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.check.conftest import DAY, DB, HOUR, MAINTAINER, PolicyRepo, ids, intent_path
from tests.check.test_sops_habits import keyed
from tests.conftest import make_key

INTENT = intent_path(DB)
SEALED_V2 = f"secrets/{DB}.v2.sealed.yaml"
VALUE = "vendor-pass-77c0de"  # made up for the test  gitrot: allow test value


@pytest.fixture
def sealed(policy: PolicyRepo) -> PolicyRepo:
    """``main`` with version 2 sealed; ``pr`` branches there."""
    policy.rotate(DB, reason="Vendor issued a new password", value=VALUE)
    policy.commit("Seal the vendor's password", ago=10 * DAY, author=MAINTAINER)
    policy.branch("pr")
    return policy


def test_a_sealed_value_replaced_by_text_that_is_no_sops_document_is_a_modification(
    sealed: PolicyRepo,
) -> None:
    sealed.write(SEALED_V2, "value: typed in by hand\n")
    sealed.commit("Replace the sealed value", ago=HOUR)
    code, found = sealed.check()
    assert code == 1 and "sealed-immutable" in ids(found)
    immutable = next(f for f in found if f["rule_id"] == "sealed-immutable")
    assert (immutable["file"], immutable["line"]) == (SEALED_V2, 1)
    assert immutable["message"] == (
        f"the change modifies {SEALED_V2}, a committed sealed value: its version may "
        "already be applied"
    )
    assert immutable["hint"].endswith("gitrot rotate NAME --value-stdin")


def test_a_sealed_value_under_other_sops_settings_is_a_modification(
    sealed: PolicyRepo,
) -> None:
    """The value's ciphertext is the same, but what sops reads it with is not."""
    text = sealed.read(SEALED_V2)
    assert text.count("    version: 3.11.0\n") == 1
    sealed.write(SEALED_V2, text.replace("    version: 3.11.0\n", "    version: 3.9.0\n"))
    sealed.commit("Claim another sops version", ago=HOUR)
    code, found = sealed.check()
    assert code == 1 and ids(found) == ["sealed-immutable"]
    assert found[0]["message"].startswith(f"the change modifies {SEALED_V2}")


def test_a_key_at_hand_that_opens_nothing_is_no_key(
    policy: PolicyRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy.branch("pr")
    keyed(policy, "rekey", INTENT)
    policy.commit("Re-encrypt the intent under a new data key", ago=HOUR)
    shutil.move(policy.policy / ".gitrot" / "reconciler.key", tmp_path / "reconciler.key")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(make_key(tmp_path, "stranger.txt").path))
    code, found = policy.check()
    assert code == 0 and ids(found) == ["ref-reencrypted"]
    assert (found[0]["file"], found[0]["line"], found[0]["severity"]) == (INTENT, 15, "warning")


def test_a_reconciler_key_that_is_a_symbolic_link_is_not_followed(
    policy: PolicyRepo, tmp_path: Path
) -> None:
    """The check reads .gitrot/reconciler.key only as a regular file of the checkout: a
    link the change could point anywhere is not opened."""
    policy.branch("pr")
    keyed(policy, "rekey", INTENT)
    policy.commit("Re-encrypt the intent under a new data key", ago=HOUR)
    key = policy.policy / ".gitrot" / "reconciler.key"
    shutil.move(key, tmp_path / "reconciler.key")
    os.symlink(tmp_path / "reconciler.key", key)
    code, found = policy.check()
    assert code == 0 and ids(found) == ["ref-reencrypted"]


def test_a_move_without_the_pull_requests_facts_says_how_to_give_them(
    policy: PolicyRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITROT_PR_AUTHOR")
    monkeypatch.delenv("GITROT_PR_APPROVALS")
    policy.govern()
    policy.commit("Name the policy owners", ago=DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.edit(INTENT, "    class: database-password\n", "    class: api-key\n")
    policy.commit("Treat the password as an api key", ago=HOUR)
    code, found = policy.check()
    moved = next(f for f in found if f["rule_id"] == "class-changed")
    assert code == 1 and moved["severity"] == "error"
    assert moved["message"] == (
        "metadata.class changed from database-password to api-key: the intent is judged "
        "by the rules of both"
    )
    assert "GITROT_PR_AUTHOR" in moved["hint"]


def test_deleting_an_intent_whose_last_version_does_not_load_is_refused(
    policy: PolicyRepo,
) -> None:
    """A base file that does not load cannot show ``retired: true``: not retired."""
    policy.write(INTENT, policy.read(INTENT).replace("kind: RotationIntent", "kind: Nope"))
    policy.write("secrets/README.md", "Intents live here.\n")
    policy.commit("Break the intent (a direct push)", ago=DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.delete(INTENT)
    # a text file beside the intents is modified: it has no recipients to lose
    policy.write("secrets/README.md", "Intents and sealed values live here.\n")
    policy.commit("Delete the broken intent, describe the folder", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["intent-deleted"]
    assert (found[0]["file"], found[0]["line"]) == (INTENT, 0)
    assert found[0]["message"] == (
        "the change deletes an intent that was not retired: its secret would be left unmanaged"
    )
