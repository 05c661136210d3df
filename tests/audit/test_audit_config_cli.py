"""``gitrot audit`` takes its defaults from gitrot.yaml's ``audit:`` section: the
allowed-signers file (a path in the policy repository), ``require_signatures`` for
``--verify``, and the main branch; the command line overrides them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.audit.histories import BOB, History

DB = "payments/db"


@pytest.fixture
def history(tmp_path: Path) -> History:
    history = History.create(tmp_path)
    history.reconcile()
    history.branch("f1")
    history.rotate(DB, "CHG-1 quarterly rotation", who=BOB)
    history.merge("f1", "Merge f1\n\nApproved-by: Frank")
    history.reconcile()
    return history


def configure(history: History, section: str) -> None:
    config = history.root / "gitrot.yaml"
    config.write_text(config.read_text() + section)


def test_require_signatures_from_gitrot_yaml_fails_verify_on_unsigned_commits(
    history: History,
) -> None:
    clean = history.audit("--verify", "--format", "json")
    assert clean.returncode == 0, clean.stderr
    (history.root / "allowed_signers").write_text("# nobody yet\n")
    configure(history, "audit:\n  allowed_signers: allowed_signers\n  require_signatures: true\n")
    strict = history.audit("--verify", "--format", "json")
    assert strict.returncode == 1
    problems = json.loads(strict.stdout)["problems"]
    assert problems and {p["check"] for p in problems} == {"signature"}
    assert all("unsigned" in p["message"] for p in problems)
    lines = [line for line in strict.stderr.splitlines() if line.startswith("gitrot: signature")]
    assert len(lines) == len(problems)


def test_the_allowed_signers_file_named_in_gitrot_yaml_must_be_readable(history: History) -> None:
    configure(history, "audit:\n  allowed_signers: missing/allowed_signers\n")
    done = history.audit("--format", "json")
    assert done.returncode == 2
    assert done.stderr.startswith("gitrot: error: cannot read the allowed signers file")
    assert "missing/allowed_signers" in done.stderr
    assert "Traceback" not in done.stderr
    (history.root / "signers").write_text("\n")
    given = history.audit("--format", "json", "--allowed-signers", str(history.root / "signers"))
    assert given.returncode == 0, given.stderr  # the command line wins


def test_main_from_gitrot_yaml(history: History) -> None:
    history.git("branch", "-m", "main", "trunk")
    configure(history, "audit:\n  main: trunk\n")
    done = history.audit("--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["period"]["main"] == "trunk"
