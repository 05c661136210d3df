"""SSH signatures (OpenSSH ``PROTOCOL.sshsig``) with Ed25519 keys, as git makes them.

The reconciler signs each ``refs/gitrot/state`` commit with its key
(``.gitrot/signing.key``, an OpenSSH private key made by ``gitrot init``); the signature is
the commit's ``gpgsig`` header in the armored SSHSIG form of ``ssh-keygen -Y sign -n git``,
so ``git verify-commit`` with ``gpg.format=ssh`` and an allowed-signers file checks it too.
:func:`verify` checks one against the public key ``reconciler.signing_key`` in gitrot.yaml.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # cryptography is imported where it is used: ~28 ms
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

MAGIC = b"SSHSIG"
NAMESPACE = "git"
KEY_TYPE = b"ssh-ed25519"
COMMENT = "gitrot-reconciler"
_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_END = "-----END SSH SIGNATURE-----"
_HASHES = {b"sha512": hashlib.sha512, b"sha256": hashlib.sha256}


class BadSignature(Exception):
    """The signature is malformed, for another key or namespace, or does not verify."""


def generate() -> tuple[bytes, str]:
    """A new key pair: (the OpenSSH private key file's bytes, its public key line
    ``ssh-ed25519 AAAA... gitrot-reconciler``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    return private, public_line(key)


def load_private(data: bytes) -> Ed25519PrivateKey:
    """The Ed25519 key of an unencrypted OpenSSH private key file; ValueError otherwise."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_ssh_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 key")
    return key


def public_line(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return f"{raw.decode('ascii')} {COMMENT}"


def public_blob(line: str) -> bytes:
    """The wire form of ``ssh-ed25519 AAAA... [comment]``; BadSignature when it is not one."""
    parts = line.split()
    if len(parts) < 2 or parts[0] != KEY_TYPE.decode():
        raise BadSignature("not an ssh-ed25519 public key")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except ValueError:
        raise BadSignature("the public key is not base64") from None
    kind, rest = _string(blob, 0)
    raw, end = _string(blob, rest)
    if kind != KEY_TYPE or len(raw) != 32 or end != len(blob):
        raise BadSignature("not an ssh-ed25519 public key")
    return blob


def sign(key: Ed25519PrivateKey, data: bytes, namespace: str = NAMESPACE) -> str:
    """The armored SSH signature of ``data`` (what ``ssh-keygen -Y sign -n NAMESPACE`` prints)."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public = _pack(KEY_TYPE) + _pack(raw)
    signature = key.sign(_signed_data(namespace.encode(), b"sha512", data))
    blob = (
        MAGIC
        + struct.pack(">I", 1)
        + _pack(public)
        + _pack(namespace.encode())
        + _pack(b"")
        + _pack(b"sha512")
        + _pack(_pack(KEY_TYPE) + _pack(signature))
    )
    text = base64.b64encode(blob).decode("ascii")
    lines = [text[i : i + 70] for i in range(0, len(text), 70)]
    return "\n".join([_BEGIN, *lines, _END]) + "\n"


def verify(armored: bytes, data: bytes, public: str, namespace: str = NAMESPACE) -> None:
    """Check that ``armored`` signs ``data`` with the key ``public`` in ``namespace``;
    :class:`BadSignature` (saying why) otherwise."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    expected = public_blob(public)
    blob = _unarmor(armored)
    if blob[:6] != MAGIC or len(blob) < 10 or struct.unpack(">I", blob[6:10])[0] != 1:
        raise BadSignature("not an SSH signature (version 1)")
    at = 10
    fields = []
    for _ in range(5):
        field, at = _string(blob, at)
        fields.append(field)
    key, space, _reserved, algorithm, signature = fields
    if at != len(blob):
        raise BadSignature("trailing bytes after the signature")
    if key != expected:
        raise BadSignature("signed by another key than reconciler.signing_key")
    if space != namespace.encode():
        raise BadSignature(f"signed for the namespace {space.decode('utf-8', 'replace')!r}")
    if algorithm not in _HASHES:
        raise BadSignature("an unknown hash algorithm")
    kind, rest = _string(signature, 0)
    raw, end = _string(signature, rest)
    if kind != KEY_TYPE or len(raw) != 64 or end != len(signature):
        raise BadSignature("not an Ed25519 signature")
    _, start = _string(expected, 0)
    point, _ = _string(expected, start)
    try:
        Ed25519PublicKey.from_public_bytes(point).verify(raw, _signed_data(space, algorithm, data))
    except InvalidSignature:
        raise BadSignature("the signature does not match the commit") from None


def _signed_data(namespace: bytes, algorithm: bytes, data: bytes) -> bytes:
    digest = _HASHES[algorithm](data).digest()
    return MAGIC + _pack(namespace) + _pack(b"") + _pack(algorithm) + _pack(digest)


def _unarmor(armored: bytes) -> bytes:
    text = armored.decode("ascii", "replace").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < 3 or lines[0] != _BEGIN or lines[-1] != _END:
        raise BadSignature("not an armored SSH signature")
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError:
        raise BadSignature("the signature is not base64") from None


def _pack(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _string(blob: bytes, at: int) -> tuple[bytes, int]:
    if at + 4 > len(blob):
        raise BadSignature("truncated")
    (size,) = struct.unpack(">I", blob[at : at + 4])
    end = at + 4 + size
    if end > len(blob):
        raise BadSignature("truncated")
    return blob[at + 4 : end], end
