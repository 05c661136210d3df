"""The real pre-commit, with gitrot's hooks from a git repository holding this checkout.

A repository cannot point pre-commit at an uncommitted work tree, so the session builds a
throwaway git repository with what ``pip install`` needs (pyproject.toml, README.md,
gitrot/ with its symlinks resolved) and ``.pre-commit-hooks.yaml``, commits it, and names it
with ``repo:`` + ``rev:`` (or ``pre-commit try-repo PATH --ref SHA``). pre-commit then builds
its own virtualenv for gitrot from PyPI dependencies, once per session (PRE_COMMIT_HOME is
shared by every module here).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GIT = ["git", "-c", "user.name=gitrot tests", "-c", "user.email=tests@example.invalid"]
GIT += ["-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]


def env(home: Path) -> dict[str, str]:
    """The environment of a pre-commit run: this venv's gitrot and pre-commit on PATH, no
    git variables of an outer repository, the session's pre-commit cache."""
    found = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    found["PATH"] = f"{BIN}{os.pathsep}{found['PATH']}"
    found["PRE_COMMIT_HOME"] = str(home)
    return found


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pre-commit cache per session: the hook's virtualenv is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A committed copy of this checkout's installable files; (path, commit sha)."""
    repo = tmp_path_factory.mktemp("gitrot-hooks")
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(ROOT / name, repo / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "gitrot", repo / "gitrot", symlinks=False, ignore=ignore)
    for link in ("schemas", "policies"):  # symlinks at the root: copy what they point to
        shutil.copytree((ROOT / link).resolve(), repo / link, ignore=ignore)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "gitrot hooks"]):
        subprocess.run([*GIT, *args], cwd=repo, check=True, env=env, timeout=60)
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, env=env, capture_output=True, text=True
    ).stdout.strip()
    return repo, sha
