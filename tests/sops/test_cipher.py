"""The ENC[...] value format: nonces, memo reuse, and refusal of anything malformed."""

from __future__ import annotations

import os
import re

import pytest

from gitrot.codec.cipher import Cipher
from gitrot.errors import IntegrityError

KEY = bytes(range(32))


def test_round_trip_and_format() -> None:
    cipher = Cipher(KEY)
    text = cipher.encrypt(b"s3cret", "str", "a:b:")
    match = re.fullmatch(r"ENC\[AES256_GCM,data:(\S+),iv:(\S+),tag:(\S+),type:str\]", text)
    assert match
    assert len(match.group(2)) == 44  # 32-byte nonce, as sops writes
    assert Cipher(KEY).decrypt(text, "a:b:") == (b"s3cret", "str")


def test_aad_binds_the_path() -> None:
    text = Cipher(KEY).encrypt(b"v", "str", "a:")
    with pytest.raises(IntegrityError):
        Cipher(KEY).decrypt(text, "b:")


def test_wrong_key_fails_authentication() -> None:
    text = Cipher(KEY).encrypt(b"v", "str", "a:")
    with pytest.raises(IntegrityError):
        Cipher(os.urandom(32)).decrypt(text, "a:")


def test_nonce_is_reused_only_for_the_same_plaintext_and_path() -> None:
    cipher = Cipher(KEY)
    original = Cipher(KEY).encrypt(b"v", "str", "a:")
    cipher.decrypt(original, "a:")
    assert cipher.encrypt(b"v", "str", "a:") == original
    assert cipher.encrypt(b"w", "str", "a:") != original
    other_path = cipher.encrypt(b"v", "str", "b:")
    assert other_path.split(",iv:")[1] != original.split(",iv:")[1]


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "ENC[AES256_GCM,data:,iv:AAAA,tag:AAAA,type:str]",
        "ENC[AES256_GCM,data:!!!,iv:AAAA,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]",
        "ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]",
        "ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAA,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:weird]",
    ],
)
def test_malformed_values_are_integrity_errors(text: str) -> None:
    with pytest.raises(IntegrityError):
        Cipher(KEY).decrypt(text, "a:")


def test_data_key_must_be_32_bytes() -> None:
    with pytest.raises(IntegrityError):
        Cipher(b"short")
