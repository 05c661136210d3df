"""codec/metadata: a damaged ``sops:`` block is refused with one line naming the file and the
line of the block (exit 2) and the field that is wrong; nothing is decrypted or printed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gitrot.codec.metadata import AgeStanza, Metadata, from_map
from gitrot.codec.yaml_parse import parse
from tests.conftest import Key

SECRET = "hunter2-Sup3rSecret"


@pytest.fixture
def encrypted(gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    plain = tmp_path / "p.yaml"
    plain.write_text(f"db:\n    password: {SECRET}\n")
    out = tmp_path / "e.yaml"
    assert gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(out)).code == 0
    return out


def _sops_line(path: Path) -> int:
    return path.read_text().splitlines().index("sops:") + 1


def _edit(path: Path, pattern: str, replacement: str) -> None:
    text, count = re.subn(pattern, replacement, path.read_text(), count=1, flags=re.M)
    assert count == 1, pattern
    path.write_text(text)


STANZA = r"    age:\n        - recipient: (age1\w+)\n          enc: \|\n(?:            .*\n)+"


@pytest.mark.parametrize(
    ("pattern", "replacement", "message", "line"),
    [
        (r"^    mac: .*$", "    mac: 5", "sops metadata field 'mac' has the wrong type", "mac"),
        (
            r"^    unencrypted_suffix: .*$",
            "    unencrypted_suffix: _x\n    encrypted_regex: ^a",
            "sops metadata sets more than one of unencrypted_suffix, encrypted_suffix, "
            "unencrypted_regex, encrypted_regex, unencrypted_comment_regex, "
            "encrypted_comment_regex",
            "sops",
        ),
        (r"^    mac: .*\n", "", "sops metadata lacks 'lastmodified' or 'mac'", "sops"),
        (r"^    lastmodified: .*\n", "", "sops metadata lacks 'lastmodified' or 'mac'", "sops"),
        (r"^    version: .*$", "    version: '3.7'", "not a full X.Y.Z version", "sops"),
        (r"^    version: .*\n", "", "not a full X.Y.Z version", "sops"),
        (STANZA, "    age: []\n", "the file has no age recipients", "sops"),
        (STANZA, "    age: none\n", "sops metadata 'age' is not a list", "sops"),
        (STANZA, "    key_groups:\n        - age\n", "a sops key group is not a mapping", "sops"),
        (
            r"(?<=\n)          enc: \|\n(?:            .*\n)+",
            "",
            "a sops 'age' entry lacks 'recipient' or 'enc'",
            "recipient",
        ),
    ],
)
def test_a_damaged_sops_block_is_refused_with_its_line(
    gitrot, encrypted: Path, pattern: str, replacement: str, message: str, line: str
) -> None:
    _edit(encrypted, pattern, replacement)
    text = encrypted.read_text()
    start = _sops_line(encrypted)
    number = start + 1  # a mapping's line is its first entry's
    if line != "sops":
        number = next(
            i + 1
            for i, row in enumerate(text.splitlines())
            if row.lstrip(" -").startswith(f"{line}:") and i + 1 > start
        )
    result = gitrot("decrypt", str(encrypted))
    assert result.code == 2 and result.out == ""
    first = result.err.splitlines()[0]
    assert first.startswith("gitrot: error: ") and first.endswith(f" ({encrypted}:{number})")
    assert message in first
    assert SECRET not in result.err


def test_a_file_for_other_key_types_says_which(gitrot, encrypted: Path) -> None:
    _edit(encrypted, STANZA, "    pgp:\n        - fp: ABCDEF\n          enc: x\n    age: []\n")
    result = gitrot("decrypt", str(encrypted))
    assert result.code == 2
    assert result.err.splitlines() == [
        f"gitrot: error: the file has no age recipients ({encrypted}:{_sops_line(encrypted) + 1})",
        "hint: gitrot opens files encrypted for age keys only; this one uses pgp",
    ]


def test_a_key_group_without_age_counts_its_other_key_types(gitrot, encrypted: Path) -> None:
    _edit(encrypted, STANZA, "    key_groups:\n        - pgp:\n            - fp: ABCDEF\n")
    result = gitrot("decrypt", str(encrypted))
    assert result.code == 2
    assert "the file has no age recipients" in result.err
    assert "hint: gitrot opens files encrypted for age keys only; this one uses pgp" in result.err


def test_a_sops_block_that_is_not_a_mapping(gitrot, encrypted: Path) -> None:
    text = encrypted.read_text()
    encrypted.write_text(text[: text.index("sops:")] + "sops: 5\n")
    result = gitrot("decrypt", str(encrypted))
    assert result.code == 2
    assert "the 'sops' metadata is not a mapping" in result.err.splitlines()[0]
    assert str(encrypted) in result.err.splitlines()[0]


def test_an_age_entry_that_is_not_a_mapping_is_skipped(gitrot, encrypted: Path) -> None:
    """sops reads only mappings in the list; a stray scalar beside the real stanza is
    ignored, and the file opens."""
    _edit(encrypted, r"^    age:\n", "    age:\n        - stray\n")
    result = gitrot("decrypt", str(encrypted))
    assert result.code == 0, result.err
    assert SECRET in result.out


def test_the_block_round_trips_with_mac_only_and_key_groups() -> None:
    block = (
        "sops:\n"
        "    key_groups:\n"
        "        - age:\n"
        "            - recipient: age1a\n"
        "              enc: A\n"
        "        - age:\n"
        "            - recipient: age1b\n"
        "              enc: B\n"
        "    lastmodified: '2024-01-01T00:00:00Z'\n"
        "    mac: ENC[x]\n"
        "    encrypted_regex: ^data$\n"
        "    mac_only_encrypted: true\n"
        "    version: 3.11.0\n"
    )
    meta = from_map(parse(block)[0].get("sops"), where="f.yaml")
    assert meta.recipients() == [["age1a"], ["age1b"]]
    assert meta.threshold == 0 and meta.mac_only_encrypted
    assert meta.selector == ("encrypted_regex", "^data$")
    assert repr(meta.groups[0][0]) == "AgeStanza('age1a')"  # never the wrapped key
    written = meta.to_map()
    assert [e.key for e in written.entries()] == [
        "key_groups",
        "lastmodified",
        "mac",
        "encrypted_regex",
        "mac_only_encrypted",
        "version",
    ]
    again = from_map(written, where="f.yaml")
    assert again.recipients() == meta.recipients() and again.mac_only_encrypted


def test_a_threshold_is_written_before_the_groups() -> None:
    meta = Metadata(groups=[[AgeStanza("age1a", "A")], [AgeStanza("age1b", "B")]], threshold=2)
    assert [e.key for e in meta.to_map().entries()][:2] == ["shamir_threshold", "key_groups"]
