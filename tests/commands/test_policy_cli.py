"""gitrot policy test over a fixtures folder: every way a fixture or folder can be wrong is
one line naming it (exit 1), a folder that is not one is bad input (exit 2), and the built-in
pack's own folder given by path runs as the built-in pack."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

BUILTIN = Path(__file__).resolve().parents[2] / "gitrot" / "policies"
PASS = (BUILTIN / "tests" / "reason-required" / "pass-ten-characters.yaml").read_text()


@pytest.fixture
def tests_dir(tmp_path: Path) -> Path:
    """policies/tests with the reason-required fixtures, which agree as they are."""
    tests = tmp_path / "policies" / "tests"
    shutil.copytree(BUILTIN / "tests" / "reason-required", tests / "reason-required")
    return tests


def test_a_copy_of_built_in_fixtures_agrees(gitrot, tests_dir: Path) -> None:
    result = gitrot("policy", "test", str(tests_dir) + "/")
    assert result.code == 0, result.out + result.err
    assert result.out == ""
    assert result.err.startswith(f"gitrot: 5 policy fixtures of {tests_dir} agree with ")


def test_the_built_in_folder_given_by_path_is_the_built_in_pack(gitrot) -> None:
    """Its own rules are the built-in pack: every built-in rule and waiver check needs its
    fixtures, which it has."""
    result = gitrot("policy", "test", str(BUILTIN / "tests"))
    assert result.code == 0, result.out + result.err
    assert f"policy fixtures of {BUILTIN / 'tests'} agree with" in result.err


def test_not_a_directory_is_bad_input(gitrot, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = gitrot("policy", "test", str(missing))
    assert result.code == 2
    assert result.err.splitlines()[0] == f"gitrot: error: is not a directory ({missing})"
    assert "give the fixtures folder" in result.err


def test_stray_files_and_folders_are_named_one_line_each(gitrot, tests_dir: Path) -> None:
    (tests_dir / "README.md").write_text("a file next to the rule folders is ignored\n")
    (tests_dir / "reason-required" / "notes.txt").write_text("not a fixture\n")
    (tests_dir / "reason-required" / "sub.yaml").mkdir()  # a folder named like a fixture
    (tests_dir / "no-such-rule").mkdir()
    (tests_dir / "reason-required" / "maybe-x.yaml").write_text(PASS)
    result = gitrot("policy", "test", str(tests_dir))
    assert result.code == 1
    assert result.out.splitlines() == [
        f"{tests_dir}/no-such-rule: no rule has the id 'no-such-rule'",
        f"{tests_dir}/reason-required/maybe-x.yaml: a fixture's name starts with pass- or fail-",
    ]
    assert result.err == f"gitrot: 2 problem(s) in 5 policy fixtures of {tests_dir}\n"


def test_expect_naming_an_unknown_rule_is_named(gitrot, tests_dir: Path) -> None:
    fixture = tests_dir / "reason-required" / "pass-ten-characters.yaml"
    fixture.write_text(PASS.replace("expect: []", "expect: [zeta, alpha]"))
    result = gitrot("policy", "test", str(tests_dir))
    assert result.code == 1
    assert result.out.splitlines() == [
        f"{fixture}: expect names unknown rules: alpha, zeta",
        # a skipped fixture does not count as the rule's pass fixture
    ]
    assert "1 problem(s)" in result.err


@pytest.mark.parametrize(
    ("name", "expect", "line"),
    [
        ("pass-x.yaml", "[reason-required]", "a pass fixture must not expect reason-required"),
        ("fail-x.yaml", "[]", "a fail fixture must expect reason-required"),
    ],
)
def test_a_fixture_contradicting_its_name_is_named(
    gitrot, tests_dir: Path, name: str, expect: str, line: str
) -> None:
    (tests_dir / "reason-required" / name).write_text(
        PASS.replace("expect: []", f"expect: {expect}")
    )
    result = gitrot("policy", "test", str(tests_dir))
    assert result.code == 1
    assert result.out.splitlines() == [f"{tests_dir}/reason-required/{name}: {line}"]


def test_input_must_be_a_mapping(gitrot, tmp_path: Path) -> None:
    (tmp_path / "reason-required").mkdir()
    (tmp_path / "reason-required" / "fail-x.yaml").write_text("input: [1]\nexpect: []\n")
    result = gitrot("policy", "test", str(tmp_path))
    assert result.code == 2
    first = result.err.splitlines()[0]
    assert first.startswith("gitrot: error: input must be a mapping (an input document) (")
    assert f"{tmp_path.name}/reason-required/fail-x.yaml:1" in first
    assert "a fixture holds input:" in result.err


def test_waivers_need_a_time_in_input_now(gitrot, tmp_path: Path) -> None:
    (tmp_path / "reason-required").mkdir()
    (tmp_path / "reason-required" / "fail-x.yaml").write_text(
        "input: {intent: {path: secrets/a.yaml}, now: soon}\n"
        "expect: [reason-required]\n"
        "waivers:\n"
        "  - {rule: reason-required, secrets: payments/*, approver: alice@example.com,\n"
        "     reason: 'CHG-1234: in the change ticket', expires: '2025-01-30'}\n"
    )
    result = gitrot("policy", "test", str(tmp_path))
    assert result.code == 2
    assert result.err.startswith(
        "gitrot: error: input.now must be a time like 2025-01-31T12:00:00Z: its date is the"
        " day the fixture's waivers are judged on ("
    )
