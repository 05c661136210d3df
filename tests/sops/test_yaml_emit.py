"""Emitter tests: round trips through our parser, and sops (go-yaml) as the oracle."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from gitrot.codec.tree import Comment, Entry, Map, Seq, Timestamp, Value, to_plain
from gitrot.codec.yaml_emit import emit
from gitrot.codec.yaml_parse import parse
from tests.conftest import FIXTURES
from tests.sops.test_yaml_parse import Sops, needs_sops, require_sops_and_age_keygen


@pytest.fixture(scope="module")
def sops(tmp_path_factory: pytest.TempPathFactory) -> Sops:
    require_sops_and_age_keygen()
    return Sops(tmp_path_factory.mktemp("sops-emit"))


def canon(value: Value | Comment) -> object:
    """A type-exact form; integral floats count as ints (go-yaml writes 1.0 as ``1``)."""
    if isinstance(value, Map):
        return (
            "map",
            tuple(
                ("#", it.text) if isinstance(it, Comment) else (it.key, canon(it.value))
                for it in value.items
            ),
        )
    if isinstance(value, Seq):
        return ("seq", tuple(canon(it) for it in value.items))
    if isinstance(value, Comment):
        return ("#", value.text)
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return ("int", int(value))
        return ("float", repr(value))
    return (type(value).__name__, value if not isinstance(value, Timestamp) else value.text)


# -- exact output -----------------------------------------------------------------------------

SOPS_STYLE = """\
# head
a: 1
big: 1e+06
f: 1.5
t: true
"n": null
ts: 2024-05-06T00:00:00Z
q1: "1"
q2: "yes"
"on": x
s1: 'a: b'
s2: ' lead'
s3: x#y
s4: 'x #y'
s5: "tab\\there"
s6: "a\\x01"
s7: é
s8: "\\U0001F600"
s9: '- x'
s10: -x
s11: "1:30"
e: ""
!!merge <<:
    z: 1
lit: |
    multi
    line
keep: |+
    k

strip: |-
    s
    t
lead: |4-
     sp
    x
m:
    # first
    k: v
    nested:
        deep: 1
    list:
        - a
        - b: 1
          c:
            - x
          d: |
            in item
        - - n1
          - n2
        - {}
        - []
    z: 1
    # last
empty: {}
none: []
? kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk
: v
? |-
    multi
    key
