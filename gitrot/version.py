"""gitrot's own version, as the installed distribution's metadata says.

``importlib.metadata`` costs 60-100 ms to import, so it is loaded only when the version is
asked for (a report's ``tool_version``, a webhook's ``User-Agent``)."""

from __future__ import annotations

UNKNOWN = "0+unknown"


def installed_version() -> str:
    """The version of the installed ``gitrot`` distribution; ``0+unknown`` when it is not
    installed (run from a source tree)."""
    from importlib import metadata

    try:
        return metadata.version("gitrot")
    except metadata.PackageNotFoundError:
        return UNKNOWN
