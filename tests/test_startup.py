"""The pre-commit hook's start-up, pinned: what ``gitrot validate FILE`` does not import.

The hook runs once per commit, so its process must stay short (docs/architecture.md,
"Packages and what each may import"): the heavy third-party libraries are imported only in
the function that needs them, and validating an intent needs none of them. ``rich`` (the
tables and progress bars of gitrot.ui) is for people at a terminal: neither the hook nor
``gitrot decrypt`` imports it, on a terminal or not. The child runs without coverage's
hooks (``child_env``), which would import modules gitrot does not.
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
#: the terminal's drawing: never on the hook's or decrypt's path
RICH = ("rich",)

PROBE = (
    "import json, sys\n"
    "from gitrot.main import main\n"
    "code = main(sys.argv[1:])\n"
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

    for terminal in (False, True):
        modules = probe(root, terminal, "validate", "secrets/payments/db-password.yaml")
        assert "gitrot.commands.validate" in modules  # the probe ran the hook
        assert [m for m in (*HEAVY, *RICH) if m in modules] == []
    # the control: a table for people imports rich on a terminal only
    assert "rich" not in probe(root, False, "due", "--within", "1000d")
    assert "rich" in probe(root, True, "due", "--within", "1000d")


def test_decrypt_loads_no_rich(  # type: ignore[no-untyped-def]
    gitrot, key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    plain = tmp_path / "plain.yaml"
    plain.write_text("db:\n    password: startup-probe-value\n")
    encrypted = tmp_path / "enc.yaml"
    made = gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(encrypted))
    assert made.code == 0, made.err
    for terminal in (False, True):
        modules = probe(tmp_path, terminal, "decrypt", str(encrypted))
        assert "gitrot.commands.decrypt" in modules
        assert [m for m in RICH if m in modules] == []


def probe(root: Path, terminal: bool, *args: str) -> set[str]:
    """The modules ``gitrot ARGS`` loaded in a child process; with ``terminal``, its
    stdin, stdout and stderr say they are a terminal (``isatty`` patched in the child)."""
    code = PROBE
    if terminal:
        code = (
            "import sys\n"
            "for stream in (sys.stdin, sys.stdout, sys.stderr):\n"
            "    stream.isatty = lambda: True\n" + PROBE
        )
    env = {**child_env(), "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    child = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=False,
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout.splitlines()[-1])
    assert result["code"] == 0, child.stderr
    return set(result["modules"])
