"""gitrot.git.sshsig against OpenSSH: what gitrot signs, ssh-keygen and git verify-commit
accept; what ssh-keygen signs, gitrot verifies; a tampered signature is refused by all."""

from __future__ import annotations

import base64
import struct
import subprocess
from pathlib import Path

import pygit2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gitrot.git import sshsig, state
from gitrot.git.process import no_git_env
from gitrot.git.sshsig import BadSignature
from tests.conftest import require_tool
from tests.gitrepo import AUTHOR, commit_files, make_repo

DATA = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nstate\n"


@pytest.fixture
def keypair(tmp_path: Path) -> tuple[Path, str]:
    """An OpenSSH private key file made by gitrot, and its public line."""
    private, public = sshsig.generate()
    path = tmp_path / "signing.key"
    path.write_bytes(private)
    path.chmod(0o600)
    return path, public


def _ssh_keygen(*args: str, data: bytes, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    keygen = require_tool("ssh-keygen")
    return subprocess.run([keygen, "-Y", *args], input=data, cwd=cwd, capture_output=True,
                          check=False)  # fmt: skip


def _allowed(tmp_path: Path, public: str) -> Path:
    signers = tmp_path / "allowed_signers"
    signers.write_text(f'reconciler@gitrot namespaces="git" {public}\n')
    return signers


def test_generate_load_and_the_public_line(keypair: tuple[Path, str]) -> None:
    path, public = keypair
    key = sshsig.load_private(path.read_bytes())
    assert sshsig.public_line(key) == public
    assert public.startswith("ssh-ed25519 AAAA") and public.endswith(" gitrot-reconciler")
    blob = sshsig.public_blob(public)
    assert blob[:4] == struct.pack(">I", 11) and blob[4:15] == b"ssh-ed25519"


def test_load_private_refuses_another_kind_of_key() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    data = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                               serialization.NoEncryption())  # fmt: skip
    with pytest.raises(ValueError, match="not an Ed25519 key"):
        sshsig.load_private(data)


