"""The loader: good repositories load; every bad file is one clean, located error (exit 2)."""

from __future__ import annotations

import json
import os
import shutil
import time
import tracemalloc
from pathlib import Path

import pytest

from gitrot.core.models import GeneratedValue, SealedValue
from gitrot.errors import EXIT_INPUT, ConfigError, GitrotError, InputError
from gitrot.files import repo
from tests.conftest import FIXTURES

GOOD = FIXTURES / "good"
BAD = FIXTURES / "bad"
INTENT = "secrets/payments/db-password.yaml"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(GOOD, tmp_path, dirs_exist_ok=True)
    return tmp_path


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(root)): (path.stat().st_mtime_ns, path.stat().st_size)
        for path in root.rglob("*")
    }


def test_good_repository(root: Path) -> None:
    config = repo.load_config(root)
    assert sorted(config.backends) == ["aws-prod", "local", "vault-prod"]
    assert config.backends["vault-prod"].options["token_env"] == "VAULT_TOKEN"
    assert config.classes["database-password"].max_age == 90 * 86400
    assert config.triggers["ledger-worker"].options["argv"][0] == "make"  # type: ignore[index]
    assert config.freezes[0].start == "2026-12-20"
    assert repo.intent_files(root) == ["secrets/api/stripe-key.yaml", INTENT]
    stripe, payments = repo.load_intents(root)
    assert stripe.value == SealedValue("secrets/api/stripe-key.v2.sealed.yaml")
    assert payments.value == GeneratedValue(32, "A-Za-z0-9-_!#%")
    assert payments.labels == {"tier": "1"} and payments.environment == "prod"
    assert payments.consumers == ("payments-api", "ledger-worker")
    assert payments.ref.startswith("ENC[AES256_GCM,")
    assert payments.line_of("spec.version") == 12
    assert payments.position("spec.target.ref") == (17, 9)
    assert repo.load_intents_report(root) == ([stripe, payments], [])


def test_parse_from_text_and_bytes(root: Path) -> None:
    data = (root / INTENT).read_bytes()
    assert repo.parse_intent(data, INTENT) == repo.parse_intent(data.decode(), INTENT)
    assert repo.parse_config((root / "gitrot.yaml").read_bytes()) == repo.load_config(root)
    with pytest.raises(InputError, match="UTF-8"):
        repo.parse_intent(b"\xff" + data, INTENT)


def test_intent_files_skips_sealed_and_other_files(root: Path) -> None:
    (root / "secrets/api/stripe-key.v2.sealed.yaml").write_text("x: 1\n")
    (root / "secrets/notes.txt").write_text("hello\n")
    (root / "secrets/deep/er").mkdir(parents=True)
    (root / "secrets/deep/er/x.yaml").write_text("x: 1\n")
    assert repo.intent_files(root) == [
        "secrets/api/stripe-key.yaml",
        "secrets/deep/er/x.yaml",
        INTENT,
    ]
    assert repo.intent_files(root / "nowhere") == []


def test_symlinks_outside_the_repository_are_refused(
    root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "evil.yaml").write_text((root / INTENT).read_text())
    (root / "secrets/evil.yaml").symlink_to(outside / "evil.yaml")
    (root / "secrets/evil-dir").symlink_to(outside)
    (root / "secrets/inside.yaml").symlink_to(root / INTENT)
    with pytest.raises(InputError, match="outside the repository") as info:
        repo.intent_files(root)
    assert info.value.where == "secrets/evil-dir"
    with pytest.raises(InputError, match="outside the repository"):
        repo.load_intent(root, "secrets/evil.yaml")
    intents, errors = repo.load_intents_report(root)
    assert [e.where for e in errors] == [
        "secrets/evil-dir",
        "secrets/evil.yaml",
        "secrets/inside.yaml",
    ]
    assert "symbolic link" in errors[2].message  # inside the repo, but git holds a path
    assert [i.name for i in intents] == ["api/stripe-key", "payments/db-password"]


