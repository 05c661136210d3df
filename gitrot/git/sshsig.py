"""SSH signatures (OpenSSH ``PROTOCOL.sshsig``), as git makes them.

The reconciler signs each ``refs/gitrot/state`` commit with its key
(``.gitrot/signing.key``, an OpenSSH private key made by ``gitrot init``); the signature is
the commit's ``gpgsig`` header in the armored SSHSIG form of ``ssh-keygen -Y sign -n git``,
so ``git verify-commit`` with ``gpg.format=ssh`` and an allowed-signers file checks it too.
:func:`verify` checks one against the public key ``reconciler.signing_key`` in gitrot.yaml.

The audit (docs/audit.md, "Signatures") checks commits signed with any usual SSH key:
:func:`parse` reads a signature, :func:`load_public` turns the signer's key (``ssh-ed25519``,
``ecdsa-sha2-nistp256/384/521``, ``ssh-rsa``) into a key object once, and
:func:`verify_parsed` checks the signature with it (RSA signatures: ``rsa-sha2-256/512``).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # cryptography is imported where it is used: ~28 ms
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    PublicKey = Ed25519PublicKey | EllipticCurvePublicKey | RSAPublicKey

MAGIC = b"SSHSIG"
NAMESPACE = "git"
KEY_TYPE = b"ssh-ed25519"
COMMENT = "gitrot-reconciler"
_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_END = "-----END SSH SIGNATURE-----"
_HASHES = {b"sha512": hashlib.sha512, b"sha256": hashlib.sha256}


#: the curve of each ECDSA key type, and the hash its signatures use (RFC 5656)
_CURVES = {
    b"ecdsa-sha2-nistp256": (b"nistp256", "SECP256R1", "SHA256"),
    b"ecdsa-sha2-nistp384": (b"nistp384", "SECP384R1", "SHA384"),
    b"ecdsa-sha2-nistp521": (b"nistp521", "SECP521R1", "SHA512"),
}
#: the RSA signature algorithms SSHSIG accepts (OpenSSH refuses SHA-1 ``ssh-rsa`` ones)
_RSA_HASHES = {b"rsa-sha2-256": "SHA256", b"rsa-sha2-512": "SHA512"}
#: the key types :func:`load_public` knows
KEY_TYPES = frozenset({KEY_TYPE, b"ssh-rsa", *_CURVES})


class BadSignature(Exception):
    """The signature is malformed, for another key or namespace, or does not verify."""


class UnsupportedKey(BadSignature):
    """A key type gitrot does not check (security keys, certificates, DSA)."""


@dataclass(frozen=True)
class SshSignature:
    """An SSHSIG blob's fields: the signer's ``public`` key blob, the ``namespace``, the
    message's hash ``algorithm`` (``sha256``/``sha512``) and the ``signature`` blob."""

    public: bytes
    namespace: bytes
    algorithm: bytes
    signature: bytes

    def key_type(self) -> str:
        return key_type(self.public)


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
    """Check that ``armored`` signs ``data`` with the Ed25519 key ``public`` in
    ``namespace``; :class:`BadSignature` (saying why) otherwise."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    expected = public_blob(public)
    parsed = parse(armored)
    if parsed.public != expected:
        raise BadSignature("signed by another key than reconciler.signing_key")
    if parsed.namespace != namespace.encode():
        raise BadSignature(
            f"signed for the namespace {parsed.namespace.decode('utf-8', 'replace')!r}"
        )
    if parsed.algorithm not in _HASHES:
        raise BadSignature("an unknown hash algorithm")
    kind, rest = _string(parsed.signature, 0)
    raw, end = _string(parsed.signature, rest)
    if kind != KEY_TYPE or len(raw) != 64 or end != len(parsed.signature):
        raise BadSignature("not an Ed25519 signature")
    _, start = _string(expected, 0)
    point, _ = _string(expected, start)
    signed = _signed_data(parsed.namespace, parsed.algorithm, data)
    try:
        Ed25519PublicKey.from_public_bytes(point).verify(raw, signed)
    except InvalidSignature:
        raise BadSignature("the signature does not match the commit") from None


def parse(armored: bytes) -> SshSignature:
    """The fields of an armored SSH signature; :class:`BadSignature` when it is malformed."""
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
    return SshSignature(key, space, algorithm, signature)


def key_type(blob: bytes) -> str:
    """The type named inside a public key blob (``ssh-ed25519``...), "" when unreadable."""
    try:
        kind, _ = _string(blob, 0)
    except BadSignature:
        return ""
    return kind.decode("ascii", "replace")


def fingerprint(blob: bytes) -> str:
    """The key's fingerprint as ssh-keygen prints it: ``SHA256:`` and unpadded base64."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")


