"""``gitrot audit`` through the real CLI (a child process): each format, the filters, the
exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.audit.histories import BOB, History

DB, KEY = "payments/db", "search/key"


@pytest.fixture
def history(tmp_path: Path) -> History:
    history = History.create(tmp_path)
    history.reconcile()
    history.branch("f1")
    history.rotate(DB, "CHG-1 quarterly rotation", who=BOB)
    history.merge("f1", "Merge f1\n\nApproved-by: Frank")
    history.reconcile()
    history.rotate(KEY, "CHG-2 rotated on main, never reconciled")
    return history


def _ok(history: History, *args: str) -> str:
    done = history.audit(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_json_has_the_period_rows_compliance_and_problems(history: History) -> None:
    document = json.loads(_ok(history, "--format", "json"))
    assert set(document) == {"period", "rows", "compliance", "problems"}
    assert document["period"] == {"since": None, "until": None, "main": "main"}
    rows = [(r["secret"], r["version"]) for r in document["rows"]]
    assert rows == [(DB, 1), (KEY, 1), (DB, 2), (KEY, 2)]
    db2 = document["rows"][2]
    assert db2["approvals"][0] == {
        "who": "Frank",
        "how": "Approved-by",
        "commit": db2["merge_commit"],
    }
    assert db2["applied_at"] >= db2["merged_at"] and db2["backend_id"]
    assert document["rows"][3]["applied_at"] is None
    assert set(document["compliance"]) == {DB, KEY} and document["problems"] == []


def test_csv_markdown_table_and_html(history: History, tmp_path: Path) -> None:
    table = list(csv.DictReader(io.StringIO(_ok(history, "--format", "csv"))))
    assert [r["secret"] for r in table] == [DB, KEY, DB, KEY]
    assert table[2]["approvals"] == "Frank (Approved-by); Carol Lead <carol@example.com> (merge)"
    assert table[2]["merged_at"].endswith("Z") and table[3]["applied_at"] == ""
    markdown = _ok(history, "--format", "markdown").splitlines()
    assert markdown[0].startswith("| secret | version |") and len(markdown) == 6
    text = _ok(history, "--format", "table")
    assert "CHG-1 quarterly rotation" in text and "not applied" in text
    out = tmp_path / "audit.html"
    assert _ok(history, "--format", "html", "--output", str(out)) == ""
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_filters(history: History) -> None:
    def secrets(*args: str) -> list[tuple[str, int]]:
        rows = json.loads(_ok(history, "--format", "json", *args))["rows"]
        return [(r["secret"], r["version"]) for r in rows]

    assert secrets("--secret", "payments/*") == [(DB, 1), (DB, 2)]
    assert secrets("--environment", "dev") == [(KEY, 1), (KEY, 2)]
    assert secrets("--since", "2023-11-15") == [(DB, 2), (KEY, 2)]
    assert secrets("--until", "2023-11-14T23:00:00Z") == [(DB, 1), (KEY, 1)]


def test_verify_exits_1_with_one_line_per_problem(history: History) -> None:
    done = history.audit("--verify", "--secret", KEY, "--format", "json")
    assert done.returncode == 1
    checks = {p["check"] for p in json.loads(done.stdout)["problems"]}
    assert "merged-not-applied" in checks
    assert "gitrot: merged-not-applied: search/key v2" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since 'yesterday' is not a date"),
        (["--since", "2024-02-01", "--until", "2024-01-01"], "--since is after --until"),
        (["--main", "trunk"], "--main 'trunk' names no commit"),
        (["--allowed-signers", "missing-file"], "cannot read the allowed signers file"),
    ],
)
def test_bad_input_exits_2_with_one_line(history: History, args: list[str], message: str) -> None:
    done = history.audit(*args)
    assert done.returncode == 2 and message in done.stderr and done.stdout == ""
    assert len([line for line in done.stderr.splitlines() if line.startswith("gitrot")]) == 1
