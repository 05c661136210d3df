"""codec/yaml_emit, case by case: how a string is quoted (YAML 1.1 sexagesimal look-alikes,
values that only look like a number or a time, a space after a line break), checked
byte for byte against the real sops 3.11 in one run; one-line scalars for in-place edits;
comments that cannot be written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitrot.codec.tree import Comment, Entry, Map, Scalar, Seq, Timestamp
from gitrot.codec.yaml_emit import emit, inline_scalar
from gitrot.codec.yaml_parse import parse
from gitrot.errors import InputError
from tests.conftest import Key, run_sops

#: a string value and how go-yaml writes it after ``k:``
STRINGS: dict[str, str] = {
    "1:30": '"1:30"',  # YAML 1.1 sexagesimal: quoted
    "+1:30": '"+1:30"',
    "12:5:07.5": '"12:5:07.5"',
    "1:30._": '"1:30._"',
    "1:30.x": "1:30.x",  # not sexagesimal: a fraction that is not digits
    "1:300": "1:300",  # a part of three digits
    "1:60": "1:60",  # a part above 59
    "9223372036854775808": '"9223372036854775808"',  # would read as a uint64
    "2024-12-01T10:00:00+24:00": '"2024-12-01T10:00:00+24:00"',  # a zone sops refuses
    "a\n b": "|-\n    a\n     b",  # a space after a line break: a literal block
    "a\n b\n": "|\n    a\n     b",
    "x\n\n y": "|-\n    x\n\n     y",
}


def _document() -> str:
    return "".join(f"k{i}: {json.dumps(s)}\n" for i, s in enumerate(STRINGS))


def test_strings() -> None:
    expected = "".join(f"k{i}: {out}\n" for i, out in enumerate(STRINGS.values()))
    assert emit(parse(_document())) == expected


@pytest.mark.usefixtures("sops_and_age_keygen")
def test_strings_byte_identical_to_sops(key: Key, tmp_path: Path) -> None:
    path = tmp_path / "in.yaml"
    path.write_text(_document(), encoding="utf-8")
    out = run_sops(["-e", "--age", key.recipient, "--unencrypted-regex", "^", str(path)], key=key)
    assert out.returncode == 0, out.stderr.decode()
    theirs = out.stdout.decode().split("sops:\n")[0]
    assert emit(parse(_document())) == theirs


INLINE: list[tuple[Scalar, str, str]] = [
    (None, "", "null"),
    (True, "", "true"),
    (7, "", "7"),
    (1.5, "", "1.5"),
    (1e6, "", "1e+06"),
    (Timestamp("2024-01-02T00:00:00Z"), "", "2024-01-02T00:00:00Z"),
    ("plain", "", "plain"),
    ("plain", "'", "'plain'"),  # keeps the quoting of the text it replaces
    ("it's", "'", "'it''s'"),
    ("plain", '"', '"plain"'),
    ("a\nb", "'", '"a\\nb"'),  # a line break: double-quoted, on one line
    ("yes", "", '"yes"'),
]


@pytest.mark.parametrize(("value", "quote", "text"), INLINE)
def test_inline_scalar(value: Scalar, quote: str, text: str) -> None:
    assert inline_scalar(value, quote=quote) == text


def test_inline_binary_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        inline_scalar(b"\xff")
    assert caught.value.render() == "gitrot: error: binary values cannot be written inline"


@pytest.mark.parametrize(
    "tree",
    [
        Map([Entry("a", 1), Comment(" two\nlines")]),
        Map([Entry("a", Seq([1, Comment(" bell \x07")]))]),
        Map([Comment(" next\u2028line")]),
    ],
)
def test_comment_that_cannot_be_written(tree: Map) -> None:
    with pytest.raises(InputError) as caught:
        emit([tree])
    assert caught.value.message == (
        "a comment contains a line break or a control character and cannot be written"
    )
