"""go-yaml v3 / sops scalar semantics (docs/sops-format.md 2.2, 9.1), checked against sops where it counts."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitrot.codec.gotypes import (
    format_float_go,
    format_float_yaml,
    from_plaintext,
    plaintext,
    resolve_plain,
)
from gitrot.codec.tree import Timestamp
from gitrot.errors import InputError
from tests.sops.test_yaml_parse import Sops, needs_sops

RESOLVE = [
    ("", None),
    ("~", None),
    ("Null", None),
    ("true", True),
    ("FALSE", False),
    ("yes", "yes"),
    ("on", "on"),
    ("17", 17),
    ("017", 15),
    ("08", 8.0),
    ("0x1F", 31),
    ("-0x1F", -31),
    ("0o17", 15),
    ("0b101", 5),
    ("1_000", 1000),
    ("0_", 0),
    ("_1", "_1"),
    ("+5", 5),
    ("-0", 0),
    ("1.50", 1.5),
    ("1.", 1.0),
    (".5", 0.5),
    ("-.5", -0.5),
    ("1e3", 1000.0),
    ("1e+21", 1e21),
    ("1e-400", 0.0),
    ("1e400", "1e400"),
    ("1_000.5", 1000.5),
    ("18446744073709551616", 1.8446744073709552e19),
    ("-9223372036854775809", -9.223372036854776e18),
    ("9223372036854775807", 2**63 - 1),
    ("0x", "0x"),
    ("1:30", "1:30"),
    ("2024-1-2", Timestamp("2024-01-02T00:00:00Z")),
    ("2024-01-02T3:4:5Z", Timestamp("2024-01-02T03:04:05Z")),
    ("2024-01-02t03:04:05.123456789123+05:30", Timestamp("2024-01-02T03:04:05.123456789+05:30")),
    ("2024-01-02 03:04:05.50", Timestamp("2024-01-02T03:04:05.5Z")),
    ("2024-01-02  03:04:05", Timestamp("2024-01-02T03:04:05Z")),
    ("2024-01-02T03:04:05,5-00:00", Timestamp("2024-01-02T03:04:05.5Z")),
    ("2024-02-30", "2024-02-30"),
    ("2024-01-02T03:04:05", "2024-01-02T03:04:05"),
    ("2024-01-02 03:04:05 +01:00", "2024-01-02 03:04:05 +01:00"),
    ("2024-01-02T24:00:00Z", "2024-01-02T24:00:00Z"),
    ("<<", "<<"),
]


@pytest.mark.parametrize(("text", "expected"), RESOLVE)
def test_resolve_plain(text: str, expected: object) -> None:
    got = resolve_plain(text)
    assert got == expected
    assert type(got) is type(expected)


def test_resolve_special_floats_and_uint64() -> None:
    assert math.isnan(resolve_plain(".NaN"))  # type: ignore[arg-type]
    assert resolve_plain("-.INF") == -math.inf
    with pytest.raises(InputError, match="64 bits"):
        resolve_plain("9223372036854775808")
    with pytest.raises(InputError, match="64 bits"):
        resolve_plain("0xFFFFFFFFFFFFFFFF")


@pytest.mark.parametrize(
    ("value", "data", "kind"),
    [
        ("é", "é".encode(), "str"),
        (True, b"True", "bool"),
        (False, b"False", "bool"),
        (-7, b"-7", "int"),
        (1.0, b"1", "float"),
        (1e21, b"1000000000000000000000", "float"),
        (1e-7, b"0.0000001", "float"),
        (-0.0, b"-0", "float"),
        (1.5, b"1.5", "float"),
        (math.inf, b"+Inf", "float"),
        (-math.inf, b"-Inf", "float"),
        (Timestamp("2024-01-02T00:00:00Z"), b"2024-01-02T00:00:00Z", "time"),
        (b"\xff", b"\xff", "bytes"),
    ],
)
def test_plaintext(value: object, data: bytes, kind: str) -> None:
    assert plaintext(value) == (data, kind)  # type: ignore[arg-type]


def test_plaintext_nan() -> None:
    assert plaintext(math.nan) == (b"NaN", "float")


def test_from_plaintext() -> None:
    assert from_plaintext(b"015", "int") == 15
    assert from_plaintext(b"-3", "int") == -3
    assert from_plaintext(b"1e3", "float") == 1000.0
    assert from_plaintext(b"+Inf", "float") == math.inf
    assert from_plaintext(b"Inf", "float") == math.inf
    assert math.isnan(from_plaintext(b"NaN", "float"))  # type: ignore[arg-type]
    for text in ("1", "t", "T", "TRUE", "true", "True"):
        assert from_plaintext(text.encode(), "bool") is True
    for text in ("0", "f", "F", "FALSE", "false", "False"):
        assert from_plaintext(text.encode(), "bool") is False
    assert from_plaintext(b"2024-01-02T03:04:05.500+00:00", "time") == Timestamp(
        "2024-01-02T03:04:05.5Z"
    )
    assert from_plaintext(b"junk", "time") == Timestamp("junk")
    assert from_plaintext(b"x", "str") == "x"
    assert from_plaintext(b"\xff", "bytes") == b"\xff"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"s3cr3t", "int"),
        (b"1_000", "int"),
        (b"9223372036854775808", "int"),
        (b"s3cr3t", "float"),
        (b"1e400", "float"),
        (b"yes", "bool"),
        (b"\xff", "str"),
        (b"x", "nope"),
    ],
)
def test_from_plaintext_errors_hide_the_value(data: bytes, kind: str) -> None:
    with pytest.raises(InputError) as info:
        from_plaintext(data, kind)
    assert data.decode("latin-1") not in info.value.message


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1000000.0, "1e+06"),
        (1e21, "1e+21"),
        (1.0, "1"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-0.0, "-0.0"),  # deliberately not go-yaml's "-0" (an int on reading: MAC mismatch)
        (1.5e-7, "1.5e-07"),
        (1.2345678901234568e29, "1.2345678901234568e+29"),
        (math.inf, ".inf"),
        (-math.inf, "-.inf"),
        (math.nan, ".nan"),
    ],
)
def test_format_float_yaml(value: float, text: str) -> None:
    assert format_float_yaml(value) == text


finite = st.floats(allow_nan=False, allow_infinity=False)


@given(finite)
def test_float_formats_round_trip(x: float) -> None:
    assert float(format_float_go(x)) == x
    again = resolve_plain(format_float_yaml(x))
    assert isinstance(again, (int, float)) and again == x
    assert "e" not in format_float_go(x)


@needs_sops
def test_float_writing_matches_sops(tmp_path: object) -> None:
    from pathlib import Path

    sops = Sops(Path(str(tmp_path)))
    values = [1e6, 1e21, 1.0, 1234567.0, 1e-5, 0.1, 123456789.0, 2.5e-300, 1.7976931348623157e308]
    text = "".join(f"v{i}: {v!r}\n" for i, v in enumerate(values))
    out = sops.roundtrip(text)
    assert out == "".join(f"v{i}: {format_float_yaml(v)}\n" for i, v in enumerate(values))
