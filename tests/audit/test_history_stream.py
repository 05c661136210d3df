""":func:`gitrot.audit.history.read_history` reads git's output as it comes: records cut
anywhere between chunks give the same history as one chunk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitrot.audit import history as history_module
from gitrot.audit.history import read_history
from gitrot.audit.ledger import build_ledger
from gitrot.git.process import GitStream
from gitrot.git.repository import open_repo
from tests.audit.histories import BOB, History

DB, KEY = "payments/db", "search/key"


def test_records_cut_at_every_size_read_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = History.create(tmp_path)
    story.branch("f1")
    story.rotate(DB, "CHG-1 quarterly rotation", who=BOB)
    story.rotate(KEY, "CHG-2 the key too", who=BOB)
    story.merge("f1", "Merge f1\n\nApproved-by: Frank")
    story.rotate(DB, "CHG-3 on main")
    repo = open_repo(story.root)
    whole = read_history(repo, "main")
    expected = [r.as_dict() for r in build_ledger(whole)]
    assert [(r["secret"], r["version"]) for r in expected] == [
        (DB, 1),
        (KEY, 1),
        (DB, 2),
        (KEY, 2),
        (DB, 3),
    ]
    for size in (1, 2, 7, 41, 97):
        monkeypatch.setattr(history_module, "GitStream", _cut(size))
        cut = read_history(repo, "main")
        assert (cut.parents, cut.changes, cut.order) == (whole.parents, whole.changes, whole.order)
        assert [r.as_dict() for r in build_ledger(cut)] == expected


def _cut(size: int) -> type[GitStream]:
    """A GitStream whose output comes in chunks of ``size`` bytes."""

    class Cut(GitStream):
        def chunks(self) -> Iterator[bytes]:
            data = b"".join(super().chunks())
            for at in range(0, len(data), size):
                yield data[at : at + size]

    return Cut
