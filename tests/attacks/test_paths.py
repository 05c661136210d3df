"""Symlinks and special files: no path gitrot reads or writes leaves the policy repository
through a symlink, and a FIFO, socket or device is refused, never opened (a FIFO would block
the pre-commit hook forever)."""

from __future__ import annotations

import io
import os
import shutil
import threading
from pathlib import Path

import pytest

from tests.check.conftest import DB, PolicyRepo, intent_path

TIMEOUT = 20  # seconds: a regression must fail the test, not hang the suite


def promptly(policy: PolicyRepo, *args: str):  # type: ignore[no-untyped-def]
    """``gitrot ARGS`` in a thread that must finish within TIMEOUT seconds."""
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(policy.run(*args)), daemon=True)
    worker.start()
    worker.join(TIMEOUT)
    if worker.is_alive():  # unblock the stuck open() so the thread can end
        for fifo in policy.root.rglob("*"):
            if fifo.is_fifo():
                with open(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "wb"):
                    pass
        pytest.fail(f"gitrot {' '.join(args)} did not return within {TIMEOUT} s")
    return outcome[0]


def outside_folder(tmp_path: Path, policy: PolicyRepo) -> Path:
    """secrets/payments (DB's folder) moved outside the repository, a symlink in its place."""
    outside = tmp_path / "outside"
    shutil.move(str(policy.root / "secrets" / "payments"), outside)
    (policy.root / "secrets" / "payments").symlink_to(outside, target_is_directory=True)
    return outside


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_symlinked_secrets_folder_is_refused_by_rotate_and_validate(
    policy: PolicyRepo, tmp_path: Path
) -> None:
    outside = outside_folder(tmp_path, policy)
    before = snapshot(outside)
    for args in (
        ("rotate", DB, "--reason", "Quarterly rotation CHG-1"),
        ("validate", intent_path(DB)),
        ("validate",),
    ):
        result = policy.run(*args)
        assert result.code == 2, (args, result)
        assert "outside the repository" in result.err and "secrets/payments" in result.err
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"vendor-value-1\n")))
        result = promptly(policy, "rotate", DB, "--reason", "Vendor CHG-2", "--value-stdin")
    assert result.code == 2, result
    assert snapshot(outside) == before  # nothing written outside: no bump, no sealed file
    assert not any(p.name.endswith(".sealed.yaml") for p in outside.rglob("*"))


def test_a_symlink_to_etc_passwd_as_an_intent_is_refused(policy: PolicyRepo) -> None:
    link = policy.root / "secrets" / "payments" / "passwd.yaml"
    link.symlink_to("/etc/passwd")
    for args in (("validate", "secrets/payments/passwd.yaml"), ("validate",)):
        result = policy.run(*args)
        assert result.code == 2 and "outside the repository" in result.err, args
        assert "root:" not in result.out + result.err
    result = policy.run("rotate", "payments/passwd", "--reason", "Quarterly rotation CHG-3")
    assert result.code == 2 and "outside the repository" in result.err
    assert "root:" not in result.out + result.err
    policy.branch("pr")
    policy.commit("Add a symlink as an intent")  # git stores the link, not /etc/passwd
    code, found = policy.check()
    assert code == 1 and "root:" not in str(found)


def test_a_file_that_is_a_symlink_inside_the_repository_is_refused(policy: PolicyRepo) -> None:
    """git stores the link's path, not the file, and the PR check reads git: the hook
    refuses what the check would (tests/attacks/test_redteam.py has the PR side)."""
    (policy.root / "docs").mkdir()
    shutil.copy(policy.root / intent_path(DB), policy.root / "docs" / "db.yaml")
    os.unlink(policy.root / intent_path(DB))
    (policy.root / intent_path(DB)).symlink_to(policy.root / "docs" / "db.yaml")
    result = policy.run("validate", intent_path(DB))
    assert result.code == 1 and "is a symbolic link" in result.out


@pytest.mark.parametrize("where", ["secrets/payments/db-password.v2.sealed.yaml", "INTENT"])
def test_a_fifo_passed_to_validate_returns_promptly_with_exit_2(
    policy: PolicyRepo, where: str
) -> None:
    path = intent_path(DB) if where == "INTENT" else where
    fifo = policy.root / path
    if fifo.exists():
        fifo.unlink()
    os.mkfifo(fifo)
    result = promptly(policy, "validate", path)
    assert result.code == 2
    assert result.err.startswith("gitrot: error: is a FIFO (named pipe)") and path in result.err
    assert len(result.err.strip().splitlines()) <= 2  # the error and its hint
    result = promptly(policy, "scan", path)
    assert result.code == 2 and "FIFO" in result.err


def test_a_fifo_in_the_repository_does_not_block_whole_repository_validate(
    policy: PolicyRepo,
) -> None:
    os.mkfifo(policy.root / "secrets" / "payments" / "pipe.yaml")
    os.mkfifo(policy.root / "secrets" / "payments" / "pipe.v1.sealed.yaml")
    result = promptly(policy, "validate", "--format", "json")
    assert result.code == 1
    assert result.out.count("is a FIFO (named pipe)") == 2
