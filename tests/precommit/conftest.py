"""The real pre-commit, with gitrot's hooks from a git repository holding this checkout.

A repository cannot point pre-commit at an uncommitted work tree, so the session builds a
throwaway git repository with what ``pip install`` needs (pyproject.toml, README.md,
gitrot/ with its symlinks resolved) and ``.pre-commit-hooks.yaml``, commits it, and names it
with ``repo:`` + ``rev:`` (or ``pre-commit try-repo PATH --ref SHA``). pre-commit then builds
its own virtualenv for gitrot from PyPI dependencies, once per run: the hook repository and
PRE_COMMIT_HOME are shared by every module here and by every pytest-xdist worker (the first
worker builds the repository under a file lock; pre-commit locks its own store).
"""

from __future__ import annotations

import fcntl
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


def _run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of the whole run: with pytest-xdist, the one every worker's
    own folder sits in."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pre-commit cache per run: the hook's virtualenv is built once."""
    home = _run_folder(tmp_path_factory) / "pre-commit-home"
    home.mkdir(exist_ok=True)
    return home


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A committed copy of this checkout's installable files; (path, commit sha)."""
    folder = _run_folder(tmp_path_factory)
    with open(folder / "gitrot-hooks.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        repo = folder / "gitrot-hooks"
        if not (repo / ".git").is_dir():
            _build_hook_repo(repo)
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=repo,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        capture_output=True,
        text=True,
    ).stdout.strip()
    return repo, sha


def _build_hook_repo(repo: Path) -> None:
    building = repo.with_name(repo.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    _fill_hook_repo(building)
    building.rename(repo)  # whole, or not there: a worker never sees half a repository


def _fill_hook_repo(repo: Path) -> None:
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(ROOT / name, repo / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "gitrot", repo / "gitrot", symlinks=False, ignore=ignore)
    for link in ("schemas", "policies"):  # symlinks at the root: copy what they point to
        shutil.copytree((ROOT / link).resolve(), repo / link, ignore=ignore)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "gitrot hooks"]):
        subprocess.run([*GIT, *args], cwd=repo, check=True, env=env, timeout=60)
