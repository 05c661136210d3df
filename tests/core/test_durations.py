from __future__ import annotations

import pytest

from gitrot.core.durations import DAY, HOUR, MINUTE, WEEK, YEAR, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90d", 90 * DAY),
        ("12h", 12 * HOUR),
        ("30m", 30 * MINUTE),
        ("2w", 2 * WEEK),
        ("1y", 365 * DAY),
        ("1d12h", DAY + 12 * HOUR),
        ("1y2w3d4h5m6s", YEAR + 2 * WEEK + 3 * DAY + 4 * HOUR + 5 * MINUTE + 6),
        ("0d", 0),
        ("45s", 45),
    ],
)
def test_parse(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        "90",
        "90x",
        "d",
        "1.5d",
        "-1d",
        "1d 12h",
        "12h1d",
        "1d1d",
        "1D",
        " 1d",
        "1d ",
        "9999999y",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|longer"):
        parse_duration(text)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(ValueError):
        parse_duration(90)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(90 * DAY, "90d"), (DAY + 12 * HOUR, "1d12h"), (365 * DAY, "365d"), (0, "0s"), (61, "1m1s")],
)
def test_format(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", [-1, True, 1.5])
def test_format_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        format_duration(bad)  # type: ignore[arg-type]


def test_round_trip() -> None:
    for seconds in (1, 59, 3600, 86399, 86400 * 400 + 7):
        assert parse_duration(format_duration(seconds)) == seconds
