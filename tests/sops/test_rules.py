""".sops.yaml creation rules, checked against the sops 3.11 binary where it matters."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml

from gitrot.codec.tree import Comment, Entry, Map, Seq, Value
from gitrot.errors import ConfigError, InputError
from gitrot.keys import age
from gitrot.keys import creation_rules as rules
from tests.conftest import require_tool

SOPS = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "sops"
needs_sops = pytest.mark.usefixtures("sops_oracle")


@pytest.fixture
def sops_oracle() -> str:
    return require_tool("sops", str(SOPS))


# --- a stand-in parser until gitrot.codec.yaml_parse exists ---------------------------------


def _node_to_tree(node: yaml.Node) -> Value:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        items: list[Entry | Comment] = []
        for key, value in node.value:
            items.append(Entry(str(key.value), _node_to_tree(value), key.start_mark.line + 1))
        return Map(items, line)
    if isinstance(node, yaml.SequenceNode):
        return Seq([_node_to_tree(item) for item in node.value], line)
    value = yaml.constructor.SafeConstructor().construct_object(node)
    assert isinstance(value, str | int | float | bool | type(None))
    return value


def _shim_parse(text: str, *, filename: str = "") -> list[Map]:
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise InputError(
            "invalid YAML", where=filename, line=mark.line + 1 if mark else 0
        ) from None
    docs = [_node_to_tree(node) for node in nodes if node is not None]
    assert all(isinstance(doc, Map) for doc in docs)
    return [doc for doc in docs if isinstance(doc, Map)]


@pytest.fixture(autouse=True)
def _yaml_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the real parser when it is there, else a PyYAML-based shim with the same API."""
    if importlib.util.find_spec("gitrot.codec.yaml_parse") is not None:
        return
    shim = types.ModuleType("gitrot.codec.yaml_parse")
    shim.parse = _shim_parse  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gitrot.codec.yaml_parse", shim)


# --- helpers -------------------------------------------------------------------------------

R1 = age.generate_identity()[1]
R2 = age.generate_identity()[1]
R3 = age.generate_identity()[1]


