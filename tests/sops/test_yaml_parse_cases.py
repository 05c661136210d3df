"""codec/yaml_parse, case by case: flow collections, block scalars, tags, comment placement,
document markers and refusals. Each readable case has the tree gitrot reads; the real sops
3.11 reads the same values and puts the comments in the same containers (one sops run for
all of them). Each refused case has its one-line error at file:line, and sops refuses it too
(at the same line where sops names one), except the divergences listed in GITROT_ONLY and
GITROT_READS."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from gitrot.codec.tree import Comment, Entry, Map, Seq, Timestamp, Value, to_plain
from gitrot.codec.yaml_parse import parse
from gitrot.errors import EXIT_INPUT, InputError
from tests.conftest import Key, run_sops


def shape(node: Value) -> object:
    """The tree as plain data; a container's comments (texts in order) under the key "#"."""
    if isinstance(node, Map):
        out: dict[str, object] = {it.key: shape(it.value) for it in node.entries()}
        notes = [it.text for it in node.items if isinstance(it, Comment)]
        if notes:
            out["#"] = notes
        return out
    if isinstance(node, Seq):
        items = [shape(it) for it in node.items if not isinstance(it, Comment)]
        notes = [it.text for it in node.items if isinstance(it, Comment)]
        return [*items, {"#": notes}] if notes else items
    return node


READ: dict[str, tuple[str, object]] = {
    # documents and markers
    "a byte order mark": ("\ufeffa: 1\n", {"a": 1}),
    "'...' then blank lines: no empty document": ("a: 1\n...\n\n", {"a": 1}),
    "a root indented by two": ("  a: 1\n# c\n  b: 2\n", {"a": 1, "b": 2, "#": [" c"]}),
    # keys
    "an anchor on a key": ("&k a: 1\nb: *k\n", {"a": 1, "b": "a"}),
    "a tag on a key": ("!!str a: 1\n", {"a": 1}),
    "a '? ' key with an inline comment": ("? a # c\n: 1\n", {"a": 1, "#": [" c"]}),
    "an anchor on a key in a list item": (
        "l:\n- &k b: 1\n- *k\n",
        {"l": [{"b": 1}, "b"]},
    ),
    "' #' before ':' makes a value, not a key": ("a:\n  b # c: 1\n", {"a": "b", "#": [" c: 1"]}),
    # plain scalars
    "a tab before an inline comment": ("a: x\t# c\n", {"a": "x", "#": [" c"]}),
    "a continued plain scalar ending in a comment": (
        "a: x\n  y # c\nb: 1\n",
        {"a": "x y", "b": 1, "#": [" c"]},
    ),
    # block scalars
    "a block scalar after a blank line": ("a: |\n\n  x\n", {"a": "\nx\n"}),
    "an empty block scalar": ("a: |\nb: 1\n", {"a": "", "b": 1}),
    "a block scalar header with a comment": ("a: | # c\n  x\n", {"a": "x\n", "#": [" c"]}),
    # tags
    "verbatim core tags": (
        'a: !<tag:yaml.org,2002:str> 1\nb: !<tag:yaml.org,2002:int> "2"\n',
        {"a": "1", "b": 2},
    ),
    "verbatim tags in a flow list": (
        "a: [!<tag:yaml.org,2002:str> 1, !<!local> 2]\n",
        {"a": ["1", "2"]},
    ),
    "the non-specific tag '!' resolves as untagged": (
        "a: ! 1\nb: ! true\nc: ! x\nd: !\n",
        {"a": 1, "b": True, "c": "x", "d": None},
    ),
    "an unknown tag keeps a string": (
        "a: !foo 1\nb: !!foo true\nc: !foo ~\nd: !foo\ne: !foo [1]\n",
        {"a": "1", "b": "true", "c": "~", "d": "", "e": [1]},
    ),
    "core tags in a flow list": (
        'a: [!!str 1, !!int "2", !!bool true, !!null ~, !!float 3]\n',
        {"a": ["1", 2, True, None, 3.0]},
    ),
    "an anchor and a tag on one value": ("a: &x !!str 1\nb: *x\n", {"a": "1", "b": "1"}),
    "!!str on a collection is ignored": ("a: !!str [1]\nb: !!int {c: 1}\n", {"a": [1], "b": {"c": 1}}),
    "empty !!binary": ("a: !!binary\n", {"a": ""}),
    # flow collections
    "a plain scalar over lines in a flow list": (
        "a: [b\n  c, d\n  , e\n  ]\n",
        {"a": ["b c", "d", "e"]},
    ),
    "a pair in a flow list": ("a: [b: 1, c]\n", {"a": [{"b": 1}, "c"]}),
    "an explicit key in a flow map": ("a: {? b : 1}\n", {"a": {"b": 1}}),
    "a flow map value left empty": ("a: {b: , c: 1}\n", {"a": {"b": None, "c": 1}}),
    "a comment after a flow plain value": ("a: [b #c\n]\n", {"a": ["b"], "#": ["c"]}),
    "a comment inside a flow map goes to the block container": (
        "a: {b: 1, # c\n d: 2}\n",
        {"a": {"b": 1, "d": 2}, "#": [" c"]},
    ),
    "a root flow map keeps its comments": (
        "{a: 1, # c\n b: [2, # d\n 3]}\n",
        {"a": 1, "b": [2, 3], "#": [" c", " d"]},
    ),
}  # fmt: skip

