"""One encrypted SOPS value: ``ENC[AES256_GCM,data:...,iv:...]`` (docs/sops-format.md 2).

The cipher remembers the nonce of every value it decrypted, keyed by (AAD, plaintext), and
reuses it when the same plaintext is encrypted again at the same path with the same data
key: the ciphertext is then byte-identical and a PR diff shows only what changed. A nonce
is never reused for a different plaintext or path (the key of the memo includes both).

Pure apart from randomness (a fresh nonce for a new value).
"""

from __future__ import annotations

import binascii

from gitrot.core.layout import ENCRYPTED_PREFIX, ENCRYPTED_VALUE
from gitrot.errors import IntegrityError

_NONCE_BYTES = 32  # what sops writes (docs/sops-format.md 2.1); any length is accepted on reading
_TAG_BYTES = 16
KNOWN_TYPES = frozenset({"str", "int", "float", "bool", "time", "bytes", "comment"})


def _aesgcm_class() -> type:
    """AES-GCM from cryptography, without the 30 ms import of its public wrapper modules.

    The Rust binding holds the implementation; the public module only re-exports it. If a
    future cryptography moves it, fall back to the public import.
    """
    try:
        from cryptography.hazmat.bindings._rust import openssl as rust_openssl

        return rust_openssl.aead.AESGCM
    except (ImportError, AttributeError):  # pragma: no cover - depends on cryptography version
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict standard base64 (padding required), as Go's StdEncoding decodes it."""
    return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)


class Cipher:
    """AES-256-GCM under one data key, with the nonce memo described above."""

    __slots__ = ("_aead", "_memo")

    def __init__(self, data_key: bytes) -> None:
        if len(data_key) != 32:
            raise IntegrityError("the data key is not 32 bytes long")
        self._aead = _aesgcm_class()(data_key)
        self._memo: dict[tuple[str, bytes], bytes] = {}

    def encrypt(self, plaintext: bytes, type_name: str, aad: str) -> str:
        nonce = self._memo.get((aad, plaintext))
        if nonce is None:
            import secrets  # decryption never needs randomness (~4.7 ms at start-up)

            nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, aad.encode())
        return (
            f"{ENCRYPTED_PREFIX}data:{_b64(sealed[:-_TAG_BYTES])},"
            f"iv:{_b64(nonce)},tag:{_b64(sealed[-_TAG_BYTES:])},type:{type_name}]"
        )

    def decrypt(self, text: str, aad: str) -> tuple[bytes, str]:
        """Open one ``ENC[...]`` value; returns (plaintext bytes, type name).

        Raises IntegrityError (without the value) when the text is not an encrypted value
        or fails authentication: a tampered or moved value, or the wrong data key.
        """
        match = ENCRYPTED_VALUE.match(text)
        if match is None:
            raise IntegrityError("a value is not in sops' ENC[AES256_GCM,...] format")
        data, nonce, tag, type_name = match.groups()
        if type_name not in KNOWN_TYPES:
            raise IntegrityError(f"unknown encrypted value type {type_name!r}")
        try:
            ciphertext = _unb64(data)
            nonce_bytes = _unb64(nonce)
            tag_bytes = _unb64(tag)
        except (binascii.Error, ValueError):
            raise IntegrityError("an encrypted value has invalid base64") from None
        if len(tag_bytes) != _TAG_BYTES or not 8 <= len(nonce_bytes) <= 128:
            raise IntegrityError("an encrypted value has a malformed nonce or tag")
        try:
            plaintext: bytes = self._aead.decrypt(nonce_bytes, ciphertext + tag_bytes, aad.encode())
        except Exception as exc:
            if type(exc).__name__ == "InvalidTag":
                raise IntegrityError(
                    "an encrypted value failed authentication (tampered, moved to another "
                    "key, or encrypted with another data key)"
                ) from None
            raise
        self._memo[(aad, plaintext)] = nonce_bytes
        return plaintext, type_name
