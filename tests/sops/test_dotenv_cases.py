"""codec/dotenv_store, case by case: flattened sops metadata keys that collide are refused
at their line; values that are not strings are written as sops' ValueToString does."""

from __future__ import annotations

import pytest

from gitrot.codec import dotenv_store
from gitrot.codec.tree import Entry, Map, Seq, Value
from gitrot.errors import InputError

CONFLICTS = {
    "a value, then a map under the same key": ("sops_a=1\nsops_a__map_b=2\n", "a__map_b", 2),
    "a map, then a value under the same key": ("sops_a__map_b=1\nsops_a=2\n", "a", 2),
    "a list item's map, then a value at that index": (
        "sops_a__list_0__map_x=1\nsops_a__list_0=2\n",
        "0",
        2,
    ),
}


@pytest.mark.parametrize("case", sorted(CONFLICTS))
def test_conflicting_metadata_keys(case: str) -> None:
    text, name, line = CONFLICTS[case]
    with pytest.raises(InputError) as caught:
        dotenv_store.parse(text, filename="f.env")
    assert caught.value.render() == (
        f"gitrot: error: sops metadata keys conflict at '{name}' (f.env:{line})"
    )
    assert caught.value.hint == "the file's sops metadata is damaged; restore it from git history"


VALUES: list[tuple[Value, str]] = [
    (b"\xffa", "\ufffda"),  # bytes: UTF-8 with replacement characters
    (float("nan"), "NaN"),
    (float("-inf"), "-Inf"),
    (2.0, "2.0"),
    (1e21, "1E+21"),
    (None, "<nil>"),
    ("two\nlines", "two\\nlines"),
]


@pytest.mark.parametrize(("value", "text"), VALUES)
def test_value_text(value: Value, text: str) -> None:
    assert dotenv_store.emit([Map([Entry("K", value)])]) == f"K={text}\n"


def test_null_metadata_is_left_out() -> None:
    meta = Map([Entry("version", "3.11.0"), Entry("kms", None), Entry("age", Seq([]))])
    doc = Map([Entry("K", "v"), Entry("sops", meta)])
    assert dotenv_store.emit([doc]) == "K=v\nsops_version=3.11.0\n"
