"""What the reconciler refuses (docs/architecture.md: fail closed, no silent downgrade), and
that one refused intent never stops the others from being applied and recorded."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from gitrot.backends.base import idempotency_key
from tests.reconcile.conftest import intent_name
from tests.reconcile.helpers import logger_trigger, read_log, run

if TYPE_CHECKING:
    from pathlib import Path

    from tests.reconcile.conftest import MakeRepo


def plan_items(root: Path) -> tuple[int, dict[str, str]]:
    done = run(root, "plan", "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, {i["name"]: i["action"] for i in json.loads(done.stdout)["items"]}


def test_an_intent_failing_policy_at_the_commit_is_refused_and_the_others_applied(
    make_repo: MakeRepo, trigger_log: Path
) -> None:
    log = logger_trigger(trigger_log)
    repo = make_repo(2, commit=False, triggers={"api": log, "old": log})
    repo.new("svc/orphan", consumers=("old",))
    config = repo.root / "gitrot.yaml"
    lines = config.read_text().splitlines(keepends=True)
    config.write_text("".join(line for line in lines if not line.startswith("  old: ")))
    repo.commit("Retire the trigger old; svc/orphan still names it")  # consumers-exist
    code, items = plan_items(repo.root)
    assert code == 1
    assert items == {
        intent_name(0): "write",
        intent_name(1): "write",
        "svc/orphan": "refuse",
    }
    done = run(repo.root, "reconcile", "--format", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert [r["name"] for r in report["refused"]] == ["svc/orphan"]
    assert "consumers-exist" in report["refused"][0]["reason"]
    assert sorted(a["name"] for a in report["applied"]) == [intent_name(0), intent_name(1)]
    assert repo.backend().versions("svc/orphan") == []
    assert set(read_log(trigger_log)) == {(intent_name(0), 1), (intent_name(1), 1)}
    note = repo.note()
    assert note is not None and note["refused"][0]["name"] == "svc/orphan"
    assert sorted(repo.state()) == [intent_name(0), intent_name(1)]
    assert repo.reconciled() == repo.head()


def test_a_version_below_the_applied_one_is_refused_never_written(
    make_repo: MakeRepo, trigger_log: Path
) -> None:
    repo = make_repo(1)
    name = intent_name(0)
    repo.rotate(name)
    repo.commit()
    assert run(repo.root, "reconcile").returncode == 0
    path = repo.root / "secrets" / f"{name}.yaml"
    path.write_text(path.read_text().replace("version: 2", "version: 1"))
    repo.commit("Roll back by hand")
    code, items = plan_items(repo.root)
    assert (code, items) == (1, {name: "refuse"})
    done = run(repo.root, "reconcile", "--format", "json")
    assert done.returncode == 1
    [refused] = json.loads(done.stdout)["refused"]
    # the re-check's version-step (base: the reconciled commit) or the plan's own refusal
    assert any(why in refused["reason"] for why in ("rollback is a new version", "version-step"))
    assert [v.version for v in repo.backend().versions(name)] == [2]
    assert set(read_log(trigger_log)) == {(name, 2)}


# Regression (fixed in 5a2baf0): a ref the backend refuses crashed plan and reconcile ('unexpected
# BackendError').
def test_a_ref_the_backend_cannot_use_refuses_that_intent_only(
    make_repo: MakeRepo, trigger_log: Path
) -> None:
    repo = make_repo(2, commit=False)
    repo.new("svc/bad", ref="bad ref")
    repo.commit()
    plan = run(repo.root, "plan", "--format", "json")
    assert "unexpected" not in plan.stderr, plan.stderr
    code, items = plan_items(repo.root)
    assert (code, items["svc/bad"]) == (1, "refuse")
    done = run(repo.root, "reconcile")
    assert done.returncode == 1, done.stderr
    assert set(read_log(trigger_log)) == {(intent_name(0), 1), (intent_name(1), 1)}
    assert repo.reconciled() == repo.head()


# Regression (fixed in 5a2baf0): a backend failure on one item crashed the run ('unexpected
# BackendError'), no note.
def test_a_backend_failure_on_one_item_is_an_error_not_a_crash(make_repo: MakeRepo) -> None:
    repo = make_repo(1, commit=False)
    repo.new("svc/blocked", ref="blocked/db")
    repo.commit()
    store = repo.root / ".gitrot" / "store"
    store.mkdir(parents=True)
    (store / "blocked").write_text("a file where the secret's folder should be\n")
    done = run(repo.root, "reconcile", "--jobs", "1")
    assert done.returncode == 3
    assert "unexpected" not in done.stderr, done.stderr
    assert "backend 'local'" in done.stderr


# Regression (fixed in 5a2baf0): another intent's version of a shared ref was recorded as this
# one's ('record' compared versions only).
def test_a_version_written_for_another_intent_is_not_recorded_as_this_ones(
    make_repo: MakeRepo, trigger_log: Path
) -> None:
    repo = make_repo(0, commit=False)
    repo.new("svc/one", ref="shared/db")
    repo.commit()
    assert run(repo.root, "reconcile").returncode == 0
    repo.new("svc/two", ref="shared/db")  # a copy-paste slip: the same ref, version 1
    repo.commit()
    code, items = plan_items(repo.root)
    assert items == {"svc/two": "refuse"}
    assert code == 1
    done = run(repo.root, "reconcile")
    assert done.returncode == 1
    assert set(read_log(trigger_log)) == {("svc/one", 1)}
    for name, entry in repo.state().items():
        assert entry["key"] == idempotency_key(name, 1)
    assert set(repo.state()) == {"svc/one"}


# Regression (fixed in 5a2baf0): reconcile --rev OLD rewrote OLD's note and moved
# refs/gitrot/reconciled back.
def test_reconciling_an_older_commit_changes_no_note_and_never_moves_the_ref_back(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(1)
    old = repo.head()
    assert run(repo.root, "reconcile").returncode == 0
    repo.rotate(intent_name(0))
    head = repo.commit()
    assert run(repo.root, "reconcile").returncode == 0
    notes = {old: repo.note(old), head: repo.note(head)}
    again = run(repo.root, "reconcile", "--rev", old)
    assert again.returncode in (0, 1, 2)
    assert repo.reconciled() == head
    assert run(repo.root, "reconcile").returncode == 0
    assert {old: repo.note(old), head: repo.note(head)} == notes


@pytest.mark.parametrize("jobs", ["1", "4"])
def test_two_intents_sharing_a_ref_in_one_commit_apply_one_and_refuse_the_other(
    make_repo: MakeRepo, trigger_log: Path, jobs: str
) -> None:
    repo = make_repo(0, commit=False)
    repo.new("svc/one", ref="shared/db")
    repo.new("svc/two", ref="shared/db")
    repo.commit()
    done = run(repo.root, "reconcile", "--jobs", jobs, "--format", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    [record] = repo.backend().versions("shared/db")
    [refused] = report["refused"]
    assert {refused["name"], record.name} == {"svc/one", "svc/two"}
    assert set(read_log(trigger_log)) == {(record.name, 1)}
    state = repo.state()
    assert list(state) == [record.name]
    assert state[record.name]["key"] == idempotency_key(record.name, 1)


def test_a_trigger_or_backend_that_cannot_be_opened_refuses_its_items_only(
    make_repo: MakeRepo, trigger_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trigger or a backend the reconciler cannot open (a plugin's ConfigError, an option
    it refuses) refuses the intents that need it, at gitrot.yaml:LINE; the others are
    applied and recorded, and a rerun tells their consumers nothing again."""
    import contextlib
    import io

    from gitrot.backends import registry as backends
    from gitrot.errors import ConfigError
    from gitrot.triggers import registry as triggers
    from tests.reconcile.helpers import cli

    log = logger_trigger(trigger_log)
    repo = make_repo(2, commit=False, triggers={"api": log, "flaky": log})
    config = repo.root / "gitrot.yaml"
    text = config.read_text().replace(
        "backends:\n", "backends:\n  other: {type: local, path: .gitrot/other}\n", 1
    )
    config.write_text(text)
    repo.new("svc/told-by-flaky", consumers=("flaky",))
    args = ["new", "svc/elsewhere", "--backend", "other", "--ref", "svc/elsewhere"]
    assert cli(repo.root, *args, "--owner", "team-a", "--class", "test-key") == 0
    repo.commit()
    lines = config.read_text().splitlines()
    flaky_line = next(n for n, line in enumerate(lines, 1) if line.startswith("  flaky:"))
    other_line = next(n for n, line in enumerate(lines, 1) if line.startswith("  other:"))
    open_trigger, open_backend = triggers.open_trigger, backends.open_backend

    def trigger(name: str, *args: object, **kwargs: object) -> object:
        if name == "flaky":
            raise ConfigError("triggers.flaky: the plugin refuses its options")
        return open_trigger(name, *args, **kwargs)  # type: ignore[arg-type]

    def backend(name: str, *args: object) -> object:
        if name == "other":
            raise ConfigError("backends.other: the plugin refuses its options")
        return open_backend(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(triggers, "open_trigger", trigger)
    monkeypatch.setattr(backends, "open_backend", backend)
    for attempt in range(2):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli(repo.root, "reconcile", "--format", "json")
        assert code == 1
        report = json.loads(out.getvalue())
        reasons = {r["name"]: r["reason"] for r in report["refused"]}
        assert set(reasons) == {"svc/told-by-flaky", "svc/elsewhere"}
        assert f"(gitrot.yaml:{flaky_line})" in reasons["svc/told-by-flaky"]
        assert f"(gitrot.yaml:{other_line})" in reasons["svc/elsewhere"]
        applied = {a["name"] for a in report["applied"]}
        assert applied == ({intent_name(0), intent_name(1)} if attempt == 0 else set())
    assert set(repo.state()) == {intent_name(0), intent_name(1)}
    assert {k: len(v) for k, v in read_log(trigger_log).items()} == {
        (intent_name(0), 1): 1,
        (intent_name(1), 1): 1,
    }
    assert repo.backend().versions("svc/told-by-flaky") == []
