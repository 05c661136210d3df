"""A repository's rule files refused at file:line:column, and where rule files are found
(tests/policy/test_rules.py has the format's main refusals)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import gitrot
from gitrot.core.models import Config
from gitrot.errors import InputError
from gitrot.policy import rules as rules_module
from gitrot.policy.rules import builtin_rules, load_rules, parse_rules, repo_rule_files
from tests.conftest import child_env

HEAD = "apiVersion: gitrot/v1\nkind: PolicyRules\nrules:\n"
RULE = (
    "  - id: reason-names-a-ticket\n"
    "    severity: error\n"
    "    description: every rotation names its change ticket\n"
    "    expr: intent.spec.reason.matches('[A-Z]+-[0-9]+')\n"
    "    message: spec.reason names no ticket\n"
)


@pytest.mark.parametrize(
    ("text", "message", "at"),
    [
        (
            HEAD + "  - just a rule name\n",
            "rules[0] must be a mapping (a rule)",
            (3, 1),
        ),
        (
            HEAD + RULE.replace("reason-names-a-ticket", "Reason_Ticket"),
            "rule id 'Reason_Ticket' is not lowercase letters, digits, '.', '_' and '-'",
            (4, 5),
        ),
        (
            HEAD + RULE + "    contexts: [pr, nightly]\n",
            "rules[0].contexts: 'nightly' is not one of pre-commit, pr, scheduled",
            (9, 5),
        ),
        (
            HEAD + RULE + "    requires: [pr, pr]\n",
            "rules[0].requires lists 'pr' twice",
            (9, 5),
        ),
        (
            HEAD + RULE + "    contexts: [pr, '']\n",
            "rules[0].contexts must be a list of non-empty strings, got a string",
            (9, 5),
        ),
        (
            HEAD + RULE + "    select: {name: []}\n",
            "rules[0].select.name is an empty list; omit it to select every intent",
            (9, 14),
        ),
    ],
    ids=["not-a-mapping", "id-pattern", "unknown-context", "twice", "empty-item", "empty-select"],
)
def test_a_bad_rule_is_refused_at_its_place(text: str, message: str, at: tuple[int, int]) -> None:
    with pytest.raises(InputError) as info:
        parse_rules(text, "policies/ticket.yaml")
    assert info.value.message == message
    assert (info.value.where, info.value.line, info.value.column) == ("policies/ticket.yaml", *at)


def test_a_rule_naming_its_contexts_and_needs_keeps_them() -> None:
    text = HEAD + RULE + "    contexts: [pr, scheduled]\n    requires: [pr]\n"
    (rule,) = parse_rules(text, "policies/ticket.yaml")
    assert (rule.contexts, rule.requires) == (("pr", "scheduled"), ("pr",))


def test_policy_paths_may_name_one_rule_file(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "ticket.yaml").write_text(HEAD + RULE)
    (tmp_path / "policies" / "other.yaml").write_text(HEAD + RULE.replace("ticket", "x"))
    (tmp_path / "notes.txt").write_text("not rules\n")
    config = Config(
        recipients={}, policy_paths=("policies/ticket.yaml", "notes.txt", "missing.yaml")
    )
    assert repo_rule_files(str(tmp_path), config) == ["policies/ticket.yaml"]
    assert load_rules(str(tmp_path), config)[-1].id == "reason-names-a-ticket"


def test_the_built_in_pack_loads_from_a_zipped_gitrot(tmp_path: Path) -> None:
    """gitrot imported from a zip (a zipapp) reads its built-in rule files through
    importlib.resources: the same rules as from the package folder."""
    package = Path(gitrot.__file__).parent
    archive = tmp_path / "gitrot.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zipped.write(path, Path("gitrot") / path.relative_to(package))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import gitrot\n"
        "assert gitrot.__file__.startswith(sys.argv[1]), gitrot.__file__\n"
        "from gitrot.policy.rules import builtin_rules\n"
        "print(' '.join(rule.id for rule in builtin_rules()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(archive)],
        capture_output=True,
        text=True,
        check=False,
        env=child_env(),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [rule.id for rule in builtin_rules()]


def test_the_built_in_pack_through_importlib_resources_is_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In process, the branch the zip takes (no package folder on disk): the same rules,
    in the same order, at the same places."""
    folder_rules = [(rule.id, rule.where, rule.line) for rule in builtin_rules()]
    monkeypatch.setattr(rules_module.os.path, "isdir", lambda path: False)
    assert [(rule.id, rule.where, rule.line) for rule in builtin_rules()] == folder_rules
