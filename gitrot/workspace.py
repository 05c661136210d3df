"""Finding the policy repository a command works on."""

from __future__ import annotations

import os

from gitrot.errors import InputError

CONFIG_FILE = "gitrot.yaml"


def find_root(start: str = ".") -> str:
    """The nearest directory at or above ``start`` that holds ``gitrot.yaml``."""
    current = os.path.abspath(start)
    while True:
        if os.path.isfile(os.path.join(current, CONFIG_FILE)):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            raise InputError(
                f"not in a gitrot repository (no {CONFIG_FILE} here or above)",
                where=os.path.abspath(start),
                hint="run 'gitrot init' to create one, or cd into your policy repository",
            )
        current = parent