def test_ssh_keygen_accepts_what_gitrot_signs(keypair: tuple[Path, str], tmp_path: Path) -> None:
    path, public = keypair
    armored = sshsig.sign(sshsig.load_private(path.read_bytes()), DATA)
    assert armored.startswith("-----BEGIN SSH SIGNATURE-----\n")
    assert all(len(line) <= 70 for line in armored.splitlines())
    (tmp_path / "data.sig").write_text(armored)
    signers = _allowed(tmp_path, public)
    verify = (
        "verify",
        "-f",
        str(signers),
        "-I",
        "reconciler@gitrot",
        "-n",
        "git",
        "-s",
        "data.sig",
    )
    done = _ssh_keygen(*verify, data=DATA, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert b"Good" in done.stdout
    assert _ssh_keygen(*verify, data=DATA + b"x", cwd=tmp_path).returncode != 0
    sshsig.verify(armored.encode(), DATA, public)
    with pytest.raises(BadSignature, match="does not match the commit"):
        sshsig.verify(armored.encode(), DATA + b"x", public)


@pytest.mark.parametrize("hashalg", ["sha512", "sha256"])
def test_gitrot_verifies_what_ssh_keygen_signs(
    keypair: tuple[Path, str], tmp_path: Path, hashalg: str
) -> None:
    path, public = keypair
    (tmp_path / "data").write_bytes(DATA)
    done = _ssh_keygen("sign", "-f", str(path), "-n", "git", "-O", f"hashalg={hashalg}", "data",
                       data=b"", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    armored = (tmp_path / "data.sig").read_bytes()
    sshsig.verify(armored, DATA, public)
    with pytest.raises(BadSignature, match="namespace 'git'"):
        sshsig.verify(armored, DATA, public, namespace="file")


def test_git_verify_commit_accepts_a_signed_state_commit(
    keypair: tuple[Path, str], tmp_path: Path
) -> None:
    path, public = keypair
    repo = make_repo(tmp_path / "repo")
    commit_files(repo, {"a.txt": "a\n"}, message="a", author_time=1_700_000_000)
    key = sshsig.load_private(path.read_bytes())
    tree = str(repo.head.peel(pygit2.Commit).tree_id)
    signed = state.commit_state(repo, tree, None, "state\n", AUTHOR, lambda b: sshsig.sign(key, b))
    unsigned = state.commit_state(repo, tree, None, "state\n", AUTHOR, None)
    signers = _allowed(tmp_path, public)
    git = ["git", "-C", str(tmp_path / "repo"), "-c", "gpg.format=ssh",
           "-c", f"gpg.ssh.allowedSignersFile={signers}", "verify-commit"]  # fmt: skip
    good = subprocess.run([*git, signed], capture_output=True, text=True, env=no_git_env(),
                          check=False)  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert 'Good "git" signature' in good.stderr
    bad = subprocess.run([*git, unsigned], capture_output=True, env=no_git_env(), check=False)
    assert bad.returncode != 0
    _, other = sshsig.generate()
    stranger = subprocess.run(
        [*git[:5], f"gpg.ssh.allowedSignersFile={_allowed(tmp_path, other)}", "verify-commit",
         signed], capture_output=True, env=no_git_env(), check=False,
    )  # fmt: skip
    assert stranger.returncode != 0


def _armor(blob: bytes) -> bytes:
    text = base64.b64encode(blob).decode()
    return f"-----BEGIN SSH SIGNATURE-----\n{text}\n-----END SSH SIGNATURE-----\n".encode()


def _pack(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _fields(armored: str) -> list[bytes]:
    """The five strings of a version-1 SSHSIG blob."""
    lines = armored.strip().splitlines()[1:-1]
    blob = base64.b64decode("".join(lines))
    at, found = 10, []
    for _ in range(5):
        (size,) = struct.unpack(">I", blob[at : at + 4])
        found.append(blob[at + 4 : at + 4 + size])
        at += 4 + size
    return found


def _blob(fields: list[bytes], *, version: int = 1, magic: bytes = b"SSHSIG") -> bytes:
    return magic + struct.pack(">I", version) + b"".join(_pack(f) for f in fields)


def test_every_malformed_signature_is_refused_with_its_reason(keypair: tuple[Path, str]) -> None:
    path, public = keypair
    armored = sshsig.sign(sshsig.load_private(path.read_bytes()), DATA)
    key, space, reserved, algorithm, signature = _fields(armored)
    _, other_public = sshsig.generate()
    cases = {
        b"not armored": "not an armored SSH signature",
        b"-----BEGIN SSH SIGNATURE-----\n!!\n-----END SSH SIGNATURE-----": "not base64",
        _armor(_blob([key, space, reserved, algorithm, signature], version=2)): "version 1",
        _armor(_blob([key, space, reserved, algorithm, signature], magic=b"SSHSIX")): "version 1",
        _armor(_blob([key, space, reserved, algorithm, signature]) + b"\0"): "trailing bytes",
        _armor(_blob([key, space, reserved, algorithm])): "truncated",
        _armor(_blob([key, space, reserved, algorithm, signature])[:-3]): "truncated",
        _armor(_blob([key, space, reserved, b"md5", signature])): "unknown hash algorithm",
        _armor(_blob([key, space, reserved, algorithm, _pack(b"ssh-rsa") + _pack(b"x" * 64)])):
            "not an Ed25519 signature",
        _armor(_blob([key, space, reserved, algorithm, signature[:-1] + bytes([signature[-1] ^ 1])])):
            "does not match the commit",
    }  # fmt: skip
    for bad, reason in cases.items():
        with pytest.raises(BadSignature, match=reason):
            sshsig.verify(bad, DATA, public)
    with pytest.raises(BadSignature, match=r"another key than reconciler\.signing_key"):
        sshsig.verify(armored.encode(), DATA, other_public)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("ssh-rsa AAAAB3NzaC1yc2E", "not an ssh-ed25519 public key"),
        ("ssh-ed25519", "not an ssh-ed25519 public key"),
        ("ssh-ed25519 !!notbase64", "the public key is not base64"),
        ("ssh-ed25519 " + base64.b64encode(_pack(b"ssh-ed25519") + _pack(b"short")).decode(),
         "not an ssh-ed25519 public key"),
        ("ssh-ed25519 " + base64.b64encode(_pack(b"ssh-ed25519")).decode(), "truncated"),
    ],
)  # fmt: skip
def test_a_public_key_that_is_no_ed25519_key_is_refused(line: str, reason: str) -> None:
    with pytest.raises(BadSignature, match=reason):
        sshsig.public_blob(line)
