"""Files shipped inside the package: JSON schemas and the built-in policy pack.

A pre-commit hook runs gitrot from an installed copy, never from a checkout, so these are
read through importlib.resources (which also works from a zipped wheel).
"""

from __future__ import annotations

from importlib import resources


def schema_text(name: str) -> str:
    """The text of ``gitrot/schemas/<name>`` (e.g. ``sarif-schema-2.1.0.json``)."""
    return resources.files("gitrot").joinpath("schemas", name).read_text(encoding="utf-8")


def schema_uri(name: str) -> str:
    """The ``$id`` of a shipped schema: ``schema_uri("intent")`` is
    ``https://gitrot.dev/schemas/intent.schema.json`` (editors fetch help from it)."""
    return f"https://gitrot.dev/schemas/{name}.schema.json"


def policy_names() -> list[str]:
    """The files of the built-in rule pack, sorted."""
    folder = resources.files("gitrot").joinpath("policies")
    return sorted(entry.name for entry in folder.iterdir() if entry.is_file())
