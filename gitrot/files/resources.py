"""Files shipped inside the package: JSON schemas and the built-in policy pack.

A pre-commit hook runs gitrot from an installed copy, never from a checkout, so these are
read through importlib.resources (which also works from a zipped wheel).
"""

from __future__ import annotations

from importlib import resources


def schema_text(name: str) -> str:
    """The text of ``gitrot/schemas/<name>`` (e.g. ``sarif-schema-2.1.0.json``)."""
    return resources.files("gitrot").joinpath("schemas", name).read_text(encoding="utf-8")


#: where ``gitrot init`` writes the schemas of gitrot's documents in a policy repository
#: (committed with it), and which ones: the ``# yaml-language-server: $schema=`` line of
#: each document points there by a path relative to the document, so editors and
#: check-jsonschema find them offline
SCHEMA_DIR = "schemas"
DOCUMENT_SCHEMAS = ("config", "intent", "sealed", "waivers")


def schema_uri(name: str) -> str:
    """The ``$id`` of a shipped schema: ``schema_uri("intent")`` is
    ``urn:gitrot:schema:intent:v1``, a name that no tool tries to fetch (the documents point
    at the copy in the repository, :func:`schema_ref`)."""
    return f"urn:gitrot:schema:{name}:v1"


def schema_ref(name: str, document: str) -> str:
    """The path from the repository file ``document`` (relative to the policy repository,
    ``/``-separated) to the schema ``name`` that ``gitrot init`` writes:
    ``schema_ref("intent", "secrets/payments/db.yaml")`` is
    ``../../schemas/intent.schema.json``."""
    return "../" * document.count("/") + f"{SCHEMA_DIR}/{name}.schema.json"


def schema_line(name: str, document: str) -> str:
    """The ``yaml-language-server`` modeline of ``document`` (without its ``#``)."""
    return f" yaml-language-server: $schema={schema_ref(name, document)}"


def policy_names() -> list[str]:
    """The files of the built-in rule pack, sorted."""
    folder = resources.files("gitrot").joinpath("policies")
    return sorted(entry.name for entry in folder.iterdir() if entry.is_file())
