"""``gitrot.audit.table``: the ledger's cells for the table rich draws on a terminal."""

from __future__ import annotations

from gitrot import ui
from gitrot.audit.table import COLUMNS, cells
from tests.audit import html_sample as sample


def test_one_row_per_version_sorted_with_its_style() -> None:
    table, styles = cells(list(reversed(sample.rows())))
    assert [(row[0], row[1]) for row in table] == [
        ("billing/token", "v1"),
        ("payments/db-password", "v1"),
        ("payments/db-password", "v2"),
        ("payments/db-password", "v3"),
        ("payments/db-password", "v4"),
        ("search/api-key", "v1"),
        ("search/api-key", "v2"),
    ]
    assert all(len(row) == len(COLUMNS) for row in table)
    # never applied, emergency, unsigned, bad signature: what an auditor looks at first
    assert styles == ["red", "", "", "yellow", "red", "", "red"]
    billing = table[0]
    assert billing[6] == "2024-01-06 00:00" and billing[7] == "not applied"
    assert billing[8] == "-" and billing[5] == "Bob <bob@example.com> (Approved-by)"
    emergency = table[3]
    assert emergency[3:5] == ["Leaked in a log", "yes"]
    assert emergency[8] == "payments-api ok"
    assert table[4][9].endswith(" unsigned") and table[6][9].endswith(" bad")


def test_drawn_by_rich_with_markup_from_git_as_text() -> None:
    rows = sample.rows()[:1]
    rows[0].reason = "[red]fine[/red] :warning:"
    table, styles = cells(rows)
    drawn = ui.render_table(COLUMNS, table, styles=styles, width=200, color=False)
    assert "[red]fine[/red] :warning:" in drawn
    assert drawn.splitlines()[0].split() == [
        "secret", "version", "requested", "by", "reason", "emergency", "approved", "by",
        "merged", "applied", "told", "signatures",
    ]  # fmt: skip
