from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from gitrot.core.layout import (
    SECRETS_DIR,
    intent_path,
    is_encrypted,
    is_intent_path,
    is_sealed_path,
    name_of_path,
    sealed_path,
)
from gitrot.core.models import (
    BackendConfig,
    Config,
    Encryption,
    Freeze,
    GeneratedValue,
    RotationClass,
    RotationIntent,
    SealedValue,
    TriggerConfig,
    expand_alphabet,
    is_valid_name,
)

REF = "ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]"


def intent(**changes: Any) -> RotationIntent:
    fields: dict[str, Any] = {
        "name": "payments/db-password",
        "owner": "team-payments",
        "rotation_class": "database-password",
        "version": 7,
        "reason": "Quarterly rotation",
        "backend": "vault-prod",
        "ref": REF,
        "value": GeneratedValue(32),
    }
    fields.update(changes)
    return RotationIntent(**fields)


def test_paths() -> None:
    assert SECRETS_DIR == "secrets"
    assert intent_path("payments/db-password") == "secrets/payments/db-password.yaml"
    assert sealed_path("payments/db-password", 7) == "secrets/payments/db-password.v7.sealed.yaml"
    assert name_of_path("secrets/a/b.yaml") == "a/b"
    assert name_of_path("secrets/a/b.v2.sealed.yaml") is None
    assert name_of_path("other/a.yaml") is None


def test_layout_predicates() -> None:
    assert is_intent_path("secrets/a/b.yaml") and not is_intent_path("secrets/a.v1.sealed.yaml")
    assert is_sealed_path("secrets/a.v1.sealed.yaml") and not is_sealed_path("other/a.sealed.yaml")
    assert not is_intent_path("secretsx/a.yaml") and not is_intent_path("a.yaml")
    assert is_encrypted(REF)
    for text in ("ENC[AES256_GCM,", "ENC[AES256_GCM,data:x]", "ENC[other]", "plain", None, 1):
        assert not is_encrypted(text)


def _encryption(recipients: tuple[str, ...]) -> Encryption:
    return Encryption(
        recipients=recipients, selector=("encrypted_regex", "^ref$"), mac_only_encrypted=True
    )


@pytest.mark.parametrize(
    "other",
    [
        {"retired": True},
        {"encryption": _encryption(("age1a",))},
        {"encryption": _encryption(("age1b",))},
    ],
    ids=["retired", "encrypted", "other-recipients"],
)
def test_intents_differing_in_retired_or_encryption_differ(other: dict[str, Any]) -> None:
    """Equality and hash see every field the file holds: two intents that differ only in
    ``retired`` or in their sops block (recipients, selector) are two intents."""
    base = intent(encryption=_encryption(("age1a",))) if "retired" in other else intent()
    changed = intent(**{"encryption": base.encryption, **other})
    assert changed != base
    assert len({base, changed}) == 2
    assert intent(**other) == intent(**other)
    assert hash(intent(**other)) == hash(intent(**other))


@pytest.mark.parametrize("name", ["a", "payments/db-password", "a.b_c-d/0", "x" * 200])
def test_valid_names(name: str) -> None:
    assert is_valid_name(name)


@pytest.mark.parametrize(
    "name",
    ["", "A", "Payments/db", "../x", "a/../b", "a..b", "/a", "a/", "a//b", ".a", "-a", "a b",
     "x" * 201, "a\\b", "é"],
)  # fmt: skip
def test_invalid_names(name: str) -> None:
    assert not is_valid_name(name)


def test_intent_defaults_and_lines() -> None:
    made = intent(lines={"spec": (9, 1), "spec.version": (10, 5)})
    assert made.path == "secrets/payments/db-password.yaml"
    assert made.labels == {} and made.consumers == () and made.emergency is False
    assert made.environment is None
    assert made.line_of("spec.version") == 10
    assert made.position("spec.version") == (10, 5)
    assert made.line_of("spec.reason") == 9  # nearest parent
    assert made.column_of("metadata.name") == 0
    assert made == intent() and hash(made) == hash(intent())  # lines are not compared
    assert "payments/db-password" in repr(made)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "../x"}, "invalid intent name"),
        ({"version": 0}, "version"),
        ({"version": True}, "version"),
        ({"version": "7"}, "version"),
        ({"reason": "  "}, "reason"),
        ({"ref": "kv/data/x"}, "not encrypted"),
        ({"owner": ""}, "owner"),
        ({"value": "generate"}, "generate/sealed"),
        ({"value": SealedValue("secrets/payments/db-password.v6.sealed.yaml")}, "sealed value"),
        ({"consumers": ["a", "a"]}, "repeat"),
        ({"labels": {"tier": 1}}, "labels"),
        ({"emergency": "no"}, "emergency"),
        ({"environment": ""}, "environment"),
        ({"path": "secrets/other.yaml"}, "must live at"),
    ],
)
def test_intent_invariants(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        intent(**changes)


def test_sealed_intent() -> None:
    made = intent(value=SealedValue(sealed_path("payments/db-password", 7)))
    assert isinstance(made.value, SealedValue)
    with pytest.raises(ValueError):
        SealedValue("secrets/../x.v1.sealed.yaml")
    with pytest.raises(ValueError):
        SealedValue("payments/x.v1.sealed.yaml")


def test_generated_value() -> None:
    assert GeneratedValue(8).characters().isalnum()
    assert expand_alphabet("A-Za-z0-9-_!#%") == "".join(
        sorted(set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_!#%"))
    )
    assert expand_alphabet("-ab-") == "-ab"
    for length in (7, 4097, True):
        with pytest.raises(ValueError):
            GeneratedValue(length)  # type: ignore[arg-type]
    for alphabet in ("a", "z-a", "a b", "aé"):
        with pytest.raises(ValueError):
            GeneratedValue(32, alphabet)


def test_config_models() -> None:
    config = Config(
        recipients={"r": "age1x"},
        backends={"local": BackendConfig("local", "local", {"path": ".store"})},
        triggers={"t": TriggerConfig("t", "command", {"argv": ["true"]})},
        classes={"c": RotationClass("c", max_age=90, min_interval=1)},
        freezes=[Freeze("2026-12-20", "2027-01-03", ("prod",))],
    )
    assert config.policy_paths == ("policies/",) and config.waivers_path == "waivers.yaml"
    assert config.freezes[0].environments == ("prod",)
    with pytest.raises(ValueError, match="named"):
        Config(recipients={}, backends={"a": BackendConfig("b", "local")})
    with pytest.raises(ValueError):
        RotationClass("c", max_age=1, min_interval=2)
    with pytest.raises(ValueError):
        RotationClass("c", max_age=-1)
    with pytest.raises(ValueError):
        Freeze("2027-01-03", "2026-12-20")
    with pytest.raises(ValueError):
        Freeze("2026-13-01", "2026-12-20")
    with pytest.raises(ValueError):
        BackendConfig("", "local")
    with pytest.raises(ValueError):
        TriggerConfig("t", "")


def test_core_is_pure() -> None:
    """core/ imports no I/O, clock or environment modules, and no typing/dataclasses at runtime."""
    forbidden = {"os", "subprocess", "socket", "time", "datetime", "pathlib", "dataclasses",
                 "typing", "argparse", "urllib", "http"}  # fmt: skip
    for module in ("models.py", "durations.py"):
        tree = ast.parse((Path(__file__).parents[2] / "gitrot/core" / module).read_text())
        for node in tree.body:  # module level only: TYPE_CHECKING blocks are nested in `if`
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, (module, name)