def load_public(blob: bytes) -> PublicKey:
    """The key object of a public key blob (Ed25519, ECDSA or RSA); :class:`UnsupportedKey`
    for another type, :class:`BadSignature` when the blob is malformed."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    kind, at = _string(blob, 0)
    if kind not in KEY_TYPES:
        raise UnsupportedKey(f"{kind.decode('ascii', 'replace')} keys are not checked")
    fields = []
    while at < len(blob):
        field, at = _string(blob, at)
        fields.append(field)
    try:
        if kind == KEY_TYPE and len(fields) == 1 and len(fields[0]) == 32:
            return Ed25519PublicKey.from_public_bytes(fields[0])
        if kind in _CURVES and len(fields) == 2:
            name, curve, _ = _CURVES[kind]
            if fields[0] == name:
                return ec.EllipticCurvePublicKey.from_encoded_point(getattr(ec, curve)(), fields[1])
        if kind == b"ssh-rsa" and len(fields) == 2:
            exponent, modulus = (int.from_bytes(f, "big", signed=True) for f in fields)
            return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    except ValueError:
        pass
    raise BadSignature(f"a malformed {kind.decode('ascii')} public key")


def verify_parsed(
    signature: SshSignature, data: bytes, key: PublicKey, namespace: str = NAMESPACE
) -> None:
    """Check that ``signature`` signs ``data`` in ``namespace`` with ``key`` (the key object
    of ``signature.public``, from :func:`load_public`); :class:`BadSignature` otherwise."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    if signature.namespace != namespace.encode():
        space = signature.namespace.decode("utf-8", "replace")
        raise BadSignature(f"signed for the namespace {space!r}, not {namespace!r}")
    if signature.algorithm not in _HASHES:
        raise BadSignature("an unknown hash algorithm")
    kind, at = _string(signature.signature, 0)
    raw, end = _string(signature.signature, at)
    if end != len(signature.signature):
        raise BadSignature("trailing bytes after the signature")
    signed = _signed_data(signature.namespace, signature.algorithm, data)
    own = signature.public[4 : 4 + struct.unpack(">I", signature.public[:4])[0]]
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if kind not in _RSA_HASHES:
                raise BadSignature(f"an RSA signature of type {kind.decode('ascii', 'replace')}")
            digest = getattr(hashes, _RSA_HASHES[kind])()
            key.verify(raw, signed, padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if kind != own:
                raise BadSignature("the signature's type is not the key's")
            r, rest = _string(raw, 0)
            s, rest = _string(raw, rest)
            if rest != len(raw):
                raise BadSignature("a malformed ECDSA signature")
            digest = getattr(hashes, _CURVES[kind][2])()
            der = encode_dss_signature(
                int.from_bytes(r, "big", signed=True), int.from_bytes(s, "big", signed=True)
            )
            key.verify(der, signed, ec.ECDSA(digest))
        else:
            if kind != KEY_TYPE or len(raw) != 64:
                raise BadSignature("not an Ed25519 signature")
            key.verify(raw, signed)
    except InvalidSignature:
        raise BadSignature("the signature does not match the commit") from None
    except ValueError:
        raise BadSignature("a malformed signature") from None


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
