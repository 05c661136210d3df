"""What users copy into their CI passes the consumers' own checks: action.yml, the GitLab
template and every workflow, pipeline and pre-commit example in the docs are validated
with check-jsonschema's vendored schemas (GitHub's action and workflow schemas, GitLab's
CI schema) and pre-commit's own config check, and every script in them passes shellcheck
for the shell that runs it.

shellcheck is Debian's package (``make shellcheck``). Without it the shellcheck tests are
skipped, except under ``GITROT_REQUIRE_TOOLS=1`` (``make unit`` sets it), where a missing
tool fails the run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ACTION = ROOT / "action.yml"
TEMPLATE = ROOT / "docs" / "ci" / "gitlab-ci.yml"
DOCS = [ROOT / "README.md", ROOT / "docs" / "ci" / "README.md"]
# read at import: the autouse isolated_home fixture clears GITROT_* before each test
REQUIRE_TOOLS = os.environ.get("GITROT_REQUIRE_TOOLS") == "1"
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
FENCED = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def tool(name: str) -> str:
    """The path of ``name``: from the venv, else PATH; skip (fail under REQUIRE_TOOLS)."""
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        message = f"{name} is missing: run `make {name}` (make unit installs it)"
        if REQUIRE_TOOLS:
            pytest.fail(message)
        pytest.skip(message)
    return found


def check_jsonschema(schema: str, path: Path) -> None:
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{path}: {result.stdout}{result.stderr}"


def shellcheck(script: str, shell: str, where: str) -> None:
    result = subprocess.run(
        [tool("shellcheck"), "--shell", shell, "--severity", "style", "-"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{where} ({shell}):\n{result.stdout}{result.stderr}"


class Block(NamedTuple):
    where: str
    text: str  # as written: the consumers read it, not a re-dump (PyYAML reads `on:` as True)
    document: dict[str, Any]


def doc_blocks() -> list[Block]:
    """Every fenced YAML block of the docs that is a mapping."""
    blocks = []
    for doc in DOCS:
        for number, match in enumerate(FENCED.finditer(doc.read_text(encoding="utf-8")), 1):
            document = yaml.safe_load(match.group(1))
            if isinstance(document, dict):
                where = f"{doc.relative_to(ROOT)} yaml block {number}"
                blocks.append(Block(where, match.group(1), document))
    return blocks


def kind(document: dict[str, Any]) -> str:
    # PyYAML reads the key `on:` as True (YAML 1.1)
    if "jobs" in document and ("on" in document or True in document):
        return "github-workflow"
    if "repos" in document:
        return "pre-commit"
    if "include" in document or any(
        isinstance(v, dict) and "script" in v for v in document.values()
    ):
        return "gitlab-ci"
    return "other"


BLOCKS = doc_blocks()


def blocks_of(name: str) -> list[Any]:
    return [pytest.param(b, id=b.where) for b in BLOCKS if kind(b.document) == name]


def gitlab_job(document: dict[str, Any], name: str) -> dict[str, Any]:
    """A job with its ``extends`` chain merged as GitLab merges it."""
    spec = dict(document[name])
    parent = spec.pop("extends", None)
    if parent is None:
        return spec
    merged = gitlab_job(document, parent)
    for key, value in spec.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def workflow_scripts(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(where, shell, script) of every ``run:`` step of a workflow or composite action.
    ``${{ }}`` expressions are replaced the way the runner does, by text, before the shell
    reads the script. The shell is the step's ``shell:``, else the job's or the workflow's
    ``defaults.run.shell``, else bash (what ubuntu runners use)."""
    found = []
    default = document.get("defaults", {}).get("run", {}).get("shell", "bash")
    jobs = document.get("jobs") or {"runs": document.get("runs", {})}
    for job_name, job in jobs.items():
        job_shell = job.get("defaults", {}).get("run", {}).get("shell", default)
        for index, step in enumerate(job.get("steps", [])):
            if "run" in step:
                shell = step.get("shell", job_shell)
                script = EXPRESSION.sub("expression", step["run"])
                found.append((f"{job_name} step {index + 1}", shell, script))
    return found


