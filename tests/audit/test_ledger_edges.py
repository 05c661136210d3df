"""The ledger's edges on a real history (tests/audit/histories.py): a commit that touches
no intent, an edit that keeps the version (a reason reworded), a renamed intent (it keeps
its version: no new row), notes with malformed fields, on commits off main, and with a
time but no ``written_at``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from gitrot.audit.history import read_history
from gitrot.audit.ledger import build_ledger
from gitrot.git.repository import open_repo
from tests.audit.histories import BOB, History

DB, KEY = "payments/db", "search/key"


def rows_of(history: History) -> list[tuple[str, int, str]]:
    rows = build_ledger(read_history(open_repo(str(history.root)), "main"))
    return [(r.secret, r.version, r.path) for r in rows]


def test_unrelated_commits_reason_edits_and_renames_add_no_row(tmp_path: Path) -> None:
    history = History.create(tmp_path)
    (history.root / "README.md").write_text("# policy\n")
    history.git("add", "README.md")
    history.git("commit", "-q", "--no-verify", "-m", "Docs", who=BOB)
    intent = history.root / "secrets" / f"{DB}.yaml"
    intent.write_text(intent.read_text().replace("reason: Initial version", "reason: Initial"))
    history.git("commit", "-q", "--no-verify", "-am", "Reword a reason", who=BOB)
    history.rotate(DB, "CHG-1 quarterly rotation", who=BOB)
    before = rows_of(history)
    assert [(s, v) for s, v, _ in before] == [(DB, 1), (KEY, 1), (DB, 2)]

    moved = history.root / "secrets" / "search" / "key2.yaml"
    history.git("mv", f"secrets/{KEY}.yaml", str(moved.relative_to(history.root)))
    moved.write_text(moved.read_text().replace("name: search/key", "name: search/key2"))
    history.git("commit", "-q", "--no-verify", "-am", "Rename search/key", who=BOB)
    assert rows_of(history) == before  # the renamed intent keeps its version: no new row


def test_notes_with_malformed_fields_and_notes_off_main_are_read_safely(tmp_path: Path) -> None:
    history = History.create(tmp_path)
    history.reconcile()
    head = history.head()
    note = json.loads(history.git("notes", "--ref", "gitrot", "show", head))
    applied = note["applied"][0]
    malformed = {
        **note,
        "finished_at": "2026-01-02T03:04:05Z",
        "applied": [
            {**applied, "written_at": "not a time"},  # falls back to the note's time
            {"name": 7, "version": "x"},  # not a record: skipped
            "junk",
        ],
        "deliveries": [{"name": applied["name"], "version": applied["version"], "ok": "yes"}],
    }
    history.git("notes", "--ref", "gitrot", "add", "-f", "-m", json.dumps(malformed), head)
    history.branch("side")
    history.git("commit", "--allow-empty", "-q", "--no-verify", "-m", "Off main", who=BOB)
    off_main = history.head()
    history.git("notes", "--ref", "gitrot", "add", "-m", json.dumps(note), off_main)
    history.checkout("main")

    rows = build_ledger(read_history(open_repo(str(history.root)), "main"))
    row = next(r for r in rows if (r.secret, r.version) == (applied["name"], applied["version"]))
    when = int(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())
    assert row.applied_at == when and row.applied_commit == head
    [told] = row.deliveries
    assert (told.trigger, told.ok, told.at, told.delivery_id) == ("", False, 0, "")
    assert all(r.applied_commit != off_main for r in rows)
