"""codec/walk: what a decrypting walk refuses (with the file and line) and what it keeps,
on trees built in process with one data key, so ciphertexts can be moved between places."""

from __future__ import annotations

import pytest

from gitrot.codec import yaml_parse
from gitrot.codec.cipher import Cipher
from gitrot.codec.tree import Map, to_plain
from gitrot.codec.walk import Selector, decrypt_documents, encrypt_documents
from gitrot.errors import IntegrityError

CIPHER = Cipher(bytes(range(32)))
ALL = Selector("unencrypted_suffix", "_unencrypted")


def _tree(text: str) -> list[Map]:
    return yaml_parse.parse(text, filename="f.yaml")


def _sealed(text: str, selector: Selector = ALL) -> list[Map]:
    return encrypt_documents(_tree(text), CIPHER, selector, mac_only=False)[0]


def _open(docs: list[Map], selector: Selector = ALL) -> list[Map]:
    return decrypt_documents(docs, CIPHER, selector, mac_only=False, where="f.yaml")[0]


def _refusal(docs: list[Map]) -> str:
    with pytest.raises(IntegrityError) as caught:
        _open(docs)
    return caught.value.render()


def test_an_empty_list_comment_is_dropped_and_others_come_back() -> None:
    docs = _sealed("l:\n  #\n  # note\n  - a\n")
    items = docs[0].get("l").items  # type: ignore[union-attr]
    assert len(items) == 2 and str(items[0]).endswith(",type:comment]")
    back = _open(docs)
    assert [getattr(i, "text", i) for i in back[0].get("l").items] == [" note", "a"]  # type: ignore[union-attr]


def test_list_comments_outside_the_selector_stay_comments() -> None:
    only_a = Selector("encrypted_regex", "^a$")
    docs = _sealed("l:\n  # note\n  - x,type:comment]\n", only_a)
    assert to_plain(docs[0]) == {"l": ["x,type:comment]"]}
    back = _open(docs, only_a)
    assert [getattr(i, "text", i) for i in back[0].get("l").items] == [  # type: ignore[union-attr]
        " note",
        "x,type:comment]",
    ]


def test_a_tampered_list_comment_is_named_with_its_list() -> None:
    docs = _sealed("l:\n  # note\n  - a\n")
    comment = docs[0].get("l").items[0]  # type: ignore[union-attr]
    tampered = _tree(f"l:\n  - '{comment.replace('data:', 'data:A')}'\n  - a\n")  # type: ignore[union-attr]
    assert _refusal(tampered) == (
        "gitrot: error: an encrypted comment in the list at 'l' failed authentication (f.yaml:1)"
    )


def test_a_clear_value_where_one_is_encrypted_is_refused() -> None:
    assert _refusal(_tree("a: 5\n")) == (
        "gitrot: error: the value at 'a' should be encrypted but is not (f.yaml:1)"
    )


def test_a_comment_moved_into_a_value_is_refused() -> None:
    """A comment inside the map at 'd' and the value of 'd' share the AAD 'd:'."""
    docs = _sealed("d:\n  # note\n  e: x\n")
    comment = docs[0].get("d").items[0].text  # type: ignore[union-attr]
    assert _refusal(_tree(f"d: {comment}\n")) == (
        "gitrot: error: the value at 'd' is an encrypted comment (f.yaml:1)"
    )


def test_a_value_moved_into_a_comment_is_refused() -> None:
    value = to_plain(_sealed("d: x\n")[0])["d"]  # type: ignore[index]
    assert _refusal(_tree(f"d:\n  # {value}\n  e: x\n".replace("# ", "#", 1))) == (
        "gitrot: error: a comment holds an encrypted value (f.yaml:2)"
    )


def test_a_tampered_comment_is_refused_and_a_clear_one_kept() -> None:
    docs = _sealed("d:\n  # note\n  e: x\n")
    comment = docs[0].get("d").items[0].text  # type: ignore[union-attr]
    value = to_plain(docs[0])["d"]["e"]  # type: ignore[index]
    tampered = f"d:\n  #{comment.replace('data:', 'data:A')}\n  e: {value}\n"
    assert _refusal(_tree(tampered)) == (
        "gitrot: error: an encrypted comment failed authentication (f.yaml:2)"
    )
    kept = _open(_tree(f"d:\n  # clear\n  e: {value}\n"))
    assert kept[0].get("d").items[0].text == " clear"  # type: ignore[union-attr]
