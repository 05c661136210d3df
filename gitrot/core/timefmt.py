"""Timestamps as gitrot writes them: RFC 3339 in UTC, whole seconds (``2025-01-31T12:00:00Z``).

Pure: the time is always passed in, never read from the clock."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(now: datetime) -> str:
    """``2025-01-31T12:00:00Z`` (UTC, whole seconds); ValueError for a naive ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_epoch(seconds: int) -> str:
    """:func:`rfc3339` of a time in epoch seconds."""
    return rfc3339(datetime.fromtimestamp(seconds, UTC))