#: comments inside a flow collection: gitrot puts them in the enclosing block container (the
#: document's root for a root flow collection); go-yaml moves each into one of the flow
#: collections around it. The values are the same; sops never writes flow collections.
FLOW_COMMENTS = {
    "a comment after a flow plain value",
    "a comment inside a flow map goes to the block container",
    "a root flow map keeps its comments",
}
#: read by gitrot, refused by go-yaml: a '...' with no document before it
GITROT_READS = {"'...' before the first document": ("...\na: 1\n", {"a": 1})}


@pytest.mark.parametrize("case", sorted(READ) + sorted(GITROT_READS))
def test_read(case: str) -> None:
    text, expected = READ.get(case) or GITROT_READS[case]
    docs = parse(text, filename="f.yaml")
    assert len(docs) == 1
    assert shape(docs[0]) == expected


def _is_sops_comment(item: object) -> bool:
    return isinstance(item, str) and item.endswith("type:comment]")


def _comment_counts(node: Map | Seq, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """How many comments each container holds (sops writes a list's comments as items)."""
    found = {path: sum(isinstance(it, Comment) or _is_sops_comment(it) for it in node.items)}
    for it in node.items:
        child, sub = (it.value, (*path, it.key)) if isinstance(it, Entry) else (it, path)
        if isinstance(child, (Map, Seq)):
            for where, n in _comment_counts(child, sub).items():
                found[where] = found.get(where, 0) + n
    return {where: n for where, n in found.items() if n}


def _values(node: Value) -> object:
    """to_plain without sops' encrypted comment items."""
    if isinstance(node, Seq):
        items = [it for it in node.items if not isinstance(it, Comment)]
        return [_values(it) for it in items if not _is_sops_comment(it)]
    if isinstance(node, Map):
        return {it.key: _values(it.value) for it in node.entries()}
    return to_plain(node)


@pytest.mark.usefixtures("sops_and_age_keygen")
def test_sops_reads_them_alike(key: Key, tmp_path: Path) -> None:
    """All cases as the documents of one stream: one ``sops -e`` that leaves values clear
    (comments are encrypted in place), then gitrot reads sops' output back."""
    cases = sorted(READ, key=lambda case: (not READ[case][0].startswith("\ufeff"), case))
    path = tmp_path / "all.yaml"
    path.write_text("---\n".join(READ[case][0] for case in cases), encoding="utf-8")
    out = run_sops(["-e", "--age", key.recipient, "--unencrypted-regex", "^", str(path)], key=key)
    assert out.returncode == 0, out.stderr.decode()
    docs = parse(out.stdout.decode())
    assert len(docs) == len(cases)
    for case, doc in zip(cases, docs, strict=True):
        doc.items = [it for it in doc.items if not (isinstance(it, Entry) and it.key == "sops")]
        mine = parse(READ[case][0])[0]
        assert _values(doc) == _values(mine), case
        if case not in FLOW_COMMENTS:
            assert _comment_counts(doc) == _comment_counts(mine), case


REFUSED: dict[str, tuple[str, str, int]] = {
    "content after a flow root": ("{a: 1}\nb: 2\n", "unexpected content after the document root", 2),
    "a list item as a value on the key's line": (
        "a: - b\n", "block sequence entries are not allowed in this context", 1,
    ),
    "an anchor with no key after it": ("a: 1\n&x\n", "a mapping key is missing after its tag or anchor", 2),
    "a '? ' key with ':' glued to its value": ("? a\n:b\n", "could not find the ':' after a mapping key", 2),
    "a seq tagged !!map": ("a: !!map\n  - 1\n", "a value tagged !!map is not a mapping", 2),
    "a map tagged !!seq": ("a: !!seq\n  b: 1\n", "a value tagged !!seq is not a sequence", 2),
    "a document marker in a quoted scalar": ('a: "x\n--- y"\n', "a document marker inside a quoted scalar", 2),
    "an escape beyond Unicode": ('a: "\\U00110000"\n', "invalid Unicode escape", 1),
    "a tab in a block scalar's blank line": ("a: |\n  x\n \t\n  y\n", "tab characters must not be used for indentation", 3),
    "a flow comment at the end of the file": ("a: [1 # c", "unterminated flow collection (missing ']')", 1),
    "a flow '?' at the end of the file": ("a: {?\n", "unexpected end of a flow collection", 1),
    "a flow anchor at the end of the file": ("a: [&x", "unexpected end of a flow collection", 1),
    "a duplicate key in a flow map": ("a: {b: 1, b: 2}\n", "duplicate key 'b' (first at line 1)", 1),
    "invalid base64": ('a: !!binary "%%%"\n', "invalid base64 in a !!binary value", 1),
    "an empty !!int": ("a: !!int\n", "cannot read this value as !!int", 1),
    "a verbatim tag without '>'": ("a: !<x\n", "a verbatim tag '!<...>' is missing its '>'", 1),
    "a key on a plain scalar's next line": ("a: x\n  b: c\n", "mapping values are not allowed in this context", 2),
    "text after a block scalar header": ("a: | x\n", "unexpected text after a block scalar indicator", 1),
    "a number as a flow map key": ("a: {1: x}\n", "mapping key 1 is not a string; sops requires string keys", 1),
    "a block scalar header with a letter": ("a: |x\n", "invalid block scalar header", 1),
}  # fmt: skip
#: where sops names another line: the line where the document started
SOPS_LINE_DIFFERS = {"content after a flow root"}
#: refused by gitrot, read by sops 3.11 (go-yaml keeps the collection and drops the tag)
GITROT_ONLY = {"a seq tagged !!map", "a map tagged !!seq"}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_with_file_and_line(case: str) -> None:
    text, message, line = REFUSED[case]
    with pytest.raises(InputError) as caught:
        parse(text, filename="f.yaml")
    assert re.sub(r"(:\d+):\d+\)$", r"\1)", caught.value.render()) == (
        f"gitrot: error: {message} (f.yaml:{line})"
    )
    assert caught.value.exit_code == EXIT_INPUT


@pytest.mark.usefixtures("sops_and_age_keygen")
def test_sops_refuses_them_too(key: Key, tmp_path: Path) -> None:
    accepted = []
    path = tmp_path / "f.yaml"
    for case, (text, _, line) in sorted(REFUSED.items()):
        path.write_text(text, encoding="utf-8")
        result = run_sops(["-e", "--age", key.recipient, str(path)], key=key)
        if result.returncode == 0:
            accepted.append(case)
            continue
        named = re.search(r"yaml: line (\d+):", result.stderr.decode())
        if named and case not in SOPS_LINE_DIFFERS:
            assert int(named.group(1)) == line, (case, result.stderr)
    assert accepted == sorted(GITROT_ONLY)


def test_recursion_limit_is_an_input_error() -> None:
    """A caller already deep in its stack: the parser's recursion ends in one InputError."""
    text = "".join(" " * i + f"k{i}:\n" for i in range(60))
    assert parse(text)[0].get("k0") is not None
    depth = _stack_depth()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 60)
    try:
        with pytest.raises(InputError) as caught:
            parse(text, filename="deep.yaml")
    finally:
        sys.setrecursionlimit(limit)
    assert caught.value.render() == "gitrot: error: YAML nesting is too deep (deep.yaml)"
    assert caught.value.hint == "flatten the document"


