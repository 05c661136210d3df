"""The pre-commit hook's start-up, pinned: what ``gitrot validate FILE`` does not import.

The hook runs once per commit, so its process must stay short (docs/architecture.md,
"Packages and what each may import"): the heavy third-party libraries are imported only in
the function that needs them, and validating an intent needs none of them. The child runs
without coverage's hooks (``child_env``), which would import modules gitrot does not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import child_env

#: imported only by the work that needs them: history (pygit2), a CEL rule (cel), the
#: schema's oracle in tests (jsonschema), opening a key or a signature (cryptography,
#: pyrage), the installed version or plugins (importlib.metadata)
HEAVY = ("pygit2", "cel", "jsonschema", "cryptography", "pyrage", "importlib.metadata")

PROBE = (
    "import json, sys\n"
    "from gitrot.main import main\n"
    "code = main(['validate', sys.argv[1]])\n"
    "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n"
)


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_the_validate_hook_loads_no_heavy_library(  # type: ignore[no-untyped-def]
    gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "policy"
    assert gitrot("init", str(root)).code == 0
    monkeypatch.chdir(root)
    made = gitrot(
        "new",
        "payments/db-password",
        "--backend",
        "local",
        "--ref",
        "payments/db",
        "--owner",
        "team-payments",
        "--class",
        "database-password",
    )
    assert made.code == 0, made.err
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "new")

    child = subprocess.run(
        [sys.executable, "-c", PROBE, "secrets/payments/db-password.yaml"],
        check=False,
        cwd=root,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout.splitlines()[-1])
    assert result["code"] == 0, child.stderr
    modules = set(result["modules"])
    assert "gitrot.commands.validate" in modules  # the probe ran the hook
    assert [m for m in HEAVY if m in modules] == []
