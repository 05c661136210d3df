"""A small audit for the html report's tests: three secrets over 2024, with a gap, an
emergency rotation and signatures of several statuses, judged by the real compliance."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gitrot.audit.compliance import SecretCompliance, assess
from gitrot.audit.model import (
    BAD,
    GOOD,
    UNSIGNED,
    Approval,
    Delivery,
    LedgerRow,
    Problem,
    Signature,
)

DAY = 86400
SINCE = 1704067200  # 2024-01-01
UNTIL = SINCE + 366 * DAY  # 2025-01-01


@dataclass(frozen=True)
class Klass:
    max_age: int | None


CLASSES = {"database-password": Klass(90 * DAY), "api-key": Klass(180 * DAY)}


def row(
    secret: str,
    version: int,
    day: int,
    *,
    reason: str = "Quarterly rotation",
    author: str = "Alice <alice@example.com>",
    emergency: bool = False,
    klass: str = "database-password",
    applied: bool = True,
    signature: str = GOOD,
) -> LedgerRow:
    at = SINCE + day * DAY
    commit = hashlib.sha256(f"{secret} {version}".encode()).hexdigest()[:40]
    return LedgerRow(
        secret=secret,
        version=version,
        path=f"secrets/{secret}.yaml",
        commit=commit,
        author=author,
        authored_at=at - 3600,
        reason=reason,
        emergency=emergency,
        rotation_class=klass,
        approvals=[Approval("Bob <bob@example.com>", "Approved-by", commit)],
        merge_commit=commit,
        merged_at=at,
        applied_at=at + 600 if applied else None,
        applied_commit=commit if applied else None,
        backend="local",
        backend_id=f"v{version}" if applied else None,
        deliveries=[Delivery("payments-api", True, at + 700, f"d-{version}")] if applied else [],
        signatures={commit: Signature(signature, "ssh" if signature != UNSIGNED else "")},
    )


def rows() -> list[LedgerRow]:
    return [
        row("payments/db-password", 1, -30),
        row("payments/db-password", 2, 60),
        row("payments/db-password", 3, 200, emergency=True, reason="Leaked in a log"),
        row("payments/db-password", 4, 230, signature=UNSIGNED),
        row("search/api-key", 1, 10, klass="api-key"),
        row("search/api-key", 2, 150, klass="api-key", signature=BAD),
        row("billing/token", 1, 5, applied=False),
    ]


def compliance(ledger: list[LedgerRow]) -> dict[str, SecretCompliance]:
    by_secret: dict[str, list[LedgerRow]] = {}
    for item in ledger:
        by_secret.setdefault(item.secret, []).append(item)
    return assess(by_secret, CLASSES, since=SINCE, until=UNTIL)


def problems() -> list[Problem]:
    return [
        Problem(
            "over-max-age", "payments/db-password was over its max age", "payments/db-password"
        ),
        Problem("merged-not-applied", "billing/token v1 merged, never applied", "billing/token", 1),
    ]


META = {"since": SINCE, "until": UNTIL, "generated_at": UNTIL, "main": "main", "version": "0.1.0"}
