"""Parser tests: go-yaml v3 semantics, comment placement, errors; real sops is the oracle."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, require_tool

SOPS = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "sops"


def require_sops_and_age_keygen() -> None:
    """Skip without the sops oracle or age-keygen; fail under ``GITROT_REQUIRE_TOOLS=1``."""
    require_tool("sops", str(SOPS))
    require_tool("age-keygen")


needs_sops = pytest.mark.usefixtures("sops_and_age_keygen")


_ENC = re.compile(r"ENC\[AES256_GCM,data:([^,]*),iv:([^,]*),tag:([^,]*),type:([a-z]*)\]")


class Sops:
    """An age identity in a directory, and sops runs that use it."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp
        key = tmp / "key.txt"
        subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
        self.identity = next(
            line for line in key.read_text().splitlines() if line.startswith("AGE-SECRET")
        )
        self.recipient = re.search(r"age1[0-9a-z]+", key.read_text()).group(0)  # type: ignore[union-attr]
        self.env = {**os.environ, "SOPS_AGE_KEY_FILE": str(key)}
        self.env.pop("SOPS_AGE_RECIPIENTS", None)

    def run(self, *args: str, text: str, name: str = "in.yaml") -> subprocess.CompletedProcess[str]:
        path = self.dir / name
        path.write_text(text, encoding="utf-8")
        return subprocess.run(
            [str(SOPS), *args, str(path)],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.dir,
            check=False,
        )

    def encrypt(self, text: str, *extra: str) -> str:
        res = self.run("-e", "--age", self.recipient, *extra, text=text)
        assert res.returncode == 0, res.stderr
        return res.stdout

    def roundtrip(self, text: str, output_type: str = "yaml") -> str:
        """sops -e then sops -d: go-yaml's reading and re-writing of ``text``."""
        enc = self.encrypt(text)
        res = self.run("-d", "--output-type", output_type, text=enc, name="enc.yaml")
        assert res.returncode == 0, res.stderr
        return res.stdout

    def as_json(self, text: str) -> object:
        """go-yaml's typed view of ``text``: one ``sops -e`` that leaves every value clear
        and writes JSON (sops' own YAML writer is not involved)."""
        enc = self.encrypt(text, "--unencrypted-regex", "^", "--output-type", "json")
        data = json.loads(enc)
        data.pop("sops")
        return data

    def data_key(self, encrypted: str) -> bytes:
        import pyrage

        armored = re.search(
            r"-----BEGIN AGE ENCRYPTED FILE-----.*?-----END AGE ENCRYPTED FILE-----",
            encrypted,
            re.S,
        ).group(0)  # type: ignore[union-attr]
        armored = "\n".join(line.strip() for line in armored.splitlines()) + "\n"
        ident = pyrage.x25519.Identity.from_str(self.identity)
        return pyrage.decrypt(armored.encode(), [ident])  # type: ignore[no-any-return]