def test_load_intents_stops_at_the_first_error_the_report_collects_all(root: Path) -> None:
    shutil.copy(BAD / "version-zero.yaml", root / INTENT)
    shutil.copy(BAD / "plaintext-ref.yaml", root / "secrets/api/stripe-key.yaml")
    with pytest.raises(InputError) as info:
        repo.load_intents(root)
    assert info.value.where == "secrets/api/stripe-key.yaml"
    intents, errors = repo.load_intents_report(root)
    assert intents == []
    assert [(e.where, e.line) for e in errors] == [("secrets/api/stripe-key.yaml", 5), (INTENT, 12)]


def test_bad_intent_path(root: Path) -> None:
    for path in (
        "gitrot.yaml",
        "secrets/x.v1.sealed.yaml",
        "secrets/Upper.yaml",
        "secrets/../x.yaml",
    ):
        with pytest.raises(InputError):
            repo.load_intent(root, path)


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no gitrot\.yaml") as info:
        repo.load_config(tmp_path)
    assert "gitrot init" in info.value.hint


def test_two_mebibyte_file_is_refused_without_parsing(root: Path) -> None:
    (root / INTENT).write_text("a: " + "x" * (2 * 1024 * 1024) + "\n")
    (root / "gitrot.yaml").write_text("# " + "x" * (2 * 1024 * 1024) + "\n")
    with pytest.raises(InputError, match="larger than 1 MiB") as info:
        repo.load_intent(root, INTENT)
    assert info.value.render() == f"gitrot: error: the file is larger than 1 MiB ({INTENT})"
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        repo.load_config(root)
    with pytest.raises(InputError, match="larger than 1 MiB"):
        repo.parse_intent("é" * (600 * 1024), INTENT)  # 1.2 MB of UTF-8


def test_yaml_bomb_fails_fast_and_small(root: Path) -> None:
    shutil.copy(BAD / "yaml-bomb.yaml", root / INTENT)
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(InputError, match="anchors are not allowed"):
        repo.load_intent(root, INTENT)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 5 * 1024 * 1024


def test_literal_credentials_never_appear_in_errors(root: Path) -> None:
    for case, secret in (("config-literal-token", "hvs.CAESIJlu8Yy3"),
                         ("config-nested-credential", "sk-live-42"),
                         ("config-env-not-a-name", "hvs.CAESIJlu8Yy3")):  # fmt: skip
        shutil.copy(BAD / f"{case}.yaml", root / "gitrot.yaml")
        with pytest.raises(ConfigError) as info:
            repo.load_config(root)
        assert secret not in info.value.render() + info.value.hint


def test_encrypted_ref_never_appears_in_errors(root: Path) -> None:
    text = (root / INTENT).read_text()
    ref = next(line for line in text.splitlines() if "ref:" in line).split("ref: ")[1]
    (root / INTENT).write_text(text.replace("version: 7", "version: 0"))
    with pytest.raises(InputError) as info:
        repo.load_intent(root, INTENT)
    assert ref not in info.value.render()


def test_schemas_are_valid_and_name_their_ids() -> None:
    import jsonschema

    from gitrot.files import resources

    for name in ("intent", "config"):
        schema = json.loads(resources.schema_text(f"{name}.schema.json"))
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"] == resources.schema_uri(name)
        _every_property_has_a_description(schema, name)
    assert (
        Path("schemas").resolve() == Path("gitrot/schemas").resolve()
        or not Path("schemas").exists()
    )


def _every_property_has_a_description(node: object, where: str) -> None:
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            assert "description" in value, f"{where}.{key} has no description"
        for key, value in node.items():
            if key != "if":  # conditions select a case; they are not fields
                _every_property_has_a_description(value, f"{where}.{key}")
    elif isinstance(node, list):
        for item in node:
            _every_property_has_a_description(item, where)


def test_error_exit_code(root: Path) -> None:
    shutil.copy(BAD / "version-zero.yaml", root / INTENT)
    with pytest.raises(GitrotError) as info:
        repo.load_intent(root, INTENT)
    assert info.value.exit_code == EXIT_INPUT
    assert os.path.exists(root / INTENT)