: v
---
b: 2
"""


def test_emit_known_layout() -> None:
    assert emit(parse(SOPS_STYLE)) == SOPS_STYLE


@needs_sops
def test_emit_is_byte_identical_to_sops(sops: Sops) -> None:
    assert sops.roundtrip(SOPS_STYLE) == SOPS_STYLE


def test_emit_comment_layout_and_deviations() -> None:
    doc = Map(
        [
            Entry("s", Seq([Map([Comment(" lead"), Entry("k", "v")]), Seq([Comment(" c"), 1])])),
            Entry("m", Map([Comment(" only")])),
            Entry("q", Seq([Comment(" only")])),
            Entry("n", Map([Entry("x", Map([Entry("w", 1)])), Comment(" after nested")])),
            Entry("sp", Seq([" lead\nx"])),
            Entry("ls", "a\u2028b"),
        ]
    )
    text = emit([doc])
    assert text == (
        "s:\n    -\n      # lead\n      k: v\n    -\n      # c\n      - 1\n"
        "m:\n    # only\n    {}\nq:\n    # only\n    []\n"
        '"n":\n    x:\n        w: 1\n    # after nested\n'
        "sp:\n    - |2-\n       lead\n      x\n"
        'ls: "a\\Lb"\n'
    )
    assert canon(parse(text)[0]) == canon(doc)
    assert emit([Map([Comment(" c")])]) == "# c\n{}\n"
    assert parse("# c\n{}\n") == [Map([Comment(" c")])]
    assert emit([Map(), Map([Entry("a", b"\xff")])]) == "{}\n---\na: !!binary /w==\n"


# -- random trees -----------------------------------------------------------------------------

TRICKY = [
    "",
    " ",
    "yes",
    "No",
    "on",
    "y",
    "~",
    "null",
    "true",
    "1",
    "0x1F",
    "017",
    "1e3",
    "1:30",
    ".5",
    "2024-01-02",
    "a: b",
    "a #b",
    "#x",
    "- x",
    "-",
    "---",
    "...",
    "'",
    '"',
    "\\",
    "x\n",
    "\n",
    "\n\n",
    " lead\nx",
    "a\n\n",
    "tab\there",
    "a \nb",
    "<<",
    "é",
    "\U0001f600",
    "\ufeffbom",
    "\x85\u2028\u2029",
    "\r\n",
    "k" * 130,
]
strings = st.one_of(st.sampled_from(TRICKY), st.text(max_size=20))
keys = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12))
scalars = st.one_of(
    strings,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.sampled_from([0.0, -0.0, 1.0, 1e21, 1e-7, 1234567.0]),
    st.booleans(),
    st.none(),
    st.sampled_from([Timestamp("2024-01-02T03:04:05.5Z"), Timestamp("2024-01-02T00:00:00+05:30")]),
)
comments = st.builds(
    Comment,
    st.text(
        st.characters(
            blacklist_categories=("Cc", "Cs"),
            blacklist_characters="\ufffe\uffff\u2028\u2029",
        ),
        max_size=10,
    ),
)


def _maps(children: st.SearchStrategy[Value]) -> st.SearchStrategy[Map]:
    entries = st.lists(st.tuples(keys, children), max_size=4, unique_by=lambda kv: kv[0])
    return st.builds(
        lambda kvs, cs, pos: Map(_interleave([Entry(k, v) for k, v in kvs], cs, pos)),
        entries,
        st.lists(comments, max_size=2),
        st.lists(st.integers(0, 5), min_size=2, max_size=2),
    )


def _seqs(children: st.SearchStrategy[Value]) -> st.SearchStrategy[Seq]:
    return st.builds(
        lambda vs, cs, pos: Seq(_interleave(vs, cs, pos)),
        st.lists(children, max_size=4),
        st.lists(comments, max_size=2),
        st.lists(st.integers(0, 5), min_size=2, max_size=2),
    )


def _interleave(items: list, cs: list[Comment], pos: list[int]) -> list:  # type: ignore[type-arg]
    out = list(items)
    for c, p in zip(cs, pos, strict=False):
        out.insert(min(p, len(out)), c)
    return out


values = st.recursive(scalars, lambda ch: st.one_of(_maps(ch), _seqs(ch)), max_leaves=12)
docs = st.lists(_maps(values), min_size=1, max_size=2)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs)
def test_round_trip_random_trees(tree: list[Map]) -> None:
    text = emit(tree)
    again = parse(text)
    assert [canon(d) for d in again] == [canon(d) for d in tree], text


def _jsonable(value: object) -> object:
    """JSON data with every number as a float (Go's JSON writes big floats as integers)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


@needs_sops
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: sops runs are slow
)
@given(
    st.lists(
        st.tuples(
            keys.filter(lambda k: k not in ("sops", "<<")),
            st.recursive(
                scalars.filter(lambda v: not (isinstance(v, float) and math.isinf(v))),
                lambda ch: st.one_of(_maps(ch), _seqs(ch)),
                max_leaves=8,
            ),
        ),
        min_size=1,
        max_size=5,
        unique_by=lambda kv: kv[0],
    )
)
def test_sops_reads_what_we_write(sops: Sops, kvs: list[tuple[str, Value]]) -> None:
    # "<<" is excluded: go-yaml rejects a merge key whose value is not a map; and sops
    # turns an empty comment inside a list into an empty string item
    if "'<<'" in repr(kvs) or "Comment('')" in repr(kvs):
        return
    tree = Map([Entry(k, v) for k, v in kvs])
    got = sops.as_json(emit([tree]))
    assert _jsonable(got) == _jsonable(json.loads(json.dumps(to_plain(tree))))


def test_upstream_fixture_round_trip() -> None:
    text = (FIXTURES / "sops-upstream" / "example.yaml").read_text()
    docs = parse(text)
    assert emit(docs) == text
