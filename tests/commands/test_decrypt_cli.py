"""``gitrot decrypt``: --extract byte for byte as ``sops -d --extract`` prints it, and the
refusals of bad paths and bad flag combinations (one line naming the file, exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Key, run_sops

YAML = """\
db:
    user: admin
    port: 5432
    ratio: 1.5
    big: 1.0e+30
    on: true
    nothing: null
    when: 2024-01-02T03:04:05Z
    list:
        - a
        - b: 1
          c:
            - 1
            - 2
    nested:
        k: v
"""
JSON = '{"a": 1, "b": 1.5, "c": true, "d": null, "e": "s<&>", "f": [1, {"x": 2}], "g": {"h": 1}}\n'


@pytest.fixture
def files(gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The same key encrypts a YAML and a JSON file; gitrot and sops both find it."""
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    out = {}
    for fmt, text in (("yaml", YAML), ("json", JSON)):
        plain = tmp_path / f"plain.{fmt}"
        plain.write_text(text)
        encrypted = tmp_path / f"enc.{fmt}"
        result = gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(encrypted))
        assert result.code == 0, result.err
        out[fmt] = encrypted
    return out


# (file, --output-type or "", --extract path, what sops prints)
CASES = [
    ("yaml", "", '["db"]["user"]', "admin"),  # a string: its text, no newline
    ("yaml", "", "['db']['user']", "admin"),  # single quotes, as sops accepts
    ("yaml", "", '["db"]["port"]', "5432\n"),  # other scalars: as YAML prints one value
    ("yaml", "", '["db"]["ratio"]', "1.5\n"),
    ("yaml", "", '["db"]["big"]', "1e+30\n"),
    ("yaml", "", '["db"]["on"]', "true\n"),
    ("yaml", "", '["db"]["nothing"]', "null\n"),
    ("yaml", "", '["db"]["when"]', "2024-01-02T03:04:05Z\n"),
    ("yaml", "", '["db"]["list"]', "- a\n- b: 1\n  c:\n    - 1\n    - 2\n"),
    ("yaml", "", '["db"]["list"][1]', "b: 1\nc:\n    - 1\n    - 2\n"),
    ("yaml", "", '["db"]["list"][1]["c"][0]', "1\n"),
    ("yaml", "", '["db"]["nested"]', "k: v\n"),
    ("yaml", "json", '["db"]["nested"]', '{\n\t"k": "v"\n}\n'),
    ("yaml", "json", '["db"]["port"]', "5432"),
    ("yaml", "json", '["db"]["when"]', '"2024-01-02T03:04:05Z"'),
    (
        "yaml",
        "json",
        '["db"]["list"]',
        '[\n\t"a",\n\t{\n\t\t"b": 1,\n\t\t"c": [\n\t\t\t1,\n\t\t\t2\n\t\t]\n\t}\n]',
    ),
    ("yaml", "dotenv", '["db"]["nested"]', "k=v\n"),
    ("json", "", '["a"]', "1"),  # JSON prints one value without a newline
    ("json", "", '["b"]', "1.5"),
    ("json", "", '["c"]', "true"),
    ("json", "", '["d"]', "null"),
    ("json", "", '["e"]', "s<&>"),
    ("json", "", '["f"]', '[\n\t1,\n\t{\n\t\t"x": 2\n\t}\n]'),
    ("json", "", '["f"][1]', '{\n\t"x": 2\n}\n'),
    ("json", "", '["g"]', '{\n\t"h": 1\n}\n'),
    ("json", "yaml", '["f"]', "- 1\n- x: 2\n"),
]


def test_extract_prints_what_sops_prints(gitrot, files: dict[str, Path], key: Key) -> None:
    for fmt, output_type, path, expected in CASES:
        flags = ["--output-type", output_type] if output_type else []
        ours = gitrot("decrypt", *flags, "--extract", path, str(files[fmt]))
        assert ours.code == 0, (fmt, path, ours.err)
        assert ours.out == expected, (fmt, output_type, path)
        theirs = run_sops(["-d", *flags, "--extract", path, str(files[fmt])], key=key)
        assert theirs.returncode == 0, theirs.stderr.decode()
        assert theirs.stdout.decode() == expected, (fmt, output_type, path)


def test_extract_into_a_file_writes_only_that_value(
    gitrot, files: dict[str, Path], tmp_path: Path
) -> None:
    target = tmp_path / "user.txt"
    result = gitrot("decrypt", "--extract", '["db"]["user"]', "-o", str(target), str(files["yaml"]))
    assert result.code == 0 and result.out == ""
    assert target.read_text() == "admin"
    assert target.stat().st_mode & 0o777 == 0o600