def _config(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ".sops.yaml"
    path.write_text(text)
    return path


def _load(tmp_path: Path, text: str) -> list[rules.CreationRule]:
    found, _ = rules.load_rules(_config(tmp_path, text))
    return found


# --- find_config ---------------------------------------------------------------------------


def test_explicit_config_wins(tmp_path: Path) -> None:
    _config(tmp_path, "creation_rules: []\n")
    explicit = tmp_path / "other.yaml"
    assert rules.find_config(tmp_path, explicit=explicit) == explicit


def test_config_is_found_in_a_parent(tmp_path: Path) -> None:
    config = _config(tmp_path, "creation_rules: []\n")
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert rules.find_config(deep, explicit=None) == config
    assert rules.find_config(tmp_path, explicit=None) == config


def test_nearest_config_wins(tmp_path: Path) -> None:
    _config(tmp_path, "creation_rules: []\n")
    inner = _config(tmp_path / "a", "creation_rules: []\n")
    (tmp_path / "a" / "b").mkdir()
    assert rules.find_config(tmp_path / "a" / "b", explicit=None) == inner


def test_sops_yml_is_not_a_config(tmp_path: Path) -> None:
    (tmp_path / ".sops.yml").write_text("creation_rules: []\n")
    found = rules.find_config(tmp_path, explicit=None)
    assert found is None or not found.is_relative_to(tmp_path)


def test_lookup_stops_after_100_levels(tmp_path: Path) -> None:
    config = _config(tmp_path, "creation_rules: []\n")
    start = tmp_path.joinpath(*["d"] * 99)
    start.mkdir(parents=True)
    # the start directory and 99 parents: 100 directories
    assert rules.find_config(start, explicit=None) == config
    deeper = start / "d"
    deeper.mkdir()
    assert rules.find_config(deeper, explicit=None) != config


# --- load_rules ----------------------------------------------------------------------------


def test_age_as_comma_separated_string(tmp_path: Path) -> None:
    (rule,) = _load(tmp_path, f"creation_rules:\n  - age: ' {R1} ,{R2},'\n")
    assert rule.key_groups == [[R1, R2]]
    assert rule.path_regex is None
    assert rule.shamir_threshold == 0
    assert rule.selector is None
    assert rule.mac_only_encrypted is False


def test_age_as_yaml_list(tmp_path: Path) -> None:
    text = f"creation_rules:\n  - path_regex: x\n    age:\n      - {R1}\n      - {R2}\n"
    (rule,) = _load(tmp_path, text)
    assert rule.key_groups == [[R1, R2]]
    assert rule.path_regex == "x"


def test_top_level_duplicates_are_kept_like_sops(tmp_path: Path) -> None:
    (rule,) = _load(tmp_path, f"creation_rules:\n  - age: {R1}, {R1}\n")
    assert rule.key_groups == [[R1, R1]]


def test_key_groups_with_merge(tmp_path: Path) -> None:
    text = (
        "creation_rules:\n"
        "  - shamir_threshold: 2\n"
        f"    age: {R3}  # ignored when key_groups is set\n"
        "    key_groups:\n"
        "      - merge:\n"
        f"          - age: [{R3}]\n"
        "        age:\n"
        f"          - {R1},{R2}\n"
        f"          - {R3}\n"
        f"      - age: [{R2}]\n"
    )
    (rule,) = _load(tmp_path, text)
    assert rule.key_groups == [[R3, R1, R2], [R2]]
    assert rule.shamir_threshold == 2


def test_selector_and_mac_only(tmp_path: Path) -> None:
    text = (
        "creation_rules:\n"
        "  - encrypted_regex: ^(value|ref)$\n"
        "    mac_only_encrypted: true\n"
        f"    age: {R1}\n"
    )
    (rule,) = _load(tmp_path, text)
    assert rule.selector == ("encrypted_regex", "^(value|ref)$")
    assert rule.mac_only_encrypted is True


def test_stores_yaml_indent(tmp_path: Path) -> None:
    config = _config(tmp_path, f"stores:\n  yaml:\n    indent: 2\ncreation_rules:\n  - age: {R1}\n")
    found, indent = rules.load_rules(config)
    assert indent == 2
    assert len(found) == 1
    _, indent = rules.load_rules(_config(tmp_path, f"creation_rules:\n  - age: {R1}\n"))
    assert indent is None


def test_no_creation_rules(tmp_path: Path) -> None:
    assert rules.load_rules(_config(tmp_path, "stores: {}\n")) == ([], None)
    assert rules.load_rules(_config(tmp_path, "")) == ([], None)
    assert rules.load_rules(_config(tmp_path, "# only a comment\n")) == ([], None)


def test_rule_without_keys_has_no_groups(tmp_path: Path) -> None:
    (rule,) = _load(tmp_path, "creation_rules:\n  - encrypted_suffix: _secret\n")
    assert rule.key_groups == []
    assert rule.selector == ("encrypted_suffix", "_secret")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("creation_rules: {a: 1}\n", 1, "must be a list"),
        ("creation_rules:\n  - just a string\n", 1, "must be a mapping"),
        ("creation_rules:\n  - age: 3\n", 2, "string or a list"),
        ("creation_rules:\n  - age: [1]\n", 2, "as strings"),
        ("creation_rules:\n  - shamir_threshold: two\n", 2, "must be an integer"),
        ("creation_rules:\n  - shamir_threshold: true\n", 2, "must be an integer"),
        ("creation_rules:\n  - mac_only_encrypted: 1\n", 2, "true or false"),
        ("creation_rules:\n  - path_regex: [a]\n", 2, "must be a string"),
        ("creation_rules:\n  - x: 1\n\n    key_groups:\n      - age: age1abc\n", 5, "list of"),
        ("creation_rules:\n  - key_groups: [abc]\n", 2, "must be a mapping"),
        ("stores:\n  yaml:\n    indent: wide\n", 3, "must be an integer"),
        ("stores: []\n", 1, "must be a mapping"),
    ],
)
def test_malformed_config_has_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    config = _config(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        rules.load_rules(config)
    assert info.value.where == str(config)
    assert info.value.line == line


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    config = _config(tmp_path, "creation_rules:\n  - age: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        rules.load_rules(config)
    assert info.value.where == str(config)


def test_unreadable_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read") as info:
        rules.load_rules(tmp_path / "missing.yaml")
    assert info.value.where == str(tmp_path / "missing.yaml")


# --- match_rule ----------------------------------------------------------------------------


def test_first_matching_rule_wins(tmp_path: Path) -> None:
    found = _load(
        tmp_path,
        "creation_rules:\n"
        f"  - path_regex: \\.prod\\.yaml$\n    age: {R1}\n"
        f"  - path_regex: ^secrets/\n    age: {R2}\n"
        f"  - age: {R3}\n",
    )
    assert rules.match_rule(found, tmp_path / "secrets/db.prod.yaml", tmp_path).key_groups == [[R1]]
    assert rules.match_rule(found, tmp_path / "secrets/db.yaml", tmp_path).key_groups == [[R2]]
    # unanchored search: "^secrets/" is tried on the path relative to the config directory
    assert rules.match_rule(found, tmp_path / "app/secrets/x.yaml", tmp_path).key_groups == [[R3]]


def test_no_matching_rule(tmp_path: Path) -> None:
    found = _load(tmp_path, f"creation_rules:\n  - path_regex: ^only/\n    age: {R1}\n")
    with pytest.raises(ConfigError, match="no matching creation rules found"):
        rules.match_rule(found, tmp_path / "other/x.yaml", tmp_path)
    with pytest.raises(ConfigError, match="no matching creation rules found"):
        rules.match_rule([], tmp_path / "x.yaml", tmp_path)


def test_relative_path_uses_posix_separators_and_config_dir(tmp_path: Path) -> None:
    assert rules.relative_path(tmp_path / "a" / "b.yaml", tmp_path) == "a/b.yaml"
    outside = tmp_path.parent / "elsewhere.yaml"
    assert rules.relative_path(outside, tmp_path) == str(outside)


def test_relative_file_paths_are_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert rules.relative_path(Path("x/y.yaml"), Path()) == "x/y.yaml"


def test_problems_are_raised_only_for_the_rule_used(tmp_path: Path) -> None:
    found = _load(
        tmp_path,
        "creation_rules:\n"
        "  - path_regex: ^pgp/\n    pgp: ABCDEF\n"
        "  - path_regex: ^kms/\n    key_groups:\n      - kms:\n          - arn: x\n"
        f"  - path_regex: ^two/\n    encrypted_suffix: _s\n    encrypted_regex: x\n    age: {R1}\n"
        "  - path_regex: ((\n"
        f"  - age: {R2}\n",
    )
    with pytest.raises(ConfigError, match="gitrot supports age keys only") as info:
        rules.match_rule(found, tmp_path / "pgp/a.yaml", tmp_path)
    assert info.value.line == 2
    assert "pgp" in info.value.message
    with pytest.raises(ConfigError, match="gitrot supports age keys only"):
        rules.match_rule(found, tmp_path / "kms/a.yaml", tmp_path)
    with pytest.raises(ConfigError, match="only one of") as info:
        rules.match_rule(found, tmp_path / "two/a.yaml", tmp_path)
    assert info.value.line == 8
    # the bad regex is reached (like sops, which compiles each rule's regex in turn)
    with pytest.raises(ConfigError, match="not a valid regular expression") as info:
        rules.match_rule(found, tmp_path / "other.yaml", tmp_path)
    assert info.value.line == 12
    # empty key lists of other types are no problem
    (rule,) = _load(tmp_path, f"creation_rules:\n  - pgp: ''\n    kms: []\n    age: {R1}\n")
    assert rules.match_rule([rule], tmp_path / "x.yaml", tmp_path).key_groups == [[R1]]


def test_creation_rule_is_immutable(tmp_path: Path) -> None:
    (rule,) = _load(tmp_path, f"creation_rules:\n  - age: {R1}\n")
    with pytest.raises(AttributeError):
        rule.path_regex = "x"  # type: ignore[misc]


# --- the oracle: sops picks the same recipients --------------------------------------------


def _sops_recipients(cwd: Path, file: Path) -> list[list[str]] | str:
    """Recipients per key group that sops wrote when encrypting ``file`` from ``cwd``."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)}
    result = subprocess.run(
        [str(SOPS), "-e", str(file)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return result.stderr
    meta = yaml.safe_load(result.stdout)["sops"]
    if "key_groups" in meta:
        return [[entry["recipient"] for entry in group["age"]] for group in meta["key_groups"]]
    return [[entry["recipient"] for entry in meta["age"]]]


ORACLE_CONFIG = (
    "creation_rules:\n"
    "  - path_regex: ^sub/deeper/\n"
    "    pgp: ABCDEF\n"
    "  - path_regex: ^sub/dup\n"
    f"    age: {R1}, {R1} ,{R2}\n"
    "  - path_regex: ^sub/merge\n"
    "    key_groups:\n"
    "      - merge:\n"
    f"          - age: [{R3}]\n"
    "        age:\n"
    f"          - {R1},{R2}\n"
    f"          - {R3}\n"
    f"      - age: [{R2}]\n"
    "  - path_regex: (^|/)intents/.*\\.ya?ml$\n"
    "    encrypted_regex: ^(value|ref)$\n"
    f"    age: [{R2}, {R1}]\n"
    "  - path_regex: \\.prod\\.yaml$\n"
    f"    age: {R3}\n"
)


@needs_sops
@pytest.mark.parametrize(
    ("cwd", "file"),
    [
        (".", "sub/x.prod.yaml"),
        (".", "sub/dup.yaml"),
        (".", "sub/merge.yaml"),
        (".", "intents/a.yaml"),
        (".", "sub/intents/b.yml"),
        ("sub", "x.prod.yaml"),
        ("sub", "merge.yaml"),
        (".", "sub/none.yaml"),
        (".", "sub/deeper/p.yaml"),
    ],
)
def test_sops_picks_the_same_recipients(tmp_path: Path, cwd: str, file: str) -> None:
    root = tmp_path / "repo"
    _config(root, ORACLE_CONFIG)
    workdir = root / cwd
    target = workdir / file
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("value: secret\n")

    config = rules.find_config(workdir, explicit=None)
    assert config == root / ".sops.yaml"
    found, _ = rules.load_rules(config)
    theirs = _sops_recipients(workdir, Path(file))
    try:
        rule = rules.match_rule(found, target, config.parent)
    except ConfigError as error:
        # sops fails too: no rule, or a key type gitrot does not support
        assert isinstance(theirs, str)
        if "no matching" in error.message:
            assert "no matching creation rules found" in theirs
        else:
            assert "pgp" in error.message
            assert "PGP" in theirs or "pgp" in theirs
        return
    assert rule.key_groups == theirs


@needs_sops
def test_sops_ignores_a_config_beyond_100_levels(tmp_path: Path) -> None:
    _config(tmp_path, f"creation_rules:\n  - path_regex: ^nothing$\n    age: {R1}\n")
    for depth, found_by_us in ((99, True), (100, False)):
        start = tmp_path.joinpath(*["d"] * depth)
        start.mkdir(parents=True, exist_ok=True)
        (start / "f.yaml").write_text("a: b\n")
        ours = rules.find_config(start, explicit=None) == tmp_path / ".sops.yaml"
        assert ours is found_by_us
        theirs = _sops_recipients(start, Path("f.yaml"))
        # with the config, sops finds no matching rule; without, it has no recipients at all
        assert isinstance(theirs, str)
        assert ("no matching creation rules found" in theirs) is found_by_us
