"""Durations as policy files write them: ``90d``, ``12h``, ``30m``, ``2w``, ``1y``, ``1d12h``.

Units: ``y`` (365 days), ``w`` (7 days), ``d``, ``h``, ``m`` (minutes), ``s``. A duration is
one or more ``<digits><unit>`` parts, largest unit first, each unit at most once; no sign,
no spaces, no fractions. Values are whole seconds.
"""

from __future__ import annotations

import re

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
YEAR = 365 * DAY

UNITS = {"y": YEAR, "w": WEEK, "d": DAY, "h": HOUR, "m": MINUTE, "s": 1}
_FORMAT_UNITS = (("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", 1))
_DURATION = re.compile(
    r"(?:(\d{1,6})y)?(?:(\d{1,6})w)?(?:(\d{1,7})d)?(?:(\d{1,8})h)?(?:(\d{1,9})m)?(?:(\d{1,10})s)?"
)
MAX_SECONDS = 1000 * YEAR  # anything longer is a typo, not a policy


def parse_duration(text: str) -> int:
    """Seconds in ``text``; ValueError (with a message fit for users) if it is not a duration."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration like 90d, 12h or 1d12h")
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(
            f"{text!r} is not a duration like 90d, 12h or 1d12h (units: y, w, d, h, m, s)"
        )
    total = 0
    for digits, unit in zip(match.groups(), UNITS.values(), strict=True):
        if digits is not None:
            total += int(digits) * unit
    if total > MAX_SECONDS:
        raise ValueError(f"{text!r} is longer than 1000 years")
    return total


def format_duration(seconds: int) -> str:
    """The shortest text for ``seconds`` in days, hours, minutes, seconds: ``90d``, ``1d12h``.

    Weeks and years are not used, so ``parse_duration(format_duration(n)) == n`` and 90
    days read ``90d`` (not ``12w6d``). Zero is ``0s``; negative durations are a ValueError.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise ValueError(f"cannot format {seconds!r} as a duration")
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in _FORMAT_UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
