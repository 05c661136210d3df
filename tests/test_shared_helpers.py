"""The helpers every layer shares: RFC 3339 stamps (core/timefmt), gitrot's installed version
(version.py) and the entry-point reader (plugins.py; tests/policy/test_plugins.py reads a
real dist-info)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from importlib import metadata

import pytest

from gitrot import plugins, version
from gitrot.core.timefmt import rfc3339, rfc3339_epoch


def test_rfc3339_is_utc_whole_seconds_and_refuses_a_naive_time() -> None:
    east = timezone(timedelta(hours=2))
    assert rfc3339(datetime(2025, 1, 31, 14, 0, 5, 999, tzinfo=east)) == "2025-01-31T12:00:05Z"
    assert rfc3339_epoch(0) == "1970-01-01T00:00:00Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        rfc3339(datetime(2025, 1, 31, 12))
    assert rfc3339(datetime(2025, 1, 31, 12, tzinfo=UTC)) == "2025-01-31T12:00:00Z"


def test_the_installed_version_is_the_distributions_or_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert version.installed_version() == metadata.version("gitrot")

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert version.installed_version() == version.UNKNOWN == "0+unknown"


def test_an_entry_points_section_keeps_its_entries_and_drops_extras() -> None:
    text = (
        "# a comment\n[console_scripts]\ngitrot = gitrot.main:run\n\n"
        "[gitrot.backends]\n; another comment\nconsul = acme.consul:Backend [vault]\n"
        "broken line\n[gitrot.triggers]\npager = acme.pager:Pager\n"
    )
    assert plugins.section(text, "[gitrot.backends]") == [("consul", "acme.consul:Backend")]
    assert plugins.section(text, "[gitrot.rules]") == []
    assert plugins.GROUPS == (
        "gitrot.rules",
        "gitrot.backends",
        "gitrot.triggers",
        "gitrot.rotators",
    )
    assert plugins.load_target("gitrot.plugins:section") is plugins.section
    assert plugins.load_target("gitrot.plugins") is plugins
