"""The ledger's signature check (:func:`gitrot.audit.ledger.signature_check`) on many
commits: two threads, the same verdicts as one :func:`check_commits` call, raw commits
served from what the history read, bad input raised from either thread."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from gitrot.audit import ledger
from gitrot.audit.history import History
from gitrot.audit.model import GOOD, UNCHECKED
from gitrot.audit.signatures import check_commits
from gitrot.errors import InputError
from gitrot.git.repository import open_repo
from tests.audit.histories import ALICE

COUNT = 12


@pytest.fixture
def signed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[History, str, list[str]]:
    from tests.audit.signing import signed_history

    public, ids = signed_history(tmp_path / "repo.git", COUNT)
    monkeypatch.setattr(ledger, "PARALLEL_MIN", 4)  # threads from 4 commits on
    history = History(repo=open_repo(tmp_path / "repo.git"), main="main", tip=ids[-1])
    return history, public, ids


def test_two_threads_give_the_verdicts_of_one_call(
    signed: tuple[History, str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    history, public, ids = signed
    started: list[str] = []
    thread = threading.Thread

    def spy(*args: Any, **kwargs: Any) -> threading.Thread:
        started.append(kwargs["name"])
        return thread(*args, **kwargs)

    monkeypatch.setattr(ledger.threading, "Thread", spy)
    for commit in ids[: COUNT // 2]:
        history.commit(commit)  # half served from memory, half read from the repository
    allowed = f"{ALICE[1]} {public}\n"
    for text, status in ((None, UNCHECKED), (allowed, GOOD)):
        found = ledger.signature_check(text, "allowed")(history, ids, {})
        assert list(found) == ids  # the first half, then the second thread's
        assert {s.status for s in found.values()} == {status}
        alone = check_commits(history.repo, ids, allowed_signers=text, trusted_times={})
        assert found == alone
    assert started == ["gitrot-signatures"] * 2
    ledger.signature_check(None, "allowed")(history, ids[:3], {})  # below PARALLEL_MIN
    assert len(started) == 2


def test_a_malformed_allowed_signers_file_is_bad_input_with_threads_or_without(
    signed: tuple[History, str, list[str]],
) -> None:
    history, _, ids = signed
    check = ledger.signature_check("alice@example.com not-a-key\n", "allowed")
    with pytest.raises(InputError, match="allowed"):
        check(history, ids, {})
    with pytest.raises(InputError, match="allowed"):
        check(history, ids[:3], {})
