"""The pieces under gitrot.audit.signatures: the allowed-signers file (ssh-keygen's format),
the split of a raw commit into payload and signature (git's rule), and SSH signatures of
every key type, including the malformed ones."""

from __future__ import annotations

import base64
import calendar
import struct
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gitrot.audit import allowed_signers
from gitrot.audit.allowed_signers import match_list
from gitrot.audit.signatures import SignedCommit
from gitrot.errors import EXIT_INPUT, InputError
from gitrot.git import sshsig
from gitrot.git.sshsig import BadSignature, UnsupportedKey
from tests.audit.signing import SSH_KINDS, ssh_key, ssh_sign

ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGrVQ6mZt3mH8s4WFGn6v6tq7ZKQRz0m2W3K0N0xYb2N"
DATA = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nsigned\n"


def pack(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def test_lines_principals_options_and_comments() -> None:
    text = "\n".join([
        "# a comment",
        "   ",
        f"alice@example.com {ED} alice's laptop",
        f'"bob@example.com,b*@example.org" NAMESPACES="git,file",Valid-After="20240101" {ED}',
        f'*@example.com,!mallory@example.com cert-authority,valid-before="202401021230Z" {ED}',
        f'carol@example.com valid-after="20240101000000Z",valid-before="20240102Z" {ED}',
    ])  # fmt: skip
    parsed = allowed_signers.parse(text)
    first, second, third, fourth = parsed.entries
    blob = base64.b64decode(ED.split()[1])
    assert (first.line, first.principals, first.key_type, first.key) == (
        3, "alice@example.com", "ssh-ed25519", blob,
    )  # fmt: skip
    assert (first.namespaces, first.valid_after, first.valid_before) == (None, None, None)
    assert second.principals == "bob@example.com,b*@example.org"
    assert second.namespaces == "git,file" and second.allows_namespace("file")
    assert second.valid_after == int(time.mktime(time.strptime("20240101", "%Y%m%d")))
    assert third.cert_authority and third.valid_before == calendar.timegm((2024, 1, 2, 12, 30, 0))
    assert (fourth.valid_after, fourth.valid_before) == (1704067200, 1704153600)
    assert fourth.valid_at(1704067200) and fourth.valid_at(1704153600)
    assert not fourth.valid_at(1704067199) and not fourth.valid_at(1704153601)
    assert fourth.window() == "valid-after 2024-01-01 00:00:00Z, valid-before 2024-01-02 00:00:00Z"
    assert first.window() == "always"
    assert parsed.for_key(blob) == [first, second, fourth]  # the CA line matches no plain key
    assert parsed.has_authorities
    assert parsed.for_key(b"other") == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("alice@example.com", "no key after the principals"),
        ('"alice@example.com ' + ED, "an unterminated quote in the principals"),
        ('"" ' + ED, "no principals"),
        ("alice@example.com ssh-ed25519", "a key needs a type and base64"),
        ('alice@example.com namespaces="git"', "no key after the options"),
        ('alice@example.com namespaces="git ' + ED, "an unterminated quote in the options"),
        ("alice@example.com ssh-ed25519 !!!", "the ssh-ed25519 key is not base64"),
        ("alice@example.com ssh-rsa " + ED.split()[1], "not a ssh-rsa key"),
        ("alice@example.com ssh-ed25519 AAA=", "not a ssh-ed25519 key"),
        ("alice@example.com no-touch-required " + ED, "unsupported option 'no-touch-required'"),
        ("alice@example.com namespaces=git " + ED, 'namespaces needs a quoted value'),
        ('a@b cert-authority,cert-authority ' + ED, "cert-authority given twice"),
        ('a@b cert-authority;namespaces="git" ' + ED, "options are separated by commas"),
        ('a@b cert-authority, ' + ED, "an option list ends with a comma"),
        ('a@b valid-after="2024" ' + ED, "valid-after='2024' is not YYYYMMDD"),
        ('a@b valid-before="20241301Z" ' + ED, "valid-before='20241301Z' is not a date"),
        ('a@b valid-after="20240102Z",valid-before="20240101Z" ' + ED,
         "valid-before is not after valid-after"),
    ],
)  # fmt: skip
def test_a_malformed_line_is_bad_input_naming_the_file_and_line(line: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        allowed_signers.parse(f"# header\n{line}\n", "keys/allowed_signers")
    error = caught.value
    assert message in error.message
    assert (error.location(), error.exit_code) == ("keys/allowed_signers:2", EXIT_INPUT)
    assert "ALLOWED SIGNERS" in error.hint


def test_pattern_lists_as_openssh_matches_them() -> None:
    assert match_list("alice@example.com", "alice@example.com")
    assert match_list("alice@example.com", "bob@x,*@example.com")
    assert match_list("a@example.com", "?@example.com")
    assert not match_list("ab@example.com", "?@example.com")
    assert not match_list("mallory@example.com", "*@example.com,!mallory@example.com")
    assert not match_list("mallory@example.com", "!mallory@example.com,*")
    assert not match_list("Alice@example.com", "alice@example.com")  # case-sensitive
    assert not match_list("alice@example.com", "!bob@example.com")  # no positive match
    assert match_list("a.b", "a.b") and not match_list("axb", "a.b")  # no regex leaks


def _commit(*headers: bytes, body: bytes = b"\nmessage\ngpgsig in the body\n") -> bytes:
    return b"".join(headers) + body


def test_a_raw_commit_splits_as_git_splits_it() -> None:
    tree = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
    committer = b"committer Alice Example <alice@example.com> 1700000000 +0100\n"
    raw = _commit(tree, b"author A <a@x> 1 +0000\n", committer,
                  b"gpgsig -----BEGIN SSH SIGNATURE-----\n AAAA\n -----END SSH SIGNATURE-----\n",
                  b"gpgsig-sha256 -----BEGIN PGP SIGNATURE-----\n BBBB\n -----END PGP SIGNATURE-----\n",
                  b"mergetag object 1\n type commit\n")  # fmt: skip
    commit = SignedCommit(raw)
    assert commit.signature == (
        b"-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"
    )
    assert commit.payload == _commit(tree, b"author A <a@x> 1 +0000\n", committer,
                                     b"mergetag object 1\n type commit\n")  # fmt: skip
    assert (commit.email, commit.time) == ("alice@example.com", 1700000000)
    sha256 = SignedCommit(raw, b"gpgsig-sha256")
    assert sha256.signature.startswith(b"-----BEGIN PGP SIGNATURE-----\nBBBB")
    assert b"AAAA" not in sha256.payload and b"mergetag" in sha256.payload
    odd = SignedCommit(b"tree x\ncommitter nobody\n")
    assert (odd.signature, odd.email, odd.time, odd.payload) == (
        b"", "", 0, b"tree x\ncommitter nobody\n",
    )  # fmt: skip


def test_sha256_commit_ids_read_the_sha256_header() -> None:
    from gitrot.audit.signatures import signature_header

    assert signature_header("a" * 64) == b"gpgsig-sha256"
    assert signature_header("a" * 40) == b"gpgsig"


@pytest.mark.parametrize("kind", sorted(SSH_KINDS))
def test_every_key_kind_verifies_and_a_flipped_bit_does_not(kind: str, tmp_path: Path) -> None:
    key = ssh_key(tmp_path, kind, kind)
    parsed = sshsig.parse(ssh_sign(key, DATA))
    assert parsed.public == base64.b64decode(key.public.split()[1])
    assert parsed.key_type() == key.public.split()[0]
    public = sshsig.load_public(parsed.public)
    sshsig.verify_parsed(parsed, DATA, public)
    with pytest.raises(BadSignature, match="does not match the commit"):
        sshsig.verify_parsed(parsed, DATA + b"x", public)
    with pytest.raises(BadSignature, match="namespace 'git', not 'file'"):
        sshsig.verify_parsed(parsed, DATA, public, namespace="file")


def _replace(parsed: sshsig.SshSignature, **fields: bytes) -> sshsig.SshSignature:
    return sshsig.SshSignature(**{**parsed.__dict__, **fields})


def test_malformed_signatures_and_keys_are_refused(tmp_path: Path) -> None:
    rsa_key, ec_key = ssh_key(tmp_path, "r", "rsa"), ssh_key(tmp_path, "e", "ecdsa-256")
    ed_key = ssh_key(tmp_path, "d")
    signed = {k.path.name: sshsig.parse(ssh_sign(k, DATA)) for k in (rsa_key, ec_key, ed_key)}
    keys = {name: sshsig.load_public(s.public) for name, s in signed.items()}
    r, e, d = signed["r"], signed["e"], signed["d"]
    _, at = struct.unpack(">I", r.signature[:4])[0], 4 + struct.unpack(">I", r.signature[:4])[0]
    raw = r.signature[at + 4 :]
    cases = [
        ("r", _replace(r, signature=pack(b"ssh-rsa") + pack(raw)), "an RSA signature of type ssh-rsa"),
        ("r", _replace(r, signature=r.signature + b"x"), "trailing bytes after the signature"),
        ("r", _replace(r, algorithm=b"md5"), "an unknown hash algorithm"),
        ("e", _replace(e, signature=pack(b"ecdsa-sha2-nistp384") + pack(b"")), "not the key's"),
        ("e", _replace(e, signature=pack(b"ecdsa-sha2-nistp256") + pack(pack(b"\1") + pack(b"\1") + b"x")),
         "a malformed ECDSA signature"),
        ("e", _replace(e, signature=pack(b"ecdsa-sha2-nistp256") + pack(pack(b"\xff") + pack(b"\1"))),
         "a malformed signature"),
        ("d", _replace(d, signature=pack(b"ssh-rsa") + pack(b"x" * 64)), "not an Ed25519 signature"),
    ]  # fmt: skip
    for name, bad, message in cases:
        with pytest.raises(BadSignature, match=message):
            sshsig.verify_parsed(bad, DATA, keys[name])
    curve = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = curve.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    blobs = {
        pack(b"ecdsa-sha2-nistp256") + pack(b"nistp384") + pack(point): "a malformed ecdsa-sha2-nistp256",
        pack(b"ecdsa-sha2-nistp256") + pack(b"nistp256") + pack(b"\4" + b"\0" * 64): "malformed",
        pack(b"ssh-ed25519") + pack(b"short"): "a malformed ssh-ed25519 public key",
        pack(b"ssh-rsa") + pack(b"\1"): "a malformed ssh-rsa public key",
    }  # fmt: skip
    for blob, message in blobs.items():
        with pytest.raises(BadSignature, match=message):
            sshsig.load_public(blob)
    with pytest.raises(UnsupportedKey, match="ssh-dss keys are not checked"):
        sshsig.load_public(pack(b"ssh-dss") + pack(b"p"))
    assert sshsig.key_type(b"\0\0") == ""
    numbers = rsa.generate_private_key(65537, 2048).public_key().public_numbers()
    blob = (
        pack(b"ssh-rsa")
        + pack(numbers.e.to_bytes(3, "big"))
        + pack(b"\0" + numbers.n.to_bytes(256, "big"))
    )
    assert isinstance(sshsig.load_public(blob), rsa.RSAPublicKey)
    assert sshsig.fingerprint(blob).startswith("SHA256:") and not sshsig.fingerprint(blob).endswith(
        "="
    )
