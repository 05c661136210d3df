"""codec/yaml_edit: edits that change only the lines they must, and refusals (naming the file
and line, with a hint) wherever an in-place edit could not be shown to mean what it says."""

from __future__ import annotations

import pytest

from gitrot.codec.tree import Timestamp
from gitrot.codec.yaml_edit import Document
from gitrot.errors import EXIT_INPUT, InputError

HINT = "write that field as a plain 'key: value' line and try again"


def _set(text: str, path: tuple[str, ...], value: object) -> str:
    doc = Document(text, where="f.yaml")
    doc.set(path, value)  # type: ignore[arg-type]
    return doc.text


@pytest.mark.parametrize(
    ("before", "value", "after"),
    [
        ("spec:\n  version: 3 # c\n", 4, "spec:\n  version: 4 # c\n"),
        ("spec:\n  version: '3'\n", 4, "spec:\n  version: 4\n"),  # an int is never quoted
        ("spec:\n  version: 3\n", "4", 'spec:\n  version: "4"\n'),  # a str that reads as int
        ('spec:\n  version: "3"  # c\n', "x", 'spec:\n  version: "x"  # c\n'),
        ("spec:\n  version: 3", 5, "spec:\n  version: 5"),  # no newline at the end
        ("spec:\n  'rea''son': 'a''b'\n", "new", "spec:\n  'rea''son': 'new'\n"),
        ('spec:\n  "reason": 1\n', "new", 'spec:\n  "reason": new\n'),
        ("spec:\n  reason: |\n    a\n    b\n  x: 1\n", "new", "spec:\n  reason: new\n  x: 1\n"),
        ("spec:\n  reason: a:b\n", "c", "spec:\n  reason: c\n"),  # ':' not followed by a space
        ("spec:\n  url:x: 1\n", 2, "spec:\n  url:x: 2\n"),  # ... in the key too
        ('spec:\n  reason: "a\\"b" # c\n', "d", 'spec:\n  reason: "d" # c\n'),  # an escape
        (
            "spec:\n  when: 2020-01-01\n",
            Timestamp("2021-02-03T04:05:06Z"),
            "spec:\n  when: 2021-02-03T04:05:06Z\n",
        ),
    ],
)
def test_set_rewrites_only_the_value(before: str, value: object, after: str) -> None:
    assert _set(before, _path(before), value) == after


def _path(text: str) -> tuple[str, ...]:
    for key in ("rea'son", "reason", "version", "when", "url:x"):
        if key.replace("'", "''") in text or key in text:
            return ("spec", key)
    raise AssertionError(text)


@pytest.mark.parametrize(
    ("text", "why", "line"),
    [
        ("spec:\n  reason: a\n    b\n  x: 1\n", "its value continues on the next lines", 2),
        ("spec:\n  reason: {a: 1}\n", "it is written in flow style or with a tag", 2),
        ("spec:\n  reason: !!str a\n", "it is written in flow style or with a tag", 2),
        ("spec:\n  reason: &r a\n", "it is written in flow style or with a tag", 2),
        ('spec:\n  reason: "a\n    b"\n', "its quoted value spans several lines", 2),
        ("spec:\n  reason: 'a\n    b'\n", "its quoted value spans several lines", 2),
        ("spec:\n  ? reason\n  : 3\n", "its key is not at the start of the line", 2),
        ('spec:\n  "reason" : 3\n', "its key is not at the start of the line", 2),
        ("spec: {reason: 1}\n", "it is written in flow style or with a tag", 1),
    ],
)
def test_set_refuses_what_it_cannot_edit_in_place(text: str, why: str, line: int) -> None:
    doc = Document(text, where="f.yaml")
    with pytest.raises(InputError) as caught:
        doc.set(("spec", "reason"), "new")
    assert caught.value.render() == (
        f"gitrot: error: cannot edit 'spec.reason' in place: {why} (f.yaml:{line})"
    )
    assert caught.value.hint == HINT and caught.value.exit_code == EXIT_INPUT
    assert doc.text == text  # nothing half-edited


def test_an_edit_that_an_alias_would_repeat_is_refused() -> None:
    """An anchored mapping is read again through its alias: changing one line would change
    two values, which is not the edit asked for."""
    text = "spec: &s\n  version: 3\n  reason: a\n  value:\n    x: 1\nother: *s\n"
    doc = Document(text, where="f.yaml")
    for edit in (
        lambda: doc.set(("spec", "version"), 4),
        lambda: doc.insert_after(("spec", "reason"), "emergency", True),
        lambda: doc.replace_block(("spec", "value"), "sealed", "x.yaml"),
    ):
        with pytest.raises(InputError, match="the result does not read back as intended"):
            edit()
        assert doc.root.get("other") is not None


@pytest.mark.parametrize(
    ("path", "text"),
    [(("spec", "nope"), "spec:\n  reason: 1\n"), (("spec", "nope"), "spec: 1\n")],
)
def test_a_missing_field_is_named(path: tuple[str, ...], text: str) -> None:
    with pytest.raises(InputError) as caught:
        Document(text, where="f.yaml").set(path, 1)
    assert caught.value.render() == "gitrot: error: 'spec.nope' is missing (f.yaml)"


def test_several_documents_are_refused() -> None:
    with pytest.raises(InputError) as caught:
        Document("a: 1\n---\nb: 2\n", where="f.yaml")
    assert caught.value.render() == "gitrot: error: expected exactly one YAML document (f.yaml)"


def test_insert_after_goes_past_the_siblings_block_and_keeps_comments() -> None:
    doc = Document("spec:\n  reason: |\n    a\n  # c\n  x: 1\n", where="f.yaml")
    doc.insert_after(("spec", "reason"), "emergency", True)
    assert doc.text == "spec:\n  reason: |\n    a\n  emergency: true\n  # c\n  x: 1\n"
    assert doc.root.get("spec").get("emergency") is True  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            "spec:\n  value:\n    generate:\n      length: 3\n  x: 1\n",
            "spec:\n  value:\n    sealed: a.yaml\n  x: 1\n",
        ),
        (  # the children's indentation is kept
            "spec:\n  value:   # how\n      generate: {}\n  x: 1\n",
            "spec:\n  value:\n      sealed: a.yaml\n  x: 1\n",
        ),
        ("spec:\n  value: 3\n  x: 1\n", "spec:\n  value:\n    sealed: a.yaml\n  x: 1\n"),
    ],
)
def test_replace_block_leaves_one_key(before: str, after: str) -> None:
    doc = Document(before, where="f.yaml")
    doc.replace_block(("spec", "value"), "sealed", "a.yaml")
    assert doc.text == after
