"""``pre-commit try-repo`` with gitrot's published hooks (this checkout, committed by the
session's ``hook_repo``) in the three kinds of repository they meet: a policy repository, a
policy folder in a bigger repository, and an application's repository that keeps sops
files in ``secrets/``; and a real commit through the hook ``gitrot init`` writes at the top
of a bigger repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.precommit.conftest import BIN, GIT, env

INTENT = "secrets/payments/db-password.yaml"
NEW = ["--backend", "local", "--ref", "r", "--owner", "o", "--class", "api-key"]
SOPS_FILE = """\
password: ENC[AES256_GCM,data:3q2+7w==,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]
sops:
    age: []
    lastmodified: "2026-01-01T00:00:00Z"
    mac: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]
    version: 3.11.0
"""

pytestmark = pytest.mark.slow


def run(args: list[str], cwd: Path, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=environ, capture_output=True, text=True, timeout=600, check=False
    )


def try_repo(hooks: tuple[Path, str], cwd: Path, environ: dict[str, str]) -> tuple[int, str]:
    """``pre-commit try-repo HOOKS gitrot-validate --ref SHA --all-files --verbose`` on what
    ``cwd``'s repository has staged: (exit code, output)."""
    path, sha = hooks
    subprocess.run([*GIT, "add", "-A"], cwd=cwd, check=True, env=environ, timeout=60)
    command = [str(BIN / "pre-commit"), "try-repo", str(path), "gitrot-validate", "--ref", sha]
    result = run([*command, "--all-files", "--verbose"], cwd, environ)
    return result.returncode, result.stdout + result.stderr


def gitrot(*args: str, cwd: Path, environ: dict[str, str]) -> None:
    result = run([str(BIN / "gitrot"), *args], cwd, environ)
    assert result.returncode == 0, result.stderr


def break_version(intent: Path) -> None:
    intent.write_text(intent.read_text().replace("version: 1", "version: 0"))


def test_try_repo_in_a_policy_repository(
    hook_repo: tuple[Path, str], pre_commit_home: Path, tmp_path: Path
) -> None:
    """A broken intent fails with its error printed once, though the run holds
    waivers.yaml (which widens it to every intent) and enough files for pre-commit to split
    them over processes without require_serial. (try-repo builds the hook's environment
    afresh each time, ~10 s: one run per repository; clean runs pass in test_hooks.py.)"""
    environ = env(pre_commit_home)
    root = tmp_path / "policy"
    gitrot("init", str(root), cwd=tmp_path, environ=environ)
    for team in ("payments", "search", "billing", "auth", "mail", "web", "data", "ops"):
        gitrot("new", f"{team}/db-password", *NEW, cwd=root, environ=environ)
    break_version(root / INTENT)
    code, out = try_repo(hook_repo, root, environ)
    assert code == 1, out
    error = f"{INTENT}:9:5: error: [schema] spec.version must be >= 1"
    assert out.count(error) == 1, out


def test_try_repo_in_a_policy_folder_of_a_bigger_repository(
    hook_repo: tuple[Path, str], pre_commit_home: Path, tmp_path: Path
) -> None:
    """The hook, run from the top, finds infra/policy from the paths; the application's
    sops files beside it are not judged; findings name files from the top. (A clean commit
    through the hook: test_a_commit_through_the_hook_init_writes_at_the_top.)"""
    environ = env(pre_commit_home)
    top = tmp_path / "mono"
    subprocess.run([*GIT, "init", "-q", str(top)], check=True, env=environ, timeout=60)
    policy = top / "infra" / "policy"
    gitrot("init", str(policy), cwd=tmp_path, environ=environ)
    gitrot("new", "payments/db-password", *NEW, cwd=policy, environ=environ)
    (top / "app" / "secrets").mkdir(parents=True)
    (top / "app" / "secrets" / "db.yaml").write_text(SOPS_FILE)
    break_version(policy / INTENT)
    code, out = try_repo(hook_repo, top, environ)
    assert code == 1, out
    assert out.count(f"infra/policy/{INTENT}:9:5: error: [schema]") == 1, out
    assert "app/secrets" not in out


def test_try_repo_in_an_application_repository(
    hook_repo: tuple[Path, str], pre_commit_home: Path, tmp_path: Path
) -> None:
    """No gitrot.yaml anywhere: sops files in secrets/ and a policies/ folder of another
    tool pass without a word (the hook printed nothing)."""
    environ = env(pre_commit_home)
    app = tmp_path / "app"
    subprocess.run([*GIT, "init", "-q", str(app)], check=True, env=environ, timeout=60)
    (app / "secrets").mkdir()
    (app / "secrets" / "db.yaml").write_text(SOPS_FILE)
    (app / "secrets" / "api.yml").write_text(SOPS_FILE)
    (app / "policies").mkdir()
    (app / "policies" / "network.yaml").write_text("deny: all\n")
    code, out = try_repo(hook_repo, app, environ)
    assert code == 0, out
    assert "gitrot validate" in out and "Passed" in out
    assert "gitrot:" not in out and "not in a gitrot repository" not in out


def test_a_commit_through_the_hook_init_writes_at_the_top(
    pre_commit_home: Path, tmp_path: Path
) -> None:
    """gitrot init infra/policy in a bigger repository writes the top-level
    .pre-commit-config.yaml; after pre-commit install, a commit with a broken intent is
    refused and a good one goes through."""
    environ = env(pre_commit_home)
    top = tmp_path / "mono"
    subprocess.run([*GIT, "init", "-q", str(top)], check=True, env=environ, timeout=60)
    policy = top / "infra" / "policy"
    gitrot("init", str(policy), cwd=tmp_path, environ=environ)
    assert (top / ".pre-commit-config.yaml").is_file()
    gitrot("new", "payments/db-password", *NEW, cwd=policy, environ=environ)
    install = run([str(BIN / "pre-commit"), "install"], top, environ)
    assert install.returncode == 0, install.stdout + install.stderr

    break_version(policy / INTENT)
    subprocess.run([*GIT, "add", "-A"], cwd=top, check=True, env=environ, timeout=60)
    refused = run([*GIT, "commit", "-m", "a policy"], top, environ)
    assert refused.returncode != 0
    assert f"infra/policy/{INTENT}:9:5: error: [schema]" in refused.stdout + refused.stderr

    (policy / INTENT).write_text((policy / INTENT).read_text().replace("version: 0", "version: 1"))
    subprocess.run([*GIT, "add", "-A"], cwd=top, check=True, env=environ, timeout=60)
    ok = run([*GIT, "commit", "-m", "a policy"], top, environ)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "gitrot validate" in ok.stdout + ok.stderr
