"""The one place that writes to the terminal: data to stdout, people-facing text to stderr."""

from __future__ import annotations

import os
import sys


def data(text: str) -> None:
    """Machine-readable or requested output (a decrypted file, a recipient)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def info(text: str) -> None:
    sys.stderr.write(text + "\n")


def error(line: str, hint: str) -> None:
    """An error: one line, then one line of hint (README.md, "Exit codes and errors")."""
    sys.stderr.write(line + "\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")


def stdout_wants_color() -> bool:
    """Colours on stdout: only on a terminal, and never with ``NO_COLOR`` or ``TERM=dumb``."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdout
        return False
