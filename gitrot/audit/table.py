"""The ledger as table cells, pure (docs/audit.md): what ``gitrot audit --format table``
draws with rich on a terminal (:func:`gitrot.ui.table`; the plain-text table is
:mod:`gitrot.audit.render`'s).

One row per version; times in UTC to the minute; commits shortened to 12 characters;
each row's style says what an auditor looks at first: a signature that is not good or a
version never applied (red), an emergency (yellow).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from gitrot.audit.model import GOOD, UNCHECKED, LedgerRow

COLUMNS = (
    "secret",
    "version",
    "requested by",
    "reason",
    "emergency",
    "approved by",
    "merged",
    "applied",
    "told",
    "signatures",
)


def cells(rows: Sequence[LedgerRow]) -> tuple[list[list[str]], list[str]]:
    """``(cells, styles)``: the cells of each row (:data:`COLUMNS`) and its rich style."""
    table, styles = [], []
    for row in sorted(rows, key=lambda r: (r.secret, r.version)):
        signatures = [
            f"{commit[:12]} {sig.status}" + (f" ({sig.signer})" if sig.signer else "")
            for commit, sig in sorted(row.signatures.items())
        ]
        not_good = any(s.status not in (GOOD, UNCHECKED) for s in row.signatures.values())
        told = [f"{d.trigger} {'ok' if d.ok else 'failed'}" for d in row.deliveries]
        table.append(
            [
                row.secret,
                f"v{row.version}",
                row.author,
                row.reason,
                "yes" if row.emergency else "no",
                "\n".join(f"{a.who} ({a.how})" for a in row.approvals) or "-",
                when(row.merged_at),
                when(row.applied_at, "not applied"),
                "\n".join(told) or "-",
                "\n".join(signatures) or "-",
            ]
        )
        styles.append(
            "red" if not_good or row.applied_at is None else "yellow" if row.emergency else ""
        )
    return table, styles


def when(at: int | None, missing: str = "-") -> str:
    """``YYYY-MM-DD HH:MM`` (UTC) of epoch seconds, or ``missing``."""
    if at is None:
        return missing
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M")
