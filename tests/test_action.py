"""action.yml: a composite action whose steps run ``gitrot check`` with its inputs.

The shell steps are run here too, each on its own with bash, a fake ``gitrot`` and a fake
``gh`` (no network, no runner): ``${{ ... }}`` expressions are replaced from a table, and
an expression the table does not know fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

ACTION = Path(__file__).resolve().parents[1] / "action.yml"
BASH = shutil.which("bash")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

FAKE_GITROT = """#!/bin/sh
printf '%s\\n' "$@" > "$FAKE_LOG/args"
printf 'author=%s\\n' "${GITROT_PR_AUTHOR-<unset>}" > "$FAKE_LOG/env"
printf 'approvals=%s\\n' "${GITROT_PR_APPROVALS-<unset>}" >> "$FAKE_LOG/env"
printf 'number=%s\\n' "${GITROT_PR_NUMBER-<unset>}" >> "$FAKE_LOG/env"
exit "${FAKE_STATUS:-0}"
"""
# what `gh api --paginate ... --jq '... | @tsv'` prints: reviews in order, comments left out
FAKE_GH = """#!/bin/sh
printf '%s\\n' "$@" > "$FAKE_LOG/gh-args"
[ "${FAKE_GH_FAILS:-}" = 1 ] && { echo "HTTP 403" >&2; exit 1; }
printf 'bob\\tAPPROVED\\ncarol\\tAPPROVED\\nbob\\tCHANGES_REQUESTED\\ndave\\tDISMISSED\\n'
printf 'erin[bot]\\tAPPROVED\\ncarol\\tAPPROVED\\n'
"""


def action() -> dict[str, Any]:
    document = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def step(name: str) -> dict[str, Any]:
    (found,) = [s for s in action()["runs"]["steps"] if s.get("name") == name]
    return dict(found)


class Ran(NamedTuple):
    status: int
    out: str
    outputs: dict[str, str]
    log: Path


CONTEXT = {
    "inputs.base": "base-sha",
    "inputs.head": "HEAD",
    "inputs.format": "github",
    "inputs.sarif": "gitrot.sarif",
    "inputs.install": "",
    "inputs.token": "t0ken",
    "inputs.working-directory": ".",
    "github.event.pull_request.user.login": "alice",
    "github.event.pull_request.number": "42",
    "steps.pr.outputs.approvals": "carol,erin[bot]",
    "steps.pr.outputs.approvals-known": "true",
}


def run(name: str, tmp_path: Path, context: dict[str, str], **env: str) -> Ran:
    """Run the step ``name`` the way the runner runs a ``shell: bash`` step."""
    assert BASH is not None
    spec = step(name)
    assert spec["shell"] == "bash"
    fakes, log, work = tmp_path / "bin", tmp_path / "log", tmp_path / "work"
    for folder in (fakes, log, work):
        folder.mkdir(exist_ok=True)
    for tool, text in (("gitrot", FAKE_GITROT), ("gh", FAKE_GH)):
        (fakes / tool).write_text(text)
        (fakes / tool).chmod(0o755)
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    values = {
        key: EXPRESSION.sub(lambda m: context[m.group(1)], str(value))
        for key, value in spec.get("env", {}).items()
    }
    script = tmp_path / "step.sh"
    script.write_text(spec["run"])
    result = subprocess.run(
        [BASH, "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=work,
        env={
            "PATH": f"{fakes}{os.pathsep}{os.environ['PATH']}",
            "GITHUB_OUTPUT": str(outputs),
            "GITHUB_REPOSITORY": "acme/policy",
            "FAKE_LOG": str(log),
            **values,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = outputs.read_text().splitlines()
    return Ran(
        result.returncode,
        result.stdout + result.stderr,
        dict(line.split("=", 1) for line in lines),
        log,
    )


def test_a_composite_action_with_its_inputs() -> None:
    document = action()
    assert document["name"] == "gitrot check"
    assert document["runs"]["using"] == "composite"
    inputs = document["inputs"]
    assert inputs["base"]["default"] == "${{ github.event.pull_request.base.sha }}"
    assert inputs["head"]["default"] == "HEAD"
    assert inputs["format"]["default"] == "github"
    assert inputs["sarif"]["default"] == "gitrot.sarif"
    assert inputs["upload-sarif"]["default"] == "true"
    assert {"python-version", "install", "working-directory", "token"} <= set(inputs)
    assert all(spec.get("description") for spec in inputs.values())


def test_steps_in_order_and_every_shell_step_parses() -> None:
    assert BASH is not None
    steps = action()["runs"]["steps"]
    assert [s.get("uses", "").split("@")[0] for s in steps] == [
        "actions/setup-python",
        "",
        "",
        "",
        "",
        "github/codeql-action/upload-sarif",
        "",
    ]
    assert steps[0]["with"]["python-version"] == "${{ inputs.python-version }}"
    upload = steps[5]
    assert upload["if"] == "inputs.upload-sarif == 'true'"
    assert upload["with"]["sarif_file"] == "${{ steps.sarif.outputs.path }}"
    for spec in steps:
        if "run" in spec:
            assert spec["shell"] == "bash"
            # inputs reach scripts through env only, never spliced into the script text
            assert "${{" not in spec["run"], spec["name"]
            parsed = subprocess.run([BASH, "-n"], input=spec["run"], text=True, check=False)
            assert parsed.returncode == 0, spec["name"]


def test_installs_gitrot_from_the_actions_own_checkout_by_default() -> None:
    install = step("Install gitrot")
    assert install["env"] == {"GITROT_INSTALL": "${{ inputs.install }}"}
    assert '"${GITROT_INSTALL:-$GITHUB_ACTION_PATH}"' in install["run"]
    assert "$GITHUB_PATH" in install["run"]


@pytest.mark.parametrize("status", [0, 1, 2, 3])
def test_the_verdict_step_runs_gitrot_check_with_the_inputs(status: int, tmp_path: Path) -> None:
    ran = run("gitrot check", tmp_path, CONTEXT, FAKE_STATUS=str(status))
    assert ran.status == status  # the action fails exactly when the check does
    args = (ran.log / "args").read_text().splitlines()
    assert args == ["check", "--base", "base-sha", "--head", "HEAD", "--format", "github"]
    assert (ran.log / "env").read_text() == ("author=alice\napprovals=carol,erin[bot]\nnumber=42\n")


def test_pr_facts_stay_unset_when_unknown(tmp_path: Path) -> None:
    context = {
        **CONTEXT,
        "github.event.pull_request.user.login": "",
        "github.event.pull_request.number": "",
        "steps.pr.outputs.approvals": "",
        "steps.pr.outputs.approvals-known": "",
    }
    ran = run("gitrot check", tmp_path, context)
    assert ran.status == 0
    assert (ran.log / "env").read_text() == ("author=<unset>\napprovals=<unset>\nnumber=<unset>\n")
    known_but_none = {**context, "steps.pr.outputs.approvals-known": "true"}
    run("gitrot check", tmp_path, known_but_none)
    assert (ran.log / "env").read_text() == "author=<unset>\napprovals=\nnumber=<unset>\n"


@pytest.mark.parametrize(("status", "passes"), [(0, True), (1, True), (2, False), (3, False)])
def test_the_sarif_step_continues_on_findings_only(
    status: int, passes: bool, tmp_path: Path
) -> None:
    ran = run("gitrot check (SARIF)", tmp_path, CONTEXT, FAKE_STATUS=str(status))
    sarif = str(tmp_path / "work" / "gitrot.sarif")
    args = (ran.log / "args").read_text().splitlines()
    assert args == [
        "check",
        "--base",
        "base-sha",
        "--head",
        "HEAD",
        "--format",
        "sarif",
        "--output",
        sarif,
    ]
    assert (ran.status == 0) is passes
    assert ran.outputs == ({"path": sarif} if passes else {})


def test_an_absolute_sarif_path_is_kept(tmp_path: Path) -> None:
    context = {**CONTEXT, "inputs.sarif": "/tmp/out/g.sarif"}
    ran = run("gitrot check (SARIF)", tmp_path, context)
    assert ran.outputs == {"path": "/tmp/out/g.sarif"}


def test_approvals_are_the_latest_approving_reviews(tmp_path: Path) -> None:
    ran = run("Read the pull request's author and approvals", tmp_path, CONTEXT)
    assert ran.status == 0
    # bob requested changes after approving; dave's review was dismissed
    assert ran.outputs == {"approvals": "carol,erin[bot]", "approvals-known": "true"}
    gh_args = (ran.log / "gh-args").read_text().splitlines()
    assert gh_args[:3] == ["api", "--paginate", "repos/acme/policy/pulls/42/reviews"]
    assert gh_args[3] == "--jq"


def test_approvals_stay_unknown_when_the_api_fails(tmp_path: Path) -> None:
    ran = run("Read the pull request's author and approvals", tmp_path, CONTEXT, FAKE_GH_FAILS="1")
    assert ran.status == 0
    assert ran.outputs == {}
    assert "::warning title=gitrot check::cannot list the pull request's reviews" in ran.out


def test_approvals_are_not_asked_for_outside_a_pull_request(tmp_path: Path) -> None:
    context = {**CONTEXT, "github.event.pull_request.number": ""}
    ran = run("Read the pull request's author and approvals", tmp_path, context)
    assert ran.status == 0 and ran.outputs == {}
    assert not (ran.log / "gh-args").exists()


def test_no_base_is_a_clear_error(tmp_path: Path) -> None:
    ran = run("Fetch the history gitrot check reads", tmp_path, {**CONTEXT, "inputs.base": ""})
    assert ran.status == 2
    assert "::error title=gitrot check::no base revision" in ran.out


def test_a_full_clone_that_has_the_base_fetches_nothing(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    git = ["git", "-C", str(work), "-c", "user.name=T", "-c", "user.email=t@example.com"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    subprocess.run([*git, "init", "-q"], check=True, env=env)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "base"], check=True, env=env)
    sha = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, env=env, capture_output=True, text=True
    ).stdout.strip()
    ran = run("Fetch the history gitrot check reads", tmp_path, {**CONTEXT, "inputs.base": sha})
    assert ran.status == 0, ran.out
    # no remote: a fetch would have failed
