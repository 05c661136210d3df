"""``gitrot exec``, ``gitrot status`` and ``gitrot plan`` judged on what they print and
hand over, not only on their exit codes, over a policy repository built with the CLI."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.reconcile.helpers import PolicyRepo, cli, logger_trigger

FIRST = "exec-first-Vq7Lw2Rz9Kp4Tn"
SECOND = "exec-second-Hm3Xc8Jd5Bf1Ys"
# the child prints the variable it was given and whether gitrot's own process saw it
PRINT = "import os, sys; sys.stdout.write(os.environ.get('DB_PASSWORD', '<unset>'))"


@pytest.fixture
def policy(tmp_path: Path) -> PolicyRepo:
    repo = PolicyRepo.create(
        tmp_path / "policy", triggers={"api": logger_trigger(tmp_path / "told.log")}
    )
    repo.new("svc/db", sealed=FIRST)
    repo.commit("Add svc/db")
    return repo


def reconcile(repo: PolicyRepo, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(repo.root, "reconcile") == 0
    capsys.readouterr()


def gitrot(
    repo: PolicyRepo, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = cli(repo.root, *args)
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# --- gitrot exec -------------------------------------------------------------------------


def test_exec_puts_the_value_in_the_child_environment_only(
    policy: PolicyRepo, capfd: pytest.CaptureFixture[str]
) -> None:
    assert cli(policy.root, "reconcile") == 0
    capfd.readouterr()
    code = cli(
        policy.root, "exec", "--secret", "svc/db=DB_PASSWORD", "--", sys.executable, "-c", PRINT
    )
    out, err = capfd.readouterr()
    assert code == 0
    assert out == FIRST  # the child's output, and nothing else printed
    assert FIRST not in err
    assert "DB_PASSWORD" not in os.environ
    for path in policy.root.rglob("*"):
        if path.is_file():
            assert FIRST.encode() not in path.read_bytes(), path


def test_exec_version_picks_an_older_value_and_the_child_exit_status_is_returned(
    policy: PolicyRepo, capfd: pytest.CaptureFixture[str]
) -> None:
    assert cli(policy.root, "reconcile") == 0
    policy.rotate("svc/db", value=SECOND)
    policy.commit("Rotate svc/db")
    assert cli(policy.root, "reconcile") == 0
    capfd.readouterr()
    run = ("--", sys.executable, "-c", PRINT)
    assert cli(policy.root, "exec", "--secret", "svc/db=DB_PASSWORD", *run) == 0
    assert capfd.readouterr().out == SECOND
    assert cli(policy.root, "exec", "--version", "2", "--secret", "svc/db=DB_PASSWORD", *run) == 0
    assert capfd.readouterr().out == FIRST
    exits = ("--", sys.executable, "-c", "raise SystemExit(7)")
    assert cli(policy.root, "exec", "--secret", "svc/db=DB_PASSWORD", *exits) == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--secret", "svc/db", "--", "true"), "is not NAME=ENVVAR"),
        (("--secret", "svc/db=1BAD", "--", "true"), "is not NAME=ENVVAR"),
        (("--secret", "svc/db=BAD-NAME", "--", "true"), "is not NAME=ENVVAR"),
        (("--secret", "svc/db=DB", "--"), "no command to run"),
        (("--secret", "svc/db=DB", "--", "no-such-command-gitrot"), "no such command"),
        (("--version", "9", "--secret", "svc/db=DB", "--", "true"), ""),
    ],
)
def test_exec_refuses_bad_input_with_exit_2_and_runs_nothing(
    policy: PolicyRepo, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    reconcile(policy, capsys)
    code, out, err = gitrot(policy, capsys, "exec", *args)
    assert code == 2, err
    assert out == ""
    assert message in err
    assert FIRST not in out + err


def test_exec_of_an_unknown_secret_fails_without_running(
    policy: PolicyRepo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    code, _, err = gitrot(
        policy, capsys, "exec", "--secret", "svc/none=X", "--", "touch", str(marker)
    )
    assert code != 0 and err
    assert not marker.exists()


# --- gitrot status -----------------------------------------------------------------------


def test_status_shows_drift_until_reconciled(
    policy: PolicyRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gitrot(policy, capsys, "status")
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["secret", "desired", "applied", "written", "consumers"]
    assert row.split()[:4] == ["svc/db", "2", "-", "-"]
    # the plan's action and reason: status and plan read the same things
    assert row.endswith(
        "api pending  <- drift (write: version 2 is not in the backend; version 1 was superseded)"
    )
    assert gitrot(policy, capsys, "status", "--exit-code")[0] == 1

    code, out, _ = gitrot(policy, capsys, "status", "--format", "json")
    document = json.loads(out)
    assert document["commit"] == policy.head()
    [secret] = document["secrets"]
    assert secret == {
        "name": "svc/db",
        "desired": 2,
        "applied": None,
        "applied_at": None,
        "stage": None,
        "step": None,
        "rotator": None,
        "pending": None,
        "backend": "local",
        "consumers": {"api": {"ok": False, "version": None, "at": None, "delivery_id": None}},
        "in_sync": False,
        "action": "write",
        "reason": "version 2 is not in the backend; version 1 was superseded",
        "problem": "",
    }

    reconcile(policy, capsys)
    code, out, _ = gitrot(policy, capsys, "status", "--exit-code")
    assert code == 0
    row = out.splitlines()[1]
    assert row.split()[:3] == ["svc/db", "2", "2"]
    assert row.endswith("api ok") and "drift" not in row
    secret = json.loads(gitrot(policy, capsys, "status", "--format", "json")[1])["secrets"][0]
    assert secret["applied"] == 2 and secret["in_sync"] is True
    assert isinstance(secret["applied_at"], int)
    told = secret["consumers"]["api"]
    assert told["ok"] is True and told["version"] == 2
    assert told["at"] and told["delivery_id"]
    assert FIRST not in out


def test_status_of_no_secrets_and_an_earlier_revision(
    policy: PolicyRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    first = policy.head()
    reconcile(policy, capsys)
    policy.rotate("svc/db", value=SECOND)
    policy.commit("Rotate svc/db")
    # at the first commit, version 2 is desired and applied: in sync
    secret = json.loads(gitrot(policy, capsys, "status", "--rev", first, "--format", "json")[1])[
        "secrets"
    ][0]
    assert (secret["desired"], secret["applied"], secret["in_sync"]) == (2, 2, True)
    secret = json.loads(gitrot(policy, capsys, "status", "--format", "json")[1])["secrets"][0]
    assert (secret["desired"], secret["applied"], secret["in_sync"]) == (3, 2, False)
    # api was told about version 2, not 3
    assert secret["consumers"]["api"]["ok"] is False
    assert secret["consumers"]["api"]["version"] == 2


# --- gitrot plan -------------------------------------------------------------------------


def test_plan_lists_writes_with_reasons_and_then_nothing(
    policy: PolicyRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gitrot(policy, capsys, "plan")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"commit {policy.head()[:12]}:"
    assert lines[1].split() == ["+", "write", "svc/db", "v2", "(local)"]
    assert lines[2] == "      version 2 is not in the backend; version 1 was superseded"
    assert lines[3] == "      then tell: api"
    assert lines[-1] == "plan: 1 to write"

    code, out, _ = gitrot(policy, capsys, "plan", "--format", "json")
    document = json.loads(out)
    assert code == 0 and document["commit"] == policy.head()
    [item] = document["items"]
    assert item["action"] == "write" and item["name"] == "svc/db" and item["version"] == 2
    assert item["backend"] == "local" and item["applied_version"] is None
    assert item["triggers"] == ["api"] and item["reason"]
    assert FIRST not in out

    reconcile(policy, capsys)
    code, out, _ = gitrot(policy, capsys, "plan")
    assert code == 0
    assert out == (
        f"commit {policy.head()[:12]}: nothing to do; every secret is applied and delivered\n"
    )
    assert json.loads(gitrot(policy, capsys, "plan", "--format", "json")[1])["items"] == []
    # --full compares every intent with its backend: still nothing
    assert (
        json.loads(gitrot(policy, capsys, "plan", "--full", "--format", "json")[1])["items"] == []
    )


def test_plan_refuses_two_secrets_on_one_ref_with_exit_1(
    policy: PolicyRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    policy.new("svc/copy", ref=policy.refs["svc/db"])
    policy.commit("Add svc/copy on the same ref")
    code, out, _ = gitrot(policy, capsys, "plan")
    assert code == 1
    assert "! refuse" in out
    assert "to refuse" in out.splitlines()[-1]
    code, out, _ = gitrot(policy, capsys, "plan", "--format", "json")
    assert code == 1
    refused = [i for i in json.loads(out)["items"] if i["action"] == "refuse"]
    assert refused and all("shares its ref" in i["reason"] for i in refused)
    # status reads the same plan: the refused secret's row says why, --exit-code fails
    code, out, _ = gitrot(policy, capsys, "status", "--exit-code")
    assert code == 1
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    # neither owns the location yet: the first name keeps it, the other is refused
    assert rows["svc/db"].endswith(
        "api pending  <- refused: it shares its ref in local with svc/copy; a backend "
        "location belongs to one secret: give this intent a ref of its own"
    )
    assert rows["svc/copy"].endswith("<- drift (write: version 1 is not in the backend)")
    secrets = json.loads(gitrot(policy, capsys, "status", "--format", "json")[1])["secrets"]
    db = next(s for s in secrets if s["name"] == "svc/db")
    assert db["action"] == "refuse" and db["problem"] == db["reason"]
    assert "shares its ref" in db["problem"] and db["in_sync"] is False


def test_exec_refuses_a_version_written_for_another_secret_with_exit_1(
    policy: PolicyRepo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    reconcile(policy, capsys)
    policy.new("svc/copy", ref=policy.refs["svc/db"])
    policy.commit("Add svc/copy on svc/db's ref")
    marker = tmp_path / "ran"
    code, out, err = gitrot(
        policy, capsys, "exec", "--secret", "svc/copy=X", "--", "touch", str(marker)
    )
    assert code == 1
    assert "written for another secret (svc/db)" in err
    assert not marker.exists()
    assert FIRST not in out + err