def shell_name(shell: str) -> str:
    """shellcheck's dialect for a step's ``shell:`` (sh: POSIX; bash: bash)."""
    first = shell.split(maxsplit=1)[0]
    assert first in ("bash", "sh"), f"a shell shellcheck cannot check: {shell}"
    return first


def test_the_docs_have_the_examples_this_file_checks() -> None:
    kinds = [kind(block.document) for block in BLOCKS]
    assert kinds.count("github-workflow") >= 2
    assert kinds.count("gitlab-ci") >= 1
    assert kinds.count("pre-commit") >= 2


def test_action_yml_passes_githubs_action_schema() -> None:
    check_jsonschema("vendor.github-actions", ACTION)
    branding = yaml.safe_load(ACTION.read_text(encoding="utf-8"))["branding"]
    assert branding["icon"] == "shield"  # a Feather icon GitHub supports (key is not one)


def test_the_gitlab_template_passes_gitlabs_ci_schema() -> None:
    check_jsonschema("vendor.gitlab-ci", TEMPLATE)


@pytest.mark.parametrize("block", blocks_of("github-workflow"))
def test_every_workflow_example_passes_githubs_workflow_schema(
    block: Block, tmp_path: Path
) -> None:
    path = tmp_path / "workflow.yml"
    path.write_text(block.text)
    check_jsonschema("vendor.github-workflows", path)


@pytest.mark.parametrize("block", blocks_of("gitlab-ci"))
def test_every_gitlab_example_passes_gitlabs_ci_schema(block: Block, tmp_path: Path) -> None:
    path = tmp_path / "gitlab-ci.yml"
    path.write_text(block.text)
    check_jsonschema("vendor.gitlab-ci", path)


@pytest.mark.parametrize("block", blocks_of("pre-commit"))
def test_every_pre_commit_example_passes_pre_commits_config_check(
    block: Block, tmp_path: Path
) -> None:
    path = tmp_path / ".pre-commit-config.yaml"
    path.write_text(block.text)
    result = subprocess.run(
        [tool("pre-commit"), "validate-config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_hooks_manifest_passes_pre_commits_manifest_check() -> None:
    result = subprocess.run(
        [tool("pre-commit"), "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_passes_on_every_step_of_action_yml() -> None:
    document = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    scripts = workflow_scripts(document)
    assert len(scripts) == 5
    for where, shell, script in scripts:
        shellcheck(script, shell_name(shell), f"action.yml {where}")


@pytest.mark.parametrize("block", blocks_of("github-workflow"))
def test_shellcheck_passes_on_every_run_step_of_the_workflow_examples(block: Block) -> None:
    for where, shell, script in workflow_scripts(block.document):
        shellcheck(script, shell_name(shell), where)


def test_shellcheck_passes_on_every_job_of_the_gitlab_template() -> None:
    """A job's before_script and script run as one script, by sh or bash (the runner picks
    bash when the image has it): checked as POSIX sh, so `set -o pipefail` is refused."""
    document = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    jobs = [
        name for name, spec in document.items() if isinstance(spec, dict) and name != "variables"
    ]
    assert {"gitrot-check", "gitrot-code-quality", "gitrot-scheduled"} <= set(jobs)
    for name in jobs:
        spec = gitlab_job(document, name)
        lines = [*spec.get("before_script", []), *spec.get("script", [])]
        if lines:
            shellcheck("\n".join(lines) + "\n", "sh", f"gitlab-ci.yml {name}")


def test_shellcheck_refuses_pipefail_in_posix_sh() -> None:
    """The regression the approvals step had: shellcheck's SC3040 is what catches it."""
    with pytest.raises(AssertionError, match="SC3040"):
        shellcheck('set -o pipefail\necho "$HOME"\n', "sh", "example")


@pytest.mark.parametrize("script", sorted(ROOT.glob("demo/*.sh")), ids=lambda p: p.name)
def test_demo_scripts_pass_shellcheck(script: Path) -> None:
    """``make demo`` and ``make demo-servers`` run these with bash: no warning (the demo
    shows commands as a reader would type them, so style notes like ``cat FILE |`` stay)."""
    result = subprocess.run(
        [tool("shellcheck"), "--shell", "bash", "--severity", "warning", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{script.name}:\n{result.stdout}{result.stderr}"
