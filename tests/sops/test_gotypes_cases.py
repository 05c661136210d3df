"""codec/gotypes, case by case: what go-yaml reads as a timestamp (and what it keeps as a
string), how sops' plaintext reads back (Go ParseFloat's hex floats, times that are not
Go's canonical text), and the characters YAML refuses. The YAML readings are checked against
the real sops 3.11 in one run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitrot.codec.gotypes import from_plaintext, has_control_chars, plaintext, resolve_plain
from gitrot.codec.tree import Scalar, Timestamp, to_plain
from gitrot.codec.yaml_parse import parse
from gitrot.errors import InputError
from tests.conftest import Key, run_sops

#: plain scalars near the timestamp syntax: each is a string unless go-yaml's layouts match
RESOLVED: dict[str, Scalar] = {
    "2024-123-4": "2024-123-4",  # a 3-digit month
    "2024-12-x0": "2024-12-x0",  # no day
    "2024-12-01x10:00:00": "2024-12-01x10:00:00",  # neither T, t nor a space
    "2024-12-01T1x:00:00": "2024-12-01T1x:00:00",  # no hour
    "2024-12-01T10:00": "2024-12-01T10:00",  # no seconds
    "2024-12-01T10:0x:00": "2024-12-01T10:0x:00",  # no minute
    "2024-12-01T10:00:x": "2024-12-01T10:00:x",
    "2024-12-01T10:00:00.xZ": "2024-12-01T10:00:00.xZ",  # a fraction without digits
    "2024-12-01T10:00:00z": "2024-12-01T10:00:00z",  # a lower-case zone
    "2024-12-01T10:00:00+25:00": "2024-12-01T10:00:00+25:00",  # an hour Go refuses
    "2024-12-01T10:00:00+23:61": "2024-12-01T10:00:00+23:61",
    "2024-12-01 10:00:00 +01:00": "2024-12-01 10:00:00 +01:00",  # a space and a zone
    "2024-12-01T10:00:00.000Z": Timestamp("2024-12-01T10:00:00Z"),  # a zero fraction
    "2024-12-01T10:00:00+23:59": Timestamp("2024-12-01T10:00:00+23:59"),
    "2024-12-01T10:00:00-00:00": Timestamp("2024-12-01T10:00:00Z"),
    ".5e999": ".5e999",  # a float out of range stays text
    "1e999": "1e999",
    "1ex": "1ex",  # an exponent without digits
    "1e+": "1e+",
}


@pytest.mark.parametrize("text", sorted(RESOLVED))
def test_resolve_plain(text: str) -> None:
    assert resolve_plain(text) == RESOLVED[text]


@pytest.mark.usefixtures("sops_and_age_keygen")
def test_sops_reads_them_alike(key: Key, tmp_path: Path) -> None:
    """One ``sops -e`` leaving every value clear, written as JSON: go-yaml's typing."""
    keys = sorted(RESOLVED)
    path = tmp_path / "in.yaml"
    path.write_text("".join(f"k{i}: {text}\n" for i, text in enumerate(keys)))
    out = run_sops(
        [
            "-e",
            "--age",
            key.recipient,
            "--unencrypted-regex",
            "^",
            "--output-type",
            "json",
            str(path),
        ],
        key=key,
    )
    assert out.returncode == 0, out.stderr.decode()
    got = json.loads(out.stdout)
    got.pop("sops")
    assert got == to_plain(parse(path.read_text())[0])
    assert got == {f"k{i}": to_plain(RESOLVED[text]) for i, text in enumerate(keys)}


OUT_OF_RANGE = ["+24:00", "+23:60"]


@pytest.mark.parametrize("zone", OUT_OF_RANGE)
def test_zone_sops_cannot_write_is_refused_at_its_line(zone: str) -> None:
    with pytest.raises(InputError) as caught:
        parse(f"a: 1\nb: 2024-12-01T10:00:00{zone}\n", filename="f.yaml")
    assert caught.value.render() == (
        f"gitrot: error: timestamp offset {zone} is out of range (sops cannot write it) (f.yaml:2)"
    )
    assert caught.value.hint == "quote the value to keep it as a string"


@pytest.mark.usefixtures("sops_and_age_keygen")
def test_sops_cannot_write_them_either(key: Key, tmp_path: Path) -> None:
    for zone in OUT_OF_RANGE:
        path = tmp_path / "in.yaml"
        path.write_text(f"b: 2024-12-01T10:00:00{zone}\n")
        out = run_sops(["-e", "--age", key.recipient, str(path)], key=key)
        assert out.returncode != 0
        assert "timezone hour outside of range" in out.stderr.decode()


FROM_PLAINTEXT: list[tuple[bytes, str, Scalar]] = [
    (b"0x1p-2", "float", 0.25),  # Go ParseFloat reads hexadecimal floats
    (b"-0x1.8p1", "float", -3.0),
    (b"2024-12-01T10:00:00", "time", Timestamp("2024-12-01T10:00:00")),  # no zone: kept
    (b"2024-13-01T00:00:00Z", "time", Timestamp("2024-13-01T00:00:00Z")),  # no month 13
    (b"2024-12-01T10:00:00+23:60", "time", Timestamp("2024-12-01T10:00:00+23:60")),
    (b"2024-12-01T10:00:00.500+00:00", "time", Timestamp("2024-12-01T10:00:00.5Z")),
]


@pytest.mark.parametrize(("data", "kind", "expected"), FROM_PLAINTEXT)
def test_from_plaintext(data: bytes, kind: str, expected: Scalar) -> None:
    assert from_plaintext(data, kind) == expected


@pytest.mark.parametrize("data", [b"0x1.gp1", b"0x1p"])
def test_bad_hex_float_is_not_a_number(data: bytes) -> None:
    with pytest.raises(InputError) as caught:
        from_plaintext(data, "float")
    assert caught.value.message == "a value of type float is not a number"


def test_null_has_no_plaintext() -> None:
    """sops leaves a null value out of the walk; asking for its bytes is a programming error."""
    with pytest.raises(TypeError, match="no sops plaintext for NoneType"):
        plaintext(None)


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("caf\u00e9 \u2028 \U0001f600", False),
        ("a\u0085b", False),
        ("a\ufffe", True),
        ("a\uffff", True),
        ("a\ud800", True),
        ("\u00e9\x7f", True),
        ("\u00e9\x01", True),
        ("\u00e9\t\r\n", False),
    ],
)
def test_has_control_chars(text: str, refused: bool) -> None:
    assert has_control_chars(text) is refused
