"""Rotation at the source end to end: the real gitrot CLI (child processes), the ``command``
rotator on a shell script, the local backend: a failure at test exits 3 with one line, plan
and status show the step, the next run resumes with the same pending value, the value never
shows."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from tests.reconcile.helpers import PolicyRepo, environment, git, logger_trigger, read_log, run
from tests.reconcile.rotating import add_rotators, name_rotator

NAME = "svc/db"
#: the source: logs ``STEP SECRET VERSION DIGEST`` (a digest of the value on stdin), then
#: fails when ``<dir>/fail-<step>`` exists
SCRIPT = (
    'IFS= read -r value; digest=$(printf "%s" "$value" | sha256sum | cut -c1-16); '
    'printf "%s %s %s %s\\n" "$1" "$GITROT_SECRET" "$GITROT_VERSION" "$digest" >> "$2/source.log"; '
    'if [ -e "$2/fail-$1" ]; then echo "the source said no" >&2; exit 1; fi'
)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def source_log(folder: Path) -> list[tuple[str, int, str]]:
    path = folder / "source.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [
        (step, int(version), found) for step, _, version, found in (line.split() for line in lines)
    ]


def test_a_rotation_with_the_command_rotator_through_the_cli(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    log = tmp_path / "deliveries.log"
    repo = PolicyRepo.create(tmp_path / "policy", triggers={"api": logger_trigger(log)})
    argv = ["sh", "-c", SCRIPT, "source"]
    add_rotators(
        repo,
        {"ldap": {"type": "command", "set": [*argv, "set", str(source)],
                  "test": [*argv, "test", str(source)], "timeout": "20s"}},
    )  # fmt: skip
    repo.new(NAME)
    name_rotator(repo, NAME, "ldap")
    repo.commit("An intent rotated at its source")
    root = repo.root
    backend = repo.backend()
    ref = repo.refs[NAME]

    done = run(root, "reconcile")
    assert done.returncode == 0, done.stderr
    first = backend.read(ref).reveal()
    assert source_log(source) == [("set", 1, digest(first)), ("test", 1, digest(first))]
    assert (NAME, 1) in read_log(log)

    repo.rotate(NAME)
    repo.commit()
    (source / "fail-test").touch()
    failed = run(root, "reconcile")
    assert failed.returncode == 3
    errors = [line for line in failed.stderr.splitlines() if line.startswith("gitrot: error:")]
    assert errors == [
        f"gitrot: error: {NAME}: rotator ldap (command) failed at test: exit 1: the source said no"
    ]
    assert backend.read(ref).reveal() == first  # current unchanged
    assert (NAME, 2) not in read_log(log)  # nobody told

    planned = run(root, "plan", "--format", "json")
    [item] = [i for i in json.loads(planned.stdout)["items"] if i["name"] == NAME]
    assert (item["action"], item["step"], item["rotator"]) == ("resume", "set", "ldap")
    text = run(root, "plan").stdout
    assert f"> resume  {NAME} v2 (local)" in text
    assert "step: set (pending, not promoted)" in text
    status = run(root, "status")
    assert "pending v2 at step set, not promoted: " in status.stdout
    assert "rotator ldap (command) failed at test" in status.stdout
    [row] = json.loads(run(root, "status", "--format", "json").stdout)["secrets"]
    assert row["pending"]["version"] == 2 and row["pending"]["step"] == "set"
    assert row["stage"] == "pending"

    (source / "fail-test").unlink()
    again = run(root, "reconcile")
    assert again.returncode == 0, again.stderr
    second = backend.read(ref).reveal()
    assert second != first
    tried = [found for step, version, found in source_log(source) if version == 2]
    assert tried == [digest(second)] * 3  # set, the failed test, the test that passed
    assert [s for s, v, _ in source_log(source) if v == 2] == ["set", "test", "test"]
    assert (NAME, 2) in read_log(log)
    status = run(root, "status", "--exit-code")
    assert status.returncode == 0, status.stdout
    outputs = [done, failed, planned, again, status]
    texts = [p.stdout + p.stderr for p in outputs] + [json.dumps(repo.note())]
    for value in (first, second):
        assert all(value not in text for text in texts)


def test_a_failed_run_does_not_restart_the_min_interval_clock(tmp_path: Path) -> None:
    """A run that fails moves the reconciled commit past the rotation it did not finish;
    the next run still judges that rotation against when the applied version was set (30
    days ago), not against the rotation's own commit (a min-interval refusal for ever)."""
    source = tmp_path / "source"
    source.mkdir()
    repo = PolicyRepo.create(tmp_path / "policy", triggers={"api": logger_trigger(tmp_path / "l")})
    config = repo.root / "gitrot.yaml"
    config.write_text(
        config.read_text().replace("{max_age: 90d}", "{max_age: 90d, min_interval: 7d}")
    )
    argv = ["sh", "-c", SCRIPT, "source"]
    add_rotators(repo, {"ldap": {"type": "command", "set": [*argv, "set", str(source)],
                                 "test": [*argv, "test", str(source)]}})  # fmt: skip
    repo.commit("A rotator")
    assert run(repo.root, "reconcile").returncode == 0
    repo.new(NAME)
    name_rotator(repo, NAME, "ldap")
    month_ago = "2026-01-01T00:00:00Z"
    git(repo.root, "add", "-A")
    subprocess.run(
        ["git", "commit", "-qm", "An intent, a month ago", "--no-verify"],
        cwd=repo.root,
        env=environment(GIT_AUTHOR_DATE=month_ago, GIT_COMMITTER_DATE=month_ago),
        check=True,
    )
    assert run(repo.root, "reconcile").returncode == 0
    repo.rotate(NAME)
    repo.commit()
    (source / "fail-set").touch()
    assert run(repo.root, "reconcile").returncode == 3
    assert git(repo.root, "rev-parse", "refs/gitrot/reconciled") == git(
        repo.root, "rev-parse", "HEAD"
    )

    (source / "fail-set").unlink()
    planned = run(repo.root, "plan")
    assert "min-interval" not in planned.stdout
    assert f"> resume  {NAME} v2 (local)" in planned.stdout
    again = run(repo.root, "reconcile")
    assert again.returncode == 0, again.stderr
    assert f"{NAME} v2 resumed in local (rotator ldap: set, tested, promoted)" in again.stderr
