"""codec/json_store: what sops' JSON store refuses, gitrot refuses with one line naming the
file (exit 2); what it writes, gitrot writes byte for byte (the real sops is the oracle)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.conftest import Key, run_sops, sops_decrypt, sops_encrypt

EDGES = (
    '{"a": {}, "b": [], "c": null, "d": true, "e": false, "f": -0.0, "g": 1e21, "h": 1e-7,'
    ' "i": "<&>\\u2028", "j": [[], {}, [1, 2.5]], "k": 12345678901234567890}\n'
)


@pytest.mark.usefixtures("sops_and_age_keygen")
def test_gitrot_decrypts_sops_json_edges_to_the_same_bytes(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Empty objects and lists, null, booleans, Go's float forms and HTML-safe escapes."""
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    plain = tmp_path / "p.json"
    plain.write_text(EDGES)
    theirs = tmp_path / "theirs.json"
    theirs.write_text(sops_encrypt(plain, key, "--age", key.recipient))
    expected = sops_decrypt(theirs, key)
    assert '"a": {},\n\t"b": [],' in expected and '"f": -0,' in expected
    assert '"i": "\\u003c\\u0026\\u003e\\u2028"' in expected
    result = gitrot("decrypt", str(theirs))
    assert (result.code, result.out) == (0, expected)
    ours = tmp_path / "ours.json"
    assert gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(ours)).code == 0
    assert sops_decrypt(ours, key) == expected


@pytest.mark.usefixtures("sops_and_age_keygen")
def test_yaml_timestamps_print_as_json_strings(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    plain = tmp_path / "p.yaml"
    plain.write_text("when: 2024-01-02T03:04:05Z\nday: 2024-01-02\nn: 1\n")
    theirs = tmp_path / "theirs.yaml"
    theirs.write_text(sops_encrypt(plain, key, "--age", key.recipient))
    expected = sops_decrypt(theirs, key, "--output-type", "json")
    assert '"when": "2024-01-02T03:04:05Z"' in expected
    result = gitrot("decrypt", "--output-type", "json", str(theirs))
    assert (result.code, result.out) == (0, expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1, "a": 2}\n', "duplicate key 'a'"),
        ('{"a": NaN}\n', "NaN is not valid JSON"),
        ('{"a": -Infinity}\n', "-Infinity is not valid JSON"),
        ('{\n  "a": 1,\n', "invalid JSON: Expecting property name enclosed in double quotes"),
        ('{"a": 1e400}\n', "JSON number out of range"),
        ("[1, 2]\n", "the top level of a sops JSON document must be an object"),
        ('"text"\n', "the top level of a sops JSON document must be an object"),
        ("[" * 100_000 + "]" * 100_000, "JSON nesting is too deep"),
    ],
)
def test_json_that_sops_would_not_write_is_refused(
    gitrot, key: Key, tmp_path: Path, text: str, message: str
) -> None:
    plain = tmp_path / "p.json"
    plain.write_text(text)
    out = tmp_path / "e.json"
    result = gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(out))
    assert result.code == 2 and result.out == ""
    first = result.err.splitlines()[0]
    assert first.startswith("gitrot: error: ") and message in first
    assert not out.exists()


def test_invalid_json_names_the_line(gitrot, key: Key, tmp_path: Path) -> None:
    plain = tmp_path / "p.json"
    plain.write_text('{\n  "a": 1,\n  "b": oops\n}\n')
    result = gitrot("encrypt", str(plain), "--age", key.recipient)
    assert result.code == 2
    assert result.err.splitlines()[0] == f"gitrot: error: invalid JSON: Expecting value ({plain}:3)"


def test_sops_accepts_a_duplicate_key_that_gitrot_refuses(key: Key, tmp_path: Path) -> None:
    """The one deliberate difference: sops keeps both keys, and which one a reader sees
    depends on the reader; gitrot does not write such a file."""
    plain = tmp_path / "p.json"
    plain.write_text('{"a": 1, "a": 2}\n')
    assert run_sops(["-e", "--age", key.recipient, str(plain)], key=key).returncode == 0


@pytest.mark.usefixtures("sops_and_age_keygen")
def test_bytes_that_are_not_utf8_print_as_go_escapes(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``!!binary`` value left in clear: Go writes each byte that is not UTF-8 as the
    escape ``\\ufffd`` and a real U+FFFD as itself."""
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    data = base64.b64encode(b"a\xffb\xe2\x82<\xef\xbf\xbd").decode()
    plain = tmp_path / "p.yaml"
    plain.write_text(f"a: x\nc: !!binary {data}\n")
    theirs = tmp_path / "theirs.yaml"
    theirs.write_text(sops_encrypt(plain, key, "--encrypted-regex", "^a", "--age", key.recipient))
    expected = sops_decrypt(theirs, key, "--output-type", "json")
    assert '"c": "a\\ufffdb\\ufffd\\ufffd\\u003c\ufffd"' in expected
    result = gitrot("decrypt", "--output-type", "json", str(theirs))
    assert (result.code, result.out) == (0, expected)
