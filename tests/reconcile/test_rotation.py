"""Rotation at the source, in process, with a rotator handed to the Reconciler
(tests/reconcile/rotating.py): the two-phase apply, resuming after a failure at each step
with the same pending value, triggers after promotion only, abandonment by a newer
version, a backend that cannot hold a pending version, the admin secret, the note."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gitrot.backends.local import LocalBackend
from gitrot.core.ports import (
    ABANDONED,
    CURRENT,
    PENDING,
    PREVIOUS,
    PROMOTED,
    SET,
    TESTED,
    WRITTEN,
    Delivery,
    Receipt,
)
from gitrot.errors import EnvironmentFailure
from gitrot.reconcile.apply import Outcome
from gitrot.reconcile.observe import plan
from gitrot.reconcile.run import reconcile
from gitrot.reconcile.wiring import Reconciler
from tests.reconcile.fakes import MemoryBackend
from tests.reconcile.helpers import PolicyRepo, environment
from tests.reconcile.rotating import ROTATOR, Source, flaky_promote, name_rotator, rotating_repo

NAME = "svc/db"


def _now() -> datetime:
    return datetime(2030, 1, 1, tzinfo=UTC)


class Watcher:
    """A trigger that, when fired, reads what a consumer reads (``read(ref)``)."""

    def __init__(self, backend: LocalBackend, ref: str) -> None:
        self.name = "api"
        self.backend, self.ref = backend, ref
        self.told: list[tuple[int, str]] = []

    def fire(self, delivery: Delivery) -> Receipt:
        self.told.append((delivery.version, self.backend.read(self.ref).reveal()))
        return Receipt(trigger="api", delivery_id=delivery.delivery_id, ok=True, attempts=1,
                       detail="ok", at=0)  # fmt: skip


class Setup:
    def __init__(self, tmp_path: Path) -> None:
        self.repo: PolicyRepo = rotating_repo(tmp_path / "policy", tmp_path / "log")
        self.source = Source()
        self.backend = self.repo.backend()
        self.ref = self.repo.refs[NAME]
        self.watcher = Watcher(self.backend, self.ref)
        self.fails: list[bool] = []
        flaky_promote(self.backend, self.fails)

    def reconciler(self, **extra: object) -> Reconciler:
        return Reconciler(
            str(self.repo.root), environment(), backends={"local": self.backend},
            triggers={"api": self.watcher}, rotators={ROTATOR: self.source.factory},
            **extra,  # type: ignore[arg-type]
        )  # fmt: skip

    def run(self) -> Outcome:
        return reconcile(self.reconciler(), "HEAD", jobs=2, now=_now)

    def fail(self) -> EnvironmentFailure:
        with pytest.raises(EnvironmentFailure) as caught:
            self.run()
        return caught.value

    def steps(self) -> list[tuple[int, str, str]]:
        return [(v.version, v.stage, v.step) for v in self.backend.versions(self.ref)]

    def rotate(self) -> int:
        version = self.repo.rotate(NAME)
        self.repo.commit(f"Rotate {NAME}")
        return version


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def _hidden(values: list[str], *texts: str) -> None:
    for value in values:
        for text in texts:
            assert value not in text


def test_a_full_rotation_at_the_source(setup: Setup) -> None:
    outcome = setup.run()
    assert not outcome.failed
    first = setup.backend.read(setup.ref).reveal()
    assert setup.source.values("set") == setup.source.values("test") == [first]
    assert setup.steps() == [(1, CURRENT, PROMOTED)]
    [applied] = [a for a in outcome.applied if a["name"] == NAME]
    assert applied["rotator"] == ROTATOR
    assert applied["steps"] == [WRITTEN, SET, TESTED, PROMOTED]  # nothing to revoke yet
    # the second rotation sets the new value, then revokes the one that was current
    setup.rotate()
    outcome = setup.run()
    second = setup.backend.read(setup.ref).reveal()
    assert second != first
    assert setup.steps() == [(1, PREVIOUS, PROMOTED), (2, CURRENT, PROMOTED)]
    assert setup.source.values("revoke") == [first]
    assert setup.source.accepted == [second]
    [applied] = [a for a in outcome.applied if a["name"] == NAME]
    assert applied["steps"] == [WRITTEN, SET, TESTED, PROMOTED, "revoked"]
    # consumers were told after promotion, and read the new value then
    assert [t for t in setup.watcher.told if t[0] == 2] == [(2, second)]
    assert setup.source.closed == 2  # one rotator per item, closed
    note = setup.repo.note()
    assert note is not None
    _hidden([first, second], json.dumps(note))
    # a rerun has nothing to do
    assert setup.run().noop


@pytest.mark.parametrize("step", ["set", "test", "promote"])
def test_a_failure_at_a_step_resumes_with_the_same_pending_value(setup: Setup, step: str) -> None:
    setup.run()
    first = setup.backend.read(setup.ref).reveal()
    told = len(setup.watcher.told)
    setup.rotate()
    if step == "promote":
        setup.fails.append(True)
    else:
        setup.source.fail.add(step)
    error = setup.fail()
    assert error.exit_code == 3
    if step == "promote":
        assert error.message == "backend local: the store went away"
        at = TESTED
    else:
        assert error.message == (
            f"{NAME}: rotator {ROTATOR} failed at {step}: the source refused the {step}"
        )
        assert "resumes at that step with the same pending value" in str(error.hint)
        at = WRITTEN if step == "set" else SET
    # the version stays pending at the step before, the current one is unchanged, nobody told
    assert setup.steps() == [(1, CURRENT, PROMOTED), (2, PENDING, at)]
    assert setup.backend.read(setup.ref).reveal() == first
    assert len(setup.watcher.told) == told
    note = setup.repo.note()
    assert note is not None
    [refused] = note["refused"]
    assert (refused["name"], refused["version"], refused["rotator"]) == (NAME, 2, ROTATOR)
    if step != "promote":
        assert refused["step"] == step
    # the plan says where the item is
    planned = plan(setup.reconciler(), "HEAD", now=_now())
    [item] = [i for i in planned.items if i.desired.name == NAME]
    assert (item.action, item.step, item.as_dict()["step"]) == ("resume", at, at)
    # fixed, the next run resumes with the value stored as pending, never a new one
    setup.source.fail.clear()
    setup.fails.clear()
    outcome = setup.run()
    assert not outcome.failed
    pending = setup.backend.read(setup.ref).reveal()
    assert setup.steps() == [(1, PREVIOUS, PROMOTED), (2, CURRENT, PROMOTED)]
    assert len(setup.source.values("prepare")) == 2  # once per version, never on a resume
    assert set(setup.source.values("set")[1:]) == {pending}
    assert set(setup.source.values("test")[1:]) == {pending}
    [applied] = [a for a in outcome.applied if a["name"] == NAME]
    assert applied["found"] is True
    assert applied["steps"][0] == {"set": SET, "test": TESTED, "promote": PROMOTED}[step]
    assert setup.watcher.told[-1] == (2, pending)
    _hidden([first, pending], json.dumps(setup.repo.note()), error.message)


def test_a_newer_version_abandons_a_pending_one(setup: Setup) -> None:
    setup.run()
    first = setup.backend.read(setup.ref).reveal()
    setup.rotate()
    setup.source.fail.add("test")  # version 2 never logs in
    setup.fail()
    stuck = setup.backend.read(setup.ref, 2).reveal()
    setup.source.fail.clear()
    setup.rotate()  # version 3 in git
    planned = plan(setup.reconciler(), "HEAD", now=_now())
    [item] = [i for i in planned.items if i.desired.name == NAME]
    assert (item.action, item.abandon) == ("write", 2)
    assert "pending version 2 is abandoned" in item.reason
    outcome = setup.run()
    assert setup.steps() == [
        (1, PREVIOUS, PROMOTED),
        (2, PENDING, ABANDONED),
        (3, CURRENT, PROMOTED),
    ]
    assert setup.backend.read(setup.ref, 2).reveal() == stuck  # readable by version
    third = setup.backend.read(setup.ref).reveal()
    assert third not in (first, stuck)
    [applied] = [a for a in outcome.applied if a["name"] == NAME]
    assert applied["abandoned"] == [2]
    note = setup.repo.note()
    assert note is not None and note["applied"][0]["abandoned"] == [2]
    assert [t[0] for t in setup.watcher.told] == [1, 3]  # version 2 was never told


def test_an_abandoned_version_back_in_git_is_refused(setup: Setup) -> None:
    setup.run()
    setup.rotate()
    setup.source.fail.add("test")
    setup.fail()
    setup.backend.mark(setup.ref, 2, ABANDONED, key=setup.backend.get(setup.ref, 2).key)  # type: ignore[union-attr]
    outcome = setup.run()
    [refused] = outcome.refused
    assert "version 2 was abandoned in the backend" in str(refused["reason"])


def test_a_pending_version_when_the_intent_drops_its_rotator(setup: Setup) -> None:
    setup.run()
    setup.rotate()
    setup.source.fail.add("set")
    setup.fail()
    name_rotator(setup.repo, NAME, None)
    setup.repo.commit("No rotator any more")
    outcome = setup.run()
    [refused] = outcome.refused
    assert "is pending in the backend (step written) but the intent names no rotator" in str(
        refused["reason"]
    )
    # a new version without a rotator is current at once and abandons the pending one
    setup.rotate()
    outcome = setup.run()
    assert not outcome.failed
    assert setup.steps()[1:] == [(2, PENDING, ABANDONED), (3, CURRENT, PROMOTED)]


def test_intents_without_a_rotator_keep_todays_behaviour(tmp_path: Path) -> None:
    repo = rotating_repo(tmp_path / "policy", tmp_path / "log", names=("svc/db", "svc/plain"))
    source = Source()
    reconciler = Reconciler(str(repo.root), environment(), rotators={ROTATOR: source.factory})
    outcome = reconcile(reconciler, "HEAD", now=_now)
    [plain] = [a for a in outcome.applied if a["name"] == "svc/plain"]
    assert set(plain) == {
        "name", "version", "backend", "backend_version_id", "idempotency_key", "written_at",
        "found", "superseded",
    }  # fmt: skip
    record = json.loads((Path(repo.backend().store) / "svc/plain" / "v1.json").read_text())
    assert "step" not in record
    assert len(source.values("set")) == 1  # the other intent only


def test_a_backend_that_cannot_hold_a_pending_version_is_refused(tmp_path: Path) -> None:
    repo = rotating_repo(tmp_path / "policy", tmp_path / "log", names=("svc/db", "svc/plain"))
    memory = MemoryBackend("local")
    source = Source()
    reconciler = Reconciler(
        str(repo.root), environment(), backends={"local": memory},
        rotators={ROTATOR: source.factory},
    )  # fmt: skip
    planned = plan(reconciler, "HEAD", now=_now())
    [item] = [i for i in planned.items if i.desired.name == NAME]
    assert item.action == "refuse"
    assert "backend local cannot hold a pending version (it is not a StagedBackend)" in item.reason
    outcome = reconcile(reconciler, "HEAD", now=_now)
    assert [r["name"] for r in outcome.refused] == [NAME]
    assert [a["name"] for a in outcome.applied] == ["svc/plain"]
    assert source.seen == []


def test_the_rotator_reads_an_admin_secret_current_value(tmp_path: Path) -> None:
    repo = rotating_repo(tmp_path / "policy", tmp_path / "log", names=("svc/db", "svc/admin"))
    source = Source()
    source.read_admin = "svc/admin"
    backend = repo.backend()
    reconciler = Reconciler(
        str(repo.root), environment(), backends={"local": backend},
        rotators={ROTATOR: source.factory},
    )  # fmt: skip
    # svc/admin and svc/db are applied in one run, in parallel: admin may not be there yet
    try:
        reconcile(reconciler, "HEAD", jobs=1, now=_now)
    except EnvironmentFailure as exc:
        assert "cannot read the secret 'svc/admin'" in exc.message
        reconcile(reconciler, "HEAD", jobs=1, now=_now)
    assert source.admin[-1] == backend.read(repo.refs["svc/admin"]).reveal()
    source.read_admin = "svc/missing"
    repo.rotate(NAME)
    repo.commit()
    with pytest.raises(EnvironmentFailure) as caught:
        reconcile(reconciler, "HEAD", now=_now)
    assert caught.value.message.startswith(
        f"{NAME}: rotator {ROTATOR} failed at set: rotator {ROTATOR} cannot read the secret "
        "'svc/missing': no secret 'svc/missing'"
    )


class Buggy:
    """A rotator with a bug that puts the value in its exception."""

    name = ROTATOR

    def __init__(self, *args: object) -> None:
        pass

    def prepare(self, generated, current):  # type: ignore[no-untyped-def]
        return generated

    def set(self, pending, current):  # type: ignore[no-untyped-def]
        raise ValueError(f"cannot use {pending.reveal()}")

    def test(self, pending):  # type: ignore[no-untyped-def]
        pass

    def close(self) -> None:
        pass


def test_a_rotator_bug_is_named_by_type_never_by_its_text(tmp_path: Path) -> None:
    repo = rotating_repo(tmp_path / "policy", tmp_path / "log")
    backend = repo.backend()
    reconciler = Reconciler(
        str(repo.root), environment(), backends={"local": backend}, rotators={ROTATOR: Buggy}
    )
    with pytest.raises(EnvironmentFailure) as caught:
        reconcile(reconciler, "HEAD", now=_now)
    assert caught.value.message == (
        f"{NAME}: rotator {ROTATOR} failed at set: unexpected ValueError (a bug in the rotator)"
    )
    pending = backend.read(repo.refs[NAME], 1).reveal()
    assert pending not in json.dumps(repo.note())


def test_a_rotator_that_cannot_be_opened_is_refused_at_gitrot_yaml(tmp_path: Path) -> None:
    repo = rotating_repo(tmp_path / "policy", tmp_path / "log")

    def broken(*args: object) -> object:
        from gitrot.errors import ConfigError

        raise ConfigError("the rotator needs psycopg")

    reconciler = Reconciler(str(repo.root), environment(), rotators={ROTATOR: broken})  # type: ignore[dict-item]
    outcome = reconcile(reconciler, "HEAD", now=_now)
    [refused] = outcome.refused
    assert str(refused["reason"]).startswith(
        f"rotator {ROTATOR} cannot be used: the rotator needs psycopg (gitrot.yaml:"
    )


def test_a_failed_revoke_is_a_warning_the_version_is_promoted_and_told(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.run()
    setup.rotate()
    setup.source.fail.add("revoke")
    outcome = setup.run()
    assert not outcome.failed
    [applied] = [a for a in outcome.applied if a["name"] == NAME]
    assert applied["steps"] == [WRITTEN, SET, TESTED, PROMOTED]
    assert applied["revoke_failed"] == (
        f"{NAME}: rotator {ROTATOR} failed at revoke: the source refused the revoke"
    )
    assert "failed at revoke" in capsys.readouterr().err
    assert setup.watcher.told[-1][0] == 2


@pytest.mark.parametrize("meanwhile", ["promoted", "abandoned"])
def test_a_plan_overtaken_by_another_reconciler(setup: Setup, meanwhile: str) -> None:
    from gitrot.reconcile.apply import apply

    setup.run()
    setup.rotate()
    setup.source.fail.add("test")
    setup.fail()
    setup.source.fail.clear()
    reconciler = setup.reconciler()
    planned = plan(reconciler, "HEAD", now=_now())
    key = setup.backend.get(setup.ref, 2).key  # type: ignore[union-attr]
    if meanwhile == "promoted":  # another reconciler finished the rotation
        setup.backend.mark(setup.ref, 2, TESTED, key=key)
        setup.backend.promote(setup.ref, 2, key=key)
    else:
        setup.backend.mark(setup.ref, 2, ABANDONED, key=key)
    outcome = Outcome(str(planned.commit.id), planned.items)
    results, stopped = apply(reconciler, planned, outcome, jobs=1)
    assert stopped is None
    if meanwhile == "promoted":
        record, _, found = results[NAME]
        assert (record.step, found) == (PROMOTED, True)
    else:
        [refused] = outcome.refused
        assert refused["reason"] == "version 2 was abandoned in backend local"


def test_a_rotator_failing_to_open_exits_3(setup: Setup) -> None:
    from gitrot.errors import RotatorError

    def down(*args: object) -> object:
        raise RotatorError("rotator db-rot cannot reach the source")

    reconciler = Reconciler(
        str(setup.repo.root), environment(), backends={"local": setup.backend},
        rotators={ROTATOR: down},  # type: ignore[dict-item]
    )  # fmt: skip
    with pytest.raises(EnvironmentFailure) as caught:
        reconcile(reconciler, "HEAD", now=_now)
    assert caught.value.message == (
        f"{NAME}: rotator {ROTATOR} failed at open: rotator db-rot cannot reach the source"
    )
