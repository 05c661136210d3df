""".sops.yaml as gitrot reads it for sops: the edges of the file (tests/sops/test_rules.py
has the rules themselves and the oracle runs of sops)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from gitrot.errors import ConfigError
from gitrot.keys import age
from gitrot.keys import creation_rules as rules
from tests.conftest import require_tool

SOPS = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "sops"
R1 = age.generate_identity()[1]
R2 = age.generate_identity()[1]


def config(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / ".sops.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_comments_inside_a_recipient_list_are_no_recipients(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        "creation_rules:\n"
        "  # the reconciler first\n"
        "  - age:\n"
        f"      - {R1}\n"
        "      # break-glass, kept offline\n"
        f"      - {R2}\n",
    )
    (rule,) = rules.load_rules(path)[0]
    assert rule.key_groups == [[R1, R2]]
    # sops reads the same recipients from it
    require_tool("sops", str(SOPS))
    (tmp_path / "a.yaml").write_text("value: x\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    out = subprocess.run(
        [str(SOPS), "-e", "a.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert [e["recipient"] for e in yaml.safe_load(out.stdout)["sops"]["age"]] == [R1, R2]


def test_a_key_type_given_as_a_mapping_is_named_when_the_rule_is_used(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        f"creation_rules:\n  - path_regex: ^v/\n    plugins: {{vault: x}}\n    age: {R1}\n"
        f"  - plugins: {{}}\n    age: {R2}\n",
    )
    found, _ = rules.load_rules(path)
    with pytest.raises(ConfigError) as info:
        rules.match_rule(found, tmp_path / "v" / "a.yaml", tmp_path)
    assert info.value.message == "gitrot supports age keys only; this creation rule uses plugins"
    assert info.value.location() == f"{path}:2"
    # an empty mapping names no key
    assert rules.match_rule(found, tmp_path / "b.yaml", tmp_path).key_groups == [[R2]]


def test_a_null_indent_is_the_default(tmp_path: Path) -> None:
    path = config(tmp_path, f"stores:\n  yaml:\n    indent:\ncreation_rules:\n  - age: {R1}\n")
    found, indent = rules.load_rules(path)
    assert indent is None
    assert [rule.key_groups for rule in found] == [[[R1]]]


def test_a_config_that_is_not_utf8_is_refused_at_its_path(tmp_path: Path) -> None:
    path = config(tmp_path, b"creation_rules:\n  - age: \xff\n")
    with pytest.raises(ConfigError) as info:
        rules.load_rules(path)
    assert info.value.message == "the sops config file is not UTF-8 text"
    assert info.value.where == str(path)


def test_a_byte_order_mark_is_read_past(tmp_path: Path) -> None:
    path = config(tmp_path, f"\ufeffcreation_rules:\n  - age: {R1}\n".encode())
    assert [rule.key_groups for rule in rules.load_rules(path)[0]] == [[[R1]]]


def test_a_duplicate_key_is_refused_at_its_line(tmp_path: Path) -> None:
    path = config(tmp_path, f"creation_rules:\n  - age: {R1}\n    path_regex: a\n    age: {R2}\n")
    with pytest.raises(ConfigError) as info:
        rules.load_rules(path)
    assert info.value.message == "duplicate key 'age' (first at line 2)"
    assert info.value.location().startswith(f"{path}:4")


def test_an_empty_config_has_no_rules(tmp_path: Path) -> None:
    assert rules.load_rules(config(tmp_path, "---\n...\n")) == ([], None)