def test_extract_counts_list_items_not_comments(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sops counts a comment line as an item of the list (``[0]`` prints the comment as a
    map); gitrot indexes the items a reader sees."""
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    plain = tmp_path / "p.yaml"
    plain.write_text("list:\n    # the first one\n    - a\n    - b\n")
    encrypted = tmp_path / "e.yaml"
    assert gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(encrypted)).code == 0
    first = gitrot("decrypt", "--extract", '["list"][0]', str(encrypted))
    whole = gitrot("decrypt", "--extract", '["list"]', str(encrypted))
    assert (first.code, first.out) == (0, "a")
    assert (whole.code, whole.out) == (0, "# the first one\n- a\n- b\n")


@pytest.mark.parametrize(
    ("path", "flags", "message"),
    [
        ('["db"]["zz"]', [], "key 'zz' not found"),
        ('["db"]["list"][5]', [], "index 5 is out of range"),
        ('["db"]["user"]["x"]', [], "cannot index str with 'x'"),
        ('["db"][0]', [], "cannot index Map with 0"),
        ('["db"]["port"]', ["--output-type", "dotenv"], "the dotenv format prints only strings"),
        ('["db"]["list"]', ["--output-type", "binary"], "this value is a list"),
        ('["db"]["when"]', ["--output-type", "dotenv"], "this value is a timestamp"),
        ('["db"]["nothing"]', ["--output-type", "dotenv"], "this value is a null"),
    ],
)
def test_extract_of_what_is_not_there_names_the_file(
    gitrot, files: dict[str, Path], path: str, flags: list[str], message: str
) -> None:
    result = gitrot("decrypt", *flags, "--extract", path, str(files["yaml"]))
    assert result.code == 2 and result.out == ""
    first = result.err.splitlines()[0]
    assert first.startswith("gitrot: error: ") and message in first
    if not flags:
        assert str(files["yaml"]) in first
    assert "admin" not in result.err


@pytest.mark.parametrize("path", ["db", '["db"', '["db"]x', "[db]", ""])
def test_a_malformed_extract_path_is_refused_with_the_syntax(
    gitrot, files: dict[str, Path], path: str
) -> None:
    result = gitrot("decrypt", "--extract", path, str(files["yaml"]))
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("gitrot: error: ")
    assert "--extract" in result.err and 'hint: write it as ["key"]["subkey"][0]' in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a.yaml", "b.yaml"], "several files need --output-dir DIR"),
        (["a.yaml", "--output-dir", "d", "-o", "x"], "cannot be combined with -o or --extract"),
        (["a.yaml", "--output-dir", "d", "--extract", '["k"]'], "cannot be combined"),
    ],
)
def test_flag_combinations_that_make_no_sense_are_refused(
    gitrot, args: list[str], message: str
) -> None:
    result = gitrot("decrypt", *args)
    assert result.code == 2 and message in result.err
    assert not Path("d").exists() and not Path("x").exists()


def test_extract_of_a_binary_value_left_in_clear(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``!!binary`` value outside the encrypted keys stays as written, and --extract prints
    it as a string (sops prints its raw bytes; gitrot's output is text, so a byte that is not
    UTF-8 becomes U+FFFD)."""
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    plain = tmp_path / "p.yaml"
    plain.write_text("a: x\nc: !!binary /w==\n")
    encrypted = tmp_path / "e.yaml"
    flags = ["--encrypted-regex", "^a", "--age", key.recipient]
    assert gitrot("encrypt", *flags, str(plain), "-o", str(encrypted)).code == 0
    assert "c: !!binary /w==\n" in encrypted.read_text()
    result = gitrot("decrypt", "--extract", '["c"]', str(encrypted))
    assert (result.code, result.out) == (0, "\ufffd")
    assert run_sops(["-d", "--extract", '["c"]', str(encrypted)], key=key).stdout == b"\xff"


def test_an_output_format_that_cannot_hold_the_file_names_it(
    gitrot, files: dict[str, Path], key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sops writes only the first of several YAML documents as JSON; gitrot refuses."""
    nested = gitrot("decrypt", "--output-type", "dotenv", str(files["yaml"]))
    assert nested.code == 2 and nested.out == ""
    assert nested.err.splitlines()[0] == (
        f"gitrot: error: cannot use a nested value in a dotenv file (key 'db') ({files['yaml']})"
    )
    plain = tmp_path / "two.yaml"
    plain.write_text("a: 1\n---\nb: 2\n")
    two = tmp_path / "two.enc.yaml"
    assert gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(two)).code == 0
    assert (
        run_sops(["-d", "--output-type", "json", str(two)], key=key).stdout == b'{\n\t"a": 1\n}\n'
    )
    result = gitrot("decrypt", "--output-type", "json", str(two))
    assert result.code == 2 and result.out == ""
    assert result.err.splitlines()[0] == (
        f"gitrot: error: a JSON file holds exactly one document ({two})"
    )


def test_a_bad_extract_path_is_refused_before_any_key_is_needed(
    gitrot, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    result = gitrot("decrypt", "--extract", "db", str(files["yaml"]))
    assert result.code == 2 and "invalid --extract path 'db'" in result.err
