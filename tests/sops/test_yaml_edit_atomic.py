"""codec/yaml_edit: an edit is all or nothing; after a refusal the document (its text and its
tree) is exactly what it was, so a caller that catches the refusal never writes a half edit."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gitrot.codec.tree import to_plain
from gitrot.codec.yaml_edit import Document
from gitrot.errors import InputError

ALIASED = "spec: &s\n  version: 3\n  reason: a\n  value:\n    x: 1\nother: *s\n"

EDITS: dict[str, Callable[[Document], None]] = {
    "set": lambda doc: doc.set(("spec", "version"), 4),
    "insert_after": lambda doc: doc.insert_after(("spec", "reason"), "emergency", True),
    "replace_block": lambda doc: doc.replace_block(("spec", "value"), "sealed", "x.yaml"),
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_a_refused_edit_leaves_the_document_unchanged(name: str) -> None:
    doc = Document(ALIASED, where="f.yaml")
    tree = to_plain(doc.root)
    with pytest.raises(InputError, match="the result does not read back as intended"):
        EDITS[name](doc)
    assert doc.text == ALIASED
    assert to_plain(doc.root) == tree


def test_a_refusal_after_good_edits_keeps_the_good_edits_only() -> None:
    """rotate makes several edits in a row: the ones that succeeded stay, the refused one
    leaves no trace, and the document still accepts further edits."""
    text = "spec:\n  version: 3\n  reason: a\n  other: &o 1\n  copy: *o\n"
    doc = Document(text, where="f.yaml")
    doc.set(("spec", "version"), 4)
    with pytest.raises(InputError, match=r"cannot edit 'spec\.other' in place"):
        doc.set(("spec", "other"), 2)
    assert doc.text == text.replace("version: 3", "version: 4")
    doc.set(("spec", "reason"), "b")
    assert doc.text == "spec:\n  version: 4\n  reason: b\n  other: &o 1\n  copy: *o\n"
    assert to_plain(doc.root) == {"spec": {"version": 4, "reason": "b", "other": 1, "copy": 1}}


def test_an_edit_whose_result_does_not_parse_leaves_the_document_unchanged() -> None:
    """A key the parser refuses on the way back (a duplicate) is refused with the document
    untouched."""
    text = "spec:\n  reason: a\n  emergency: false\n"
    doc = Document(text, where="f.yaml")
    with pytest.raises(InputError, match="duplicate key 'emergency'"):
        doc.insert_after(("spec", "reason"), "emergency", True)
    assert doc.text == text
    assert to_plain(doc.root) == {"spec": {"reason": "a", "emergency": False}}
