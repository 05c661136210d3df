"""The ``$schema`` lines gitrot writes resolve offline: ``gitrot init`` commits the schemas
into the policy repository (``schemas/``) and every document points there by a path
relative to itself, as yaml-language-server resolves a modeline; the ``$id``s are URNs
that no tool tries to fetch."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitrot.codec.tree import to_plain
from gitrot.codec.yaml_parse import parse
from gitrot.files import resources

MODELINE = "# yaml-language-server: $schema="
CHECK_JSONSCHEMA = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))


@pytest.fixture
def made(gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A policy repository with an intent two folders deep and a sealed value."""
    root = tmp_path / "policy"
    assert gitrot("init", str(root)).code == 0
    monkeypatch.chdir(root)
    new = gitrot(
        "new", "payments/eu/db-password", "--backend", "local", "--ref", "payments/db",
        "--owner", "team-a", "--class", "database-password",
    )  # fmt: skip
    assert new.code == 0, new.err
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"vendor-issued-9f2c")))
    sealed = gitrot(
        "rotate", "payments/eu/db-password", "--reason", "Vendor issued it", "--value-stdin"
    )
    assert sealed.code == 0, sealed.err
    return root


DOCUMENTS = {
    "gitrot.yaml": "config",
    "waivers.yaml": "waivers",
    "secrets/payments/eu/db-password.yaml": "intent",
    "secrets/payments/eu/db-password.v2.sealed.yaml": "sealed",
}


def schema_of(root: Path, rel: str) -> Path:
    first = (root / rel).read_text().splitlines()[0]
    assert first.startswith(MODELINE), (rel, first)
    target = first[len(MODELINE) :]
    assert "://" not in target and not target.startswith("/")  # relative, offline
    return ((root / rel).parent / target).resolve()


@pytest.mark.parametrize("rel", sorted(DOCUMENTS))
def test_every_document_points_at_its_schema_in_the_repository(made: Path, rel: str) -> None:
    import jsonschema

    path = schema_of(made, rel)
    assert path == (made / "schemas" / f"{DOCUMENTS[rel]}.schema.json").resolve()
    schema = json.loads(path.read_text())
    assert schema["$id"] == resources.schema_uri(DOCUMENTS[rel])
    assert schema["$id"].startswith("urn:gitrot:schema:")
    assert path.read_text() == resources.schema_text(f"{DOCUMENTS[rel]}.schema.json")
    document = to_plain(parse((made / rel).read_text())[0])
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(document)) == []
    if CHECK_JSONSCHEMA is not None:  # the CLI editors' CI uses, offline
        run = subprocess.run(
            [CHECK_JSONSCHEMA, "--schemafile", str(path), str(made / rel)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stdout + run.stderr


def test_the_schemas_are_committed_and_nothing_points_at_a_host(gitrot, made: Path) -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "schemas/intent.schema.json"], cwd=made, check=False
    )
    assert ignored.returncode == 1  # not ignored: they are committed with the repository
    for path in made.rglob("*"):
        if path.is_file() and ".git" not in path.relative_to(made).parts:
            assert "gitrot.dev" not in path.read_text(errors="replace"), path
    assert gitrot("validate").code == 0
    assert gitrot("scan", *(str(p) for p in (made / "schemas").iterdir())).code == 0


def test_init_again_keeps_the_schemas(gitrot, made: Path) -> None:
    path = made / "schemas" / "intent.schema.json"
    path.write_text(path.read_text() + "\n")  # an older copy, say
    assert gitrot("init", str(made)).code == 0
    assert path.read_text().endswith("}\n\n")
    path.unlink()
    again = gitrot("init", str(made))
    assert again.code == 0 and "created schemas/intent.schema.json" in again.err
