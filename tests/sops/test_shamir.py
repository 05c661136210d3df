"""Shamir secret sharing: properties, error cases, and compatibility with real sops."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path

import pyrage
import pytest
import yaml
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from gitrot.codec import shamir
from gitrot.errors import InputError
from tests.conftest import require_tool

SOPS = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "sops"
ENC_RE = re.compile(
    r"^ENC\[AES256_GCM,data:(?P<data>.+),iv:(?P<iv>.+),tag:(?P<tag>.+),type:(?P<type>.+)\]"
)


@st.composite
def split_case(draw: st.DrawFn) -> tuple[bytes, int, int, list[int]]:
    secret = draw(st.binary(min_size=1, max_size=48))
    parts = draw(st.integers(min_value=2, max_value=12))
    threshold = draw(st.integers(min_value=2, max_value=parts))
    chosen = draw(st.permutations(range(parts)))
    size = draw(st.integers(min_value=threshold, max_value=parts))
    return secret, parts, threshold, list(chosen[:size])


@given(split_case())
@settings(max_examples=200, deadline=None)
def test_any_threshold_subset_recovers_the_secret(case: tuple[bytes, int, int, list[int]]) -> None:
    secret, parts, threshold, chosen = case
    shares = shamir.split(secret, parts, threshold)
    assert len(shares) == parts
    assert all(len(share) == len(secret) + 1 for share in shares)
    xs = [share[-1] for share in shares]
    assert len(set(xs)) == parts
    assert 0 not in xs
    assert shamir.combine([shares[i] for i in chosen]) == secret


@given(st.binary(min_size=1, max_size=32), st.integers(min_value=3, max_value=8))
@settings(max_examples=50, deadline=None)
def test_fewer_than_threshold_shares_do_not_reveal_a_fixed_answer(
    secret: bytes, threshold: int
) -> None:
    # Below the threshold the combination is just some value; it must not raise.
    shares = shamir.split(secret, threshold, threshold)
    result = shamir.combine(shares[: threshold - 1])
    assert len(result) == len(secret)


def test_full_255_parts() -> None:
    secret = os.urandom(32)
    shares = shamir.split(secret, 255, 2)
    assert sorted(share[-1] for share in shares) == list(range(1, 256))
    assert shamir.combine([shares[17], shares[200]]) == secret


def test_x_coordinates_are_random() -> None:
    seen = {tuple(s[-1] for s in shamir.split(b"k", 3, 2)) for _ in range(20)}
    assert len(seen) > 1


@pytest.mark.parametrize(
    ("secret", "parts", "threshold"),
    [
        (b"", 2, 2),
        (b"k", 2, 1),
        (b"k", 2, 3),
        (b"k", 256, 2),
        (b"k", 300, 256),
    ],
)
def test_split_rejects_bad_arguments(secret: bytes, parts: int, threshold: int) -> None:
    with pytest.raises(InputError):
        shamir.split(secret, parts, threshold)


def test_combine_rejects_bad_shares() -> None:
    a, b, _ = shamir.split(b"secret", 3, 2)
    with pytest.raises(InputError, match="two shares"):
        shamir.combine([a])
    with pytest.raises(InputError, match="two shares"):
        shamir.combine([])
    with pytest.raises(InputError, match="different lengths"):
        shamir.combine([a, b[1:]])
    with pytest.raises(InputError, match="duplicate"):
        shamir.combine([a, a])
    with pytest.raises(InputError, match="at least two bytes"):
        shamir.combine([b"\x01", b"\x02"])


def test_known_field_arithmetic() -> None:
    # FIPS-197 section 4.2: {57} * {83} = {c1}; {57} * {13} = {fe}
    assert shamir._mul(0x57, 0x83) == 0xC1
    assert shamir._mul(0x57, 0x13) == 0xFE
    for a in range(1, 256):
        assert shamir._mul(a, shamir._div(1, a)) == 1


def test_known_answer() -> None:
    # Shares of secret b"\x2a" with the line y = 42 + 7x: x=1 -> 42^7, x=2 -> 42^(7*2)
    y1 = 0x2A ^ shamir._mul(7, 1)
    y2 = 0x2A ^ shamir._mul(7, 2)
    assert shamir.combine([bytes([y1, 1]), bytes([y2, 2])]) == b"\x2a"


# --- compatibility with sops -------------------------------------------------------------


def _keygen(path: Path) -> tuple[pyrage.x25519.Identity, str]:
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    path.write_text(f"# public key: {recipient}\n{identity}\n")
    return identity, recipient


def _sops_env(home: Path, **extra: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
    env.update(extra)
    return env


def _gcm_open(key: bytes, value: str, aad: str) -> bytes:
    match = ENC_RE.match(value)
    assert match is not None
    data = base64.b64decode(match["data"])
    iv = base64.b64decode(match["iv"])
    tag = base64.b64decode(match["tag"])
    return AESGCM(key).decrypt(iv, data + tag, aad.encode())


@pytest.fixture
def sops_key_groups_file(tmp_path: Path) -> tuple[Path, list[pyrage.x25519.Identity]]:
    require_tool("sops", str(SOPS))
    id1, r1 = _keygen(tmp_path / "k1.txt")
    id2, r2 = _keygen(tmp_path / "k2.txt")
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n"
        "  - shamir_threshold: 2\n"
        "    key_groups:\n"
        f"      - age:\n          - {r1}\n"
        f"      - age:\n          - {r2}\n"
    )
    (tmp_path / "plain.yaml").write_text("password: hunter2\nport: 5432\n")
    result = subprocess.run(
        [str(SOPS), "-e", "plain.yaml"],
        cwd=tmp_path,
        env=_sops_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    encrypted = tmp_path / "secret.enc.yaml"
    encrypted.write_text(result.stdout)
    return encrypted, [id1, id2]


def _data_key_from_groups(
    doc: dict[str, object], identities: list[pyrage.x25519.Identity]
) -> bytes:
    meta = doc["sops"]
    assert isinstance(meta, dict)
    groups = meta["key_groups"]
    assert len(groups) == 2
    shares = []
    for group, identity in zip(groups, identities, strict=True):
        (entry,) = group["age"]
        shares.append(pyrage.decrypt(entry["enc"].encode(), [identity]))
    assert all(len(share) == 33 for share in shares)
    assert shares[0][-1] != shares[1][-1]
    return shamir.combine(shares)


def test_combine_recovers_the_data_key_of_a_sops_file(
    sops_key_groups_file: tuple[Path, list[pyrage.x25519.Identity]],
) -> None:
    encrypted, identities = sops_key_groups_file
    doc = yaml.safe_load(encrypted.read_text())
    assert doc["sops"]["shamir_threshold"] == 2
    data_key = _data_key_from_groups(doc, identities)
    assert len(data_key) == 32
    lastmodified = doc["sops"]["lastmodified"]
    mac = _gcm_open(data_key, doc["sops"]["mac"], lastmodified)
    assert re.fullmatch(rb"[0-9A-F]{128}", mac)
    assert _gcm_open(data_key, doc["password"], "password:") == b"hunter2"
    # the shares combine in either order
    meta = doc["sops"]["key_groups"]
    shares = [
        pyrage.decrypt(group["age"][0]["enc"].encode(), [identity])
        for group, identity in zip(meta, identities, strict=True)
    ]
    assert shamir.combine(shares[::-1]) == data_key


def _indent_block(text: str, indent: int) -> str:
    pad = " " * indent
    return "".join(pad + line + "\n" for line in text.rstrip("\n").split("\n"))


def test_sops_decrypts_a_file_whose_key_was_split_by_us(
    sops_key_groups_file: tuple[Path, list[pyrage.x25519.Identity]], tmp_path: Path
) -> None:
    encrypted, identities = sops_key_groups_file
    text = encrypted.read_text()
    doc = yaml.safe_load(text)
    data_key = _data_key_from_groups(doc, identities)
    new_shares = shamir.split(data_key, 2, 2)
    for group, identity, share in zip(
        doc["sops"]["key_groups"], identities, new_shares, strict=True
    ):
        old = group["age"][0]["enc"]
        new = pyrage.encrypt(share, [identity.to_public()], armored=True).decode()
        old_block = _indent_block(old, 16)
        assert old_block in text
        text = text.replace(old_block, _indent_block(new, 16))
    encrypted.write_text(text)
    keys = tmp_path / "both.txt"
    keys.write_text(f"{identities[0]}\n{identities[1]}\n")
    result = subprocess.run(
        [str(SOPS), "-d", str(encrypted)],
        cwd=tmp_path,
        env=_sops_env(tmp_path, SOPS_AGE_KEY_FILE=str(keys)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == {"password": "hunter2", "port": 5432}