def _stack_depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1  # type: ignore[assignment]
    return depth


def test_timestamps_read_by_tag() -> None:
    doc = parse("a: !!timestamp 2001-01-01\nb: !!null ~\n")[0]
    assert doc.get("a") == Timestamp("2001-01-01T00:00:00Z")
    assert doc.get("b") is None


STRICT = {
    "an anchor": ("a: &x 1\n", "YAML anchors are not allowed in gitrot files", "1:4"),
    "an alias": ("b: [*a]\n", "YAML aliases are not allowed in gitrot files", "1:5"),
    "a tag on a key": ("!!str a: 1\n", "YAML explicit tags are not allowed in gitrot files", "1:1"),
    "a tag in a flow map": ("a: {b: !!str 1}\n", "YAML explicit tags are not allowed in gitrot files", "1:8"),
    "a merge key": ("a: 1\n<<: {b: 2}\n", "YAML merge keys ('<<') are not allowed in gitrot files", "2:1"),
    "a merge key in a flow map": ("a: {<<: {b: 2}}\n", "YAML merge keys ('<<') are not allowed in gitrot files", "1:5"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(STRICT))
def test_strict_refuses_yaml_extras(case: str) -> None:
    """gitrot's own files (strict): anchors, aliases, tags and merge keys are refused at
    their line and column."""
    text, message, where = STRICT[case]
    with pytest.raises(InputError) as caught:
        parse(text, filename="gitrot.yaml", strict=True)
    assert caught.value.render() == f"gitrot: error: {message} (gitrot.yaml:{where})"
    assert caught.value.hint