def open_value(key: bytes, enc: str, aad: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    m = _ENC.match(enc)
    assert m, enc
    data, iv, tag = (base64.b64decode(g) for g in m.groups()[:3])
    return AESGCM(key).decrypt(iv, data + tag, aad.encode())


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gitrot.codec.tree import Comment, Entry, Map, Seq, Timestamp, to_plain  # noqa: E402
from gitrot.codec.yaml_parse import parse  # noqa: E402
from gitrot.errors import InputError  # noqa: E402

FIXTURE = FIXTURES / "sops-upstream" / "example.yaml"


@pytest.fixture(scope="module")
def sops(tmp_path_factory: pytest.TempPathFactory) -> Sops:
    require_sops_and_age_keygen()
    return Sops(tmp_path_factory.mktemp("sops"))


def one(text: str) -> Map:
    docs = parse(text)
    assert len(docs) == 1
    return docs[0]


def comments(node: Map | Seq) -> list[str]:
    return [it.text for it in node.items if isinstance(it, Comment)]


# -- structure --------------------------------------------------------------------------------


def test_block_and_flow_structure() -> None:
    doc = one(
        "a: 1\n"
        "b:\n  c: x\n  d: [1, 'two', {e: f}]\n"
        "s:\n- p\n- q: 1\n  r: 2\n- - n1\n  - n2\n"
        'f: {x: [a, b], y: {z: null},\n   w: "multi\n   line"}\n'
        "e1: {}\ne2: []\nn:\n"
    )
    assert to_plain(doc) == {
        "a": 1,
        "b": {"c": "x", "d": [1, "two", {"e": "f"}]},
        "s": ["p", {"q": 1, "r": 2}, ["n1", "n2"]],
        "f": {"x": ["a", "b"], "y": {"z": None}, "w": "multi line"},
        "e1": {},
        "e2": [],
        "n": None,
    }


def test_scalar_styles() -> None:
    doc = one(
        "plain: a b\n  c\n"
        "sq: 'it''s\n\n  x'\n"
        'dq: "t\\tn\\n\\u00e9\\x41\\U0001F600\\/\\_\\N\\L\\P\\e\\0 \\\n   cont"\n'
        "lit: |\n  l1\n\n   l2\n"
        "keep: |+\n  k\n\n"
        "strip: >-\n  f1\n  f2\n\n  f3\n   more\n"
        "ind: |2\n   sp\n  x\n"
    )
    assert to_plain(doc) == {
        "plain": "a b c",
        "sq": "it's\nx",
        "dq": "t\tn\n\u00e9A\U0001f600/\xa0\x85\u2028\u2029\x1b\0 cont",
        "lit": "l1\n\n l2\n",
        "keep": "k\n\n",
        "strip": "f1 f2\nf3\n more",
        "ind": " sp\nx\n",
    }


def test_tags_anchors_merge() -> None:
    doc = one(
        "a: !!str 1\nb: !!int '12'\nc: !!float 1\nd: !!binary aGVsbG8=\ne: !!binary /w==\n"
        "f: !local 5\ng: &x {k: v}\nh: *x\n<<: *x\ni: !!timestamp 2024-01-02\n"
    )
    assert to_plain(doc) == {
        "a": "1",
        "b": 12,
        "c": 1.0,
        "d": "hello",
        "e": b"\xff",
        "f": "5",  # go-yaml keeps a scalar with an unknown tag as a string
        "g": {"k": "v"},
        "h": {"k": "v"},
        "<<": {"k": "v"},
        "i": "2024-01-02T00:00:00Z",
    }
    assert isinstance(doc.get("c"), float)
    assert doc.get("h") is not doc.get("g")


def test_multi_document_and_lines() -> None:
    docs = parse("# c0\na: 1\n---\n# c1\nb:\n  - x\n...\n---\n")
    assert [to_plain(d) for d in docs] == [{"a": 1}, {"b": ["x"]}, {}]
    assert comments(docs[0]) == [" c0"] and comments(docs[1]) == [" c1"]
    entry = docs[1].entry("b")
    assert entry is not None and entry.line == 5
    assert isinstance(entry.value, Seq) and entry.value.line == 6
    assert parse("") == [Map()]
    assert parse("# only\n") == [Map([Comment(" only")])]


# -- comments ---------------------------------------------------------------------------------


def test_comment_placement_rules() -> None:
    doc = one(
        "# top\n"
        "a: 1  # inline a\n"
        "m:  # on m\n"
        "  # first in m\n"
        "  k: v\n"
        "  s:\n"
        "    - x # on x\n"
        "    # between\n"
        "    - y\n"
        "  # end of m\n"
        "f: [1, # in flow\n  2]\n"
        "# end\n"
    )
    assert doc.items[0] == Comment(" top")
    assert doc.items[1] == Comment(" inline a") and isinstance(doc.items[2], Entry)
    assert doc.items[3] == Comment(" on m")
    m = doc.get("m")
    assert isinstance(m, Map)
    assert comments(m) == [" first in m", " end of m"]
    assert isinstance(m.items[0], Comment) and isinstance(m.items[-1], Comment)
    s = m.get("s")
    assert isinstance(s, Seq)
    assert s.items == [Comment(" on x"), "x", Comment(" between"), "y"]
    assert comments(doc)[-2:] == [" in flow", " end"]
    assert "#" not in str(to_plain(doc))


def test_hash_inside_values_is_not_a_comment() -> None:
    doc = one("a: x#y\nb: 'q # r'\nc: |\n  # not a comment\n")
    assert to_plain(doc) == {"a": "x#y", "b": "q # r", "c": "# not a comment\n"}
    assert comments(doc) == []


def _containers(node: Map | Seq, path: tuple[str, ...]):  # type: ignore[no-untyped-def]
    yield node, path
    for it in node.items:
        child = it.value if isinstance(it, Entry) else it
        sub = (*path, it.key) if isinstance(it, Entry) else path
        if isinstance(child, (Map, Seq)):
            yield from _containers(child, sub)


COMMENTED = """\
# head of doc
top: 1 # inline top
nested:
  # first in nested
  a: 1
  deeper:
    x: 1
    # end of deeper
  b:
    - x # inline x
    # between
    - y
    - k: v
      # inside item map
      k2: w
    # end of seq
  # end of nested
list:
- one
# after one, at the key column
- two
# trailing
"""


@needs_sops
def test_comment_containers_match_sops(sops: Sops) -> None:
    """Parse sops' encrypted output: every comment must decrypt with its container path."""
    enc = sops.encrypt(COMMENTED)
    key = sops.data_key(enc)
    doc = parse(enc)[0]
    seen = 0
    for container, path in _containers(doc, ()):
        if path[:1] == ("sops",):
            continue
        for it in container.items:
            # sops writes comments of sequences as items "- ENC[...,type:comment]"
            text = it.text if isinstance(it, Comment) else it
            if isinstance(text, str) and text.endswith("type:comment]"):
                aad = "".join(p + ":" for p in path) or ":"
                open_value(key, text, aad)  # raises InvalidTag if misplaced
                seen += 1
    assert seen == COMMENTED.count("#")

    # the plaintext file puts each comment into a container with the same path as sops does
    def count(node: Map) -> dict[tuple[str, ...], int]:
        found: dict[tuple[str, ...], int] = {}
        for c, path in _containers(node, ()):
            n = sum(
                1
                for it in c.items
                if isinstance(it, Comment) or (isinstance(it, str) and it.endswith("type:comment]"))
            )
            if n and path[:1] != ("sops",):
                found[path] = found.get(path, 0) + n
        return found

    assert count(parse(COMMENTED)[0]) == count(doc)


# -- typing against sops ----------------------------------------------------------------------

TYPED = """\
i: 17
o: 017
h: 0x1F
b: 0b101
oo: 0o17
u: 1_000
neg: -42
f: 1.50
e: 1e3
ei: 1e+21
dot: .5
big: 1e20
yes: yes
on: on
t: True
n: ~
ts: 2024-05-06
tt: 2001-12-14t21:59:43.10-05:00
sp: 2001-12-14 21:59:43.10
sx: 1:30
q: "1"
bin: !!binary aGVsbG8=
<<: {a: 1}
"""


@needs_sops
def test_typing_matches_sops_json(sops: Sops) -> None:
    got = sops.as_json(TYPED)
    mine = to_plain(one(TYPED))
    assert json.loads(json.dumps(mine)) == got


def test_uint64_and_key_errors() -> None:
    with pytest.raises(InputError, match="64 bits"):
        parse("a: 9223372036854775808\n")
    for bad, line in [("1: x\n", 1), ("a: 1\ntrue: x\n", 2), ("a:\n  null: 1\n", 2)]:
        with pytest.raises(InputError, match="not a string") as info:
            parse(bad, filename="f.yaml")
        assert info.value.line == line and info.value.where == "f.yaml"
        assert "quote" in info.value.hint


@pytest.mark.parametrize(
    ("text", "match", "line"),
    [
        ("a: 1\nb: 2\na: 3\n", r"duplicate key 'a' \(first at line 1\)", 3),
        ("- a\n- b\n", "sequences/values", 1),
        ("just text\n", "sequences/values", 1),
        ("a:\n\tb: 1\n", "tab", 2),
        ("a: [1, 2\n", "unterminated", 1),
        ('a: "open\n', "unterminated", 1),
        ("a: *nope\n", "unknown anchor", 1),
        ("a: b: c\n", "not allowed", 1),
        ("a:\n  b: 1\n c: 2\n", "indentation", 3),
        ("? [a]\n: 1\n", "string", 1),
    ],
)
def test_errors_have_lines(text: str, match: str, line: int) -> None:
    with pytest.raises(InputError, match=match) as info:
        parse(text)
    assert info.value.line == line


def test_depth_and_bomb_limits() -> None:
    with pytest.raises(InputError, match="deeper"):
        parse("a: " + "[" * 300 + "]" * 300 + "\n")
    deep = "".join(" " * i + f"k{i}:\n" for i in range(250))
    with pytest.raises(InputError, match="deeper"):
        parse(deep)
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        bomb.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(InputError, match="YAML bomb"):
        parse("\n".join(bomb) + "\n")


def test_upstream_fixture() -> None:
    doc = one(FIXTURE.read_text())
    keys = [e.key for e in doc.entries()]
    assert keys == [
        "myapp1",
        "app2",
        "number",
        "an_array",
        "somebooleans",
        "this",
        "somelist_unencrypted",
        "nested_unencrypted",
        "sops",
    ]
    app2 = doc.get("app2")
    assert isinstance(app2, Map)
    db = app2.get("db")
    assert isinstance(db, Map) and len(comments(db)) == 1 and isinstance(db.items[-1], Comment)
    nested = doc.get("this")
    for key in ("is", "a", "nested"):
        assert isinstance(nested, Map)
        nested = nested.get(key)
    assert isinstance(nested, Map) and len(comments(nested)) == 3
    assert comments(doc) == []
    meta = doc.get("sops")
    assert isinstance(meta, Map)
    age = meta.get("age")
    assert isinstance(age, Seq) and len(age.items) == 2
    first = age.items[0]
    assert isinstance(first, Map)
    enc = first.get("enc")
    assert isinstance(enc, str) and enc.startswith("-----BEGIN AGE") and enc.endswith("-----\n")
    assert meta.get("lastmodified") == "2022-03-15T22:11:15Z"
    assert isinstance(doc.get("number"), str)


def test_timestamp_values() -> None:
    doc = one("a: 2024-1-2\nb: 2024-01-02T03:04:05.120+00:00\nc: '2024-01-02'\n")
    assert doc.get("a") == Timestamp("2024-01-02T00:00:00Z")
    assert doc.get("b") == Timestamp("2024-01-02T03:04:05.12Z")
    assert doc.get("c") == "2024-01-02"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab: -#'\"\n\t[]{},|>&*!?%@`\\.01~")), max_size=80))
def test_fuzz_only_input_errors(text: str) -> None:
    """Any input gives documents or one InputError, never another exception."""
    try:
        docs = parse(text)
    except InputError as exc:
        assert exc.render().startswith("gitrot: error: ")
    else:
        assert all(isinstance(doc, Map) for doc in docs)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_unicode_only_input_errors(text: str) -> None:
    """Any input gives documents or one InputError, never another exception."""
    try:
        docs = parse(text)
    except InputError as exc:
        assert exc.render().startswith("gitrot: error: ")
    else:
        assert all(isinstance(doc, Map) for doc in docs)
