"""validate: every problem reported with its location; the real pre-commit runs it as a hook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.fixture
def repo_with_secret(gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "policy"
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")  # init writes the hook
    assert gitrot("init", str(root)).code == 0
    monkeypatch.chdir(root)
    result = gitrot(
        "new",
        "payments/db-password",
        "--backend",
        "local",
        "--ref",
        "r",
        "--owner",
        "o",
        "--class",
        "api-key",
    )
    assert result.code == 0, result.err
    return root


def test_validate_clean_repository(gitrot, repo_with_secret: Path) -> None:
    result = gitrot("validate")
    assert result.code == 0, result.out + result.err
    assert result.out == ""


def test_validate_reports_every_problem_with_its_location(gitrot, repo_with_secret: Path) -> None:
    intent = repo_with_secret / "secrets" / "payments" / "db-password.yaml"
    intent.write_text(intent.read_text().replace("version: 1", "version: 0"))
    config = repo_with_secret / "gitrot.yaml"
    config.write_text(config.read_text().replace("max_age: 90d", "max_age: 90x", 1))
    result = gitrot("validate")
    assert result.code == 1
    # one line per finding; hints, when a finding has one, are indented below it
    lines = [line for line in result.out.splitlines() if not line.startswith(" ")]
    assert len(lines) == 2, result.out
    assert lines[0].startswith("gitrot.yaml:") and "90x" in lines[0]
    assert lines[1].startswith(
        "secrets/payments/db-password.yaml:9:5: error: [schema] spec.version must be >= 1"
    )
    assert result.err.strip().splitlines()[-1] == "gitrot: 2 errors in 2 files"
    json_out = gitrot("validate", "--format", "json", "secrets/payments/db-password.yaml")
    assert json_out.code == 1 and '"line": 9' in json_out.out


def test_the_real_pre_commit_runs_gitrot_validate(repo_with_secret: Path) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("GIT_DIR", None)
    subprocess.run(["git", "add", "-A"], cwd=repo_with_secret, check=True, env=env)
    run = [str(BIN / "pre-commit"), "run", "--all-files"]
    ok = subprocess.run(
        run, check=False, cwd=repo_with_secret, capture_output=True, text=True, env=env, timeout=120
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "gitrot validate" in ok.stdout and "Passed" in ok.stdout
    intent = repo_with_secret / "secrets" / "payments" / "db-password.yaml"
    intent.write_text(intent.read_text().replace("owner: o", "owner: o\n    owner: again"))
    subprocess.run(["git", "add", "-A"], cwd=repo_with_secret, check=True, env=env)
    bad = subprocess.run(
        run, check=False, cwd=repo_with_secret, capture_output=True, text=True, env=env, timeout=120
    )
    assert bad.returncode == 1
    assert (
        "secrets/payments/db-password.yaml:7:5: error: [schema] duplicate key 'owner' "
        "(first at line 6)\n    hint: " in bad.stdout
    )
