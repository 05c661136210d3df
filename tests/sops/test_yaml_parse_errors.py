"""codec/yaml_parse: YAML that gitrot refuses is refused with one line naming file:line
(exit 2), and the real sops refuses it too (it cannot encrypt what it cannot read), except
the few cases listed in GITROT_ONLY."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitrot.codec import yaml_parse
from gitrot.errors import EXIT_INPUT, InputError
from tests.conftest import Key, run_sops

CASES = {
    "a document that is a list": ("- a\nb: 1\n", "YAML documents that are sequences/values are not supported", 1),
    "an alias as a key": ("a: &x 1\n*x : 2\n", "aliases used as mapping keys are not supported", 2),
    "a lone '? ' key": ("? a\n", "a '? ' key without ': value' is not supported", 1),
    "a line without ':'": ("a: 1\n\"b\"\n", "could not find the ':' after a mapping key", 2),
    "an anchor without a name": ("a: & 1\n", "an anchor needs a name", 1),
    "a scalar tagged !!map": ("a: !!map 1\n", "a scalar cannot have the tag !!map", 1),
    "a scalar tagged !!seq": ("a: !!seq 1\n", "a scalar cannot have the tag !!seq", 1),
    "a bad escape": ('a: "\\q"\n', "invalid escape in a double-quoted scalar", 1),
    "an unclosed flow list": ("a: [1, 2\n", "unterminated flow collection (missing ']')", 1),
    "!!int on text": ("a: !!int x\n", "cannot read this value as !!int", 1),
    "!!null on text": ("a: !!null x\n", "cannot read this value as !!null", 1),
    "!!bool on text": ("a: !!bool maybe\n", "cannot read this value as !!bool", 1),
    "!!float on text": ("a: !!float x\n", "cannot read this value as !!float", 1),
}  # fmt: skip
#: what sops 3.11 encrypts and gitrot refuses: a key with no value, and a scalar tagged as a
#: collection (which go-yaml keeps as a tagged scalar); refusing is never silently different
GITROT_ONLY = {"a lone '? ' key", "a scalar tagged !!map", "a scalar tagged !!seq"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_with_file_and_line(case: str) -> None:
    text, message, line = CASES[case]
    with pytest.raises(InputError) as caught:
        yaml_parse.parse(text, filename="f.yaml")
    assert caught.value.render() == f"gitrot: error: {message} (f.yaml:{line})"
    assert caught.value.exit_code == EXIT_INPUT


@pytest.mark.usefixtures("sops_and_age_keygen")
def test_sops_refuses_them_too(key: Key, tmp_path: Path) -> None:
    accepted = []
    for case, (text, _, _) in sorted(CASES.items()):
        path = tmp_path / "f.yaml"
        path.write_text(text)
        if run_sops(["-e", "--age", key.recipient, str(path)], key=key).returncode == 0:
            accepted.append(case)
    assert accepted == sorted(GITROT_ONLY)
