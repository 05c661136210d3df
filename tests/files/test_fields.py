"""gitrot's own files read strictly: each refusal at file:line:column with what was found.

The loader (gitrot/files/fields.py) serves intents, gitrot.yaml, rule files and waivers;
these are the edges its callers reach through an intent and a gitrot.yaml.
"""

from __future__ import annotations

import re

import pytest

from gitrot.errors import ConfigError, GitrotError, InputError
from gitrot.files import repo
from tests.intents import intent_text

PATH = "secrets/payments/db.yaml"
ENC_INT = "ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:int]"


def intent(old: str = "", new: str = "") -> bytes:
    text = intent_text("payments/db", 2)
    if old:
        assert text.count(old) == 1
        text = text.replace(old, new)
    return text.encode()


def refusal(data: bytes) -> GitrotError:
    with pytest.raises(InputError) as info:
        repo.parse_intent(data, PATH)
    assert info.value.exit_code == 2
    return info.value


def test_a_version_written_as_a_whole_float_is_that_integer() -> None:
    """As JSON Schema's "integer" (the shipped schema accepts the same documents)."""
    assert repo.parse_intent(intent("version: 2\n", "version: 2.0\n"), PATH).version == 2


def test_a_version_with_a_fraction_is_refused() -> None:
    error = refusal(intent("version: 2\n", "version: 2.5\n"))
    assert (error.location(), error.message) == (
        f"{PATH}:9:5",
        "spec.version must be an integer, got a number",
    )


def test_an_encrypted_version_must_stay_cleartext() -> None:
    error = refusal(intent("version: 2\n", f"version: {ENC_INT}\n"))
    assert error.location() == f"{PATH}:9:5"
    assert error.message == "spec.version is encrypted; it must stay cleartext"
    assert "encrypted_regex" in (error.hint or "")


def test_a_ref_that_is_not_a_string_is_refused() -> None:
    data = re.sub(rb"ref: ENC\[[^\n]*", b"ref: 7", intent())
    error = refusal(data)
    assert error.location() == f"{PATH}:14:9"
    assert error.message == "spec.target.ref must be a non-empty string, got an integer"


def test_metadata_that_is_not_a_mapping_is_refused() -> None:
    data = re.sub(rb"metadata:\n(    [^\n]*\n)+", b"metadata: payments\n", intent())
    error = refusal(data)
    assert (error.location(), error.message) == (
        f"{PATH}:3:1",
        "metadata must be a mapping, got a string",
    )
    assert error.hint is not None and error.hint.endswith("intent.schema.json")


def test_a_config_that_is_not_utf8_is_a_config_error_at_the_file() -> None:
    with pytest.raises(ConfigError) as info:
        repo.parse_config(b"apiVersion: gitrot/v1\nkind: Config\n\xff: 1\n", "gitrot.yaml")
    assert info.value.location() == "gitrot.yaml:3"
    assert info.value.message == "the file is not valid UTF-8"
