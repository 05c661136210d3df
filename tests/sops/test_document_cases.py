"""codec/document, case by case: the MAC's additional data from ``lastmodified`` (Go's
RFC 3339 at second precision), the store chosen for a format, and the refusals of files and
options that cannot be encrypted or decrypted."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gitrot.codec.document import EncryptOptions, SopsFile, detect_format, emit, mac_aad
from gitrot.codec.tree import Entry, Map
from gitrot.errors import GitrotError, InputError, IntegrityError

MAC_AAD = {
    "2024-01-02T03:04:05Z": "2024-01-02T03:04:05Z",
    "2024-01-02T03:04:05.123456Z": "2024-01-02T03:04:05Z",
    "2024-01-02T03:04:05+00:00": "2024-01-02T03:04:05Z",
    "2024-01-02T03:04:05+01:00": "2024-01-02T03:04:05+01:00",
    "2024-01-02T03:04:05.5-00:30": "2024-01-02T03:04:05-00:30",
}


@pytest.mark.parametrize("lastmodified", sorted(MAC_AAD))
def test_mac_aad(lastmodified: str) -> None:
    assert mac_aad(lastmodified) == MAC_AAD[lastmodified]


@pytest.mark.parametrize(
    ("lastmodified", "message"),
    [
        ("yesterday", "invalid lastmodified timestamp 'yesterday'"),
        ("2024-01-02T03:04:05", "lastmodified '2024-01-02T03:04:05' has no time zone"),
    ],
)
def test_mac_aad_refuses(lastmodified: str, message: str) -> None:
    with pytest.raises(IntegrityError) as caught:
        mac_aad(lastmodified)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("path", "override", "fmt"),
    [
        ("a/b.YML", None, "yaml"),
        ("a/.env", None, "dotenv"),
        ("a/key.pem", None, "binary"),
        ("a/b.yaml", "json", "json"),
    ],
)
def test_detect_format(path: str, override: str | None, fmt: str) -> None:
    assert detect_format(path, override) == fmt


REFUSALS: list[tuple[Callable[[], object], str]] = [
    (lambda: detect_format("a.yaml", "toml"), "unknown file format 'toml'"),
    (lambda: emit([Map([Entry("data", 1)])], "binary"), "a binary sops file must hold one string under 'data'"),
    (lambda: emit([], "binary"), "a binary sops file must hold one string under 'data'"),
    (
        lambda: SopsFile.parse("a: 1\n", fmt="yaml", where="f.yaml"),
        "not a sops-encrypted file (no 'sops' metadata) (f.yaml)",
    ),
    (lambda: EncryptOptions(groups=[]), "no age recipients to encrypt for"),
    (lambda: EncryptOptions(groups=[["age1x"], []]), "no age recipients to encrypt for"),
    (
        lambda: EncryptOptions(groups=[["age1x"], ["age1y"]], threshold=3),
        "shamir_threshold 3 is not between 2 and the 2 key groups",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("call", "message"), REFUSALS)
def test_refusals(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InputError) as caught:
        call()
    assert caught.value.render() == f"gitrot: error: {message}"
    assert isinstance(caught.value, GitrotError) and caught.value.exit_code == 2
