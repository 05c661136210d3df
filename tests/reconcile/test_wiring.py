"""The reconciler receives its backends and triggers: a test (or an embedding program)
hands it objects that implement the ports; names it is not given come from gitrot.yaml."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from gitrot.core.models import GeneratedValue
from gitrot.core.ports import (
    AppliedVersion,
    Backend,
    BackendError,
    Trigger,
    VersionConflict,
    idempotency_key,
)
from gitrot.core.secret import SecretValue
from gitrot.errors import EnvironmentFailure, InputError
from gitrot.reconcile import status
from gitrot.reconcile.apply import check_location, new_value
from gitrot.reconcile.observe import plan
from gitrot.reconcile.plan import RECORD, WRITE, Desired
from gitrot.reconcile.run import reconcile
from gitrot.reconcile.wiring import Reconciler, identity_text
from tests.reconcile.conftest import intent_name
from tests.reconcile.fakes import MemoryBackend, Recorder
from tests.reconcile.helpers import environment

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from tests.reconcile.conftest import MakeRepo


def _now() -> datetime:
    return datetime(2030, 1, 1, tzinfo=UTC)


def _reconciler(root: Path, backend: MemoryBackend, trigger: Recorder) -> Reconciler:
    return Reconciler(
        str(root), environment(), backends={"local": backend}, triggers={"api": trigger}
    )


def test_a_handed_backend_is_written_and_recorded(make_repo: MakeRepo, trigger_log: Path) -> None:
    repo = make_repo(2)
    backend, trigger = MemoryBackend("local"), Recorder("api")
    outcome = reconcile(_reconciler(repo.root, backend, trigger), "HEAD", now=_now)
    assert not outcome.failed, outcome.refused
    refs = sorted(repo.refs[intent_name(i)] for i in range(2))
    assert sorted(backend.writes) == [(ref, 1) for ref in refs]
    assert sorted((d.name, d.version) for d in trigger.deliveries) == [
        (intent_name(0), 1), (intent_name(1), 1),
    ]  # fmt: skip
    assert sorted(a["name"] for a in outcome.applied) == [intent_name(0), intent_name(1)]
    assert repo.reconciled() == repo.head()
    assert not backend.closed  # the caller owns what it handed over
    assert not trigger_log.exists()  # gitrot.yaml's command trigger never ran
    # the values went to the handed backend only, never to the configured store
    assert not (repo.root / ".gitrot" / "store").exists()
    # a second run writes nothing: the versions are there
    again = reconcile(_reconciler(repo.root, backend, trigger), "HEAD", now=_now)
    assert not again.failed
    assert len(backend.writes) == 2


def test_a_handed_backend_that_holds_another_secret_is_refused(make_repo: MakeRepo) -> None:
    repo = make_repo(1)
    name = intent_name(0)
    ref = repo.refs[name]
    backend, trigger = MemoryBackend("local"), Recorder("api")
    squatter = SecretValue("held-by-another-secret")
    backend.write(ref, 1, squatter, name="svc/other", commit="0" * 40,
                  key=idempotency_key("svc/other", 1))  # fmt: skip
    outcome = reconcile(_reconciler(repo.root, backend, trigger), "HEAD", now=_now)
    assert outcome.failed
    assert [r["name"] for r in outcome.refused] == [name]
    reason = str(outcome.refused[0]["reason"])
    assert "written for another secret" in reason or "another key" in reason
    assert "held-by-another-secret" not in reason
    assert backend.writes == [(ref, 1)]  # only the squatter's
    assert trigger.deliveries == []


def test_names_not_handed_over_come_from_the_config(make_repo: MakeRepo, trigger_log: Path) -> None:
    repo = make_repo(1)
    backend = MemoryBackend("local")
    reconciler = Reconciler(str(repo.root), environment(), backends={"local": backend})
    outcome = reconcile(reconciler, "HEAD", now=_now)
    assert not outcome.failed, outcome.refused
    assert backend.writes == [(repo.refs[intent_name(0)], 1)]
    assert trigger_log.exists()  # the configured command trigger ran


# --- the ports, as a plugin author sees them -------------------------------------------------


class NoFire:
    name = "api"


class ReadOnly:
    """A backend without write (and so not one)."""

    name = "ro"

    def current(self, refs: Iterable[str]) -> dict[str, AppliedVersion]:
        return {}

    def get(self, ref: str, version: int) -> AppliedVersion | None:
        return None

    def read(self, ref: str, version: int | None = None) -> SecretValue:
        raise BackendError("empty")

    def close(self) -> None:
        pass


def test_a_plugin_author_checks_objects_against_the_ports() -> None:
    assert isinstance(MemoryBackend("local"), Backend)
    assert isinstance(Recorder("api"), Trigger)
    assert not isinstance(ReadOnly(), Backend)
    assert not isinstance(NoFire(), Trigger)
    # the errors of the ports are gitrot's: exit 3 only for an unreachable backend
    assert BackendError("down", unreachable=True).exit_code == 3
    assert BackendError("no such version").exit_code == 1
    assert VersionConflict("taken").exit_code == 1


# --- plan and status read a handed backend ---------------------------------------------------


def test_plan_and_status_read_what_a_handed_backend_holds(make_repo: MakeRepo) -> None:
    repo = make_repo(2)
    backend, trigger = MemoryBackend("local"), Recorder("api")
    first, second = intent_name(0), intent_name(1)
    # another reconciler wrote the first secret's version 1 and was killed before recording
    backend.write(repo.refs[first], 1, SecretValue("written-before-a-crash"), name=first,
                  commit="0" * 40, key=idempotency_key(first, 1))  # fmt: skip
    reconciler = _reconciler(repo.root, backend, trigger)
    planned = plan(reconciler, "HEAD", now=_now())
    assert str(planned.commit.id) == repo.head()
    assert [(i.action, i.desired.name, i.triggers) for i in planned.items] == [
        (RECORD, first, ("api",)), (WRITE, second, ("api",)),
    ]  # fmt: skip
    assert planned.items[0].reason == "version 1 is in the backend; recording it"
    rows = status.rows(planned.wanted, planned.applied, planned.state, planned.items)
    assert [(r["name"], r["applied"], r["in_sync"], r["action"]) for r in rows] == [
        (first, 1, False, RECORD), (second, None, False, WRITE),
    ]  # fmt: skip
    assert rows[0]["consumers"] == {
        "api": {"ok": False, "version": None, "at": None, "delivery_id": None}
    }
    assert backend.writes == [(repo.refs[first], 1)]  # planning wrote nothing

    outcome = reconcile(reconciler, "HEAD", now=_now)
    assert [(a["name"], a["found"]) for a in outcome.applied] == [(first, True), (second, False)]
    assert backend.values[(repo.refs[first], 1)] == "written-before-a-crash"  # never rewritten
    assert plan(reconciler, "HEAD", now=_now()).items == []  # the state settled both
    planned = plan(reconciler, "HEAD", now=_now(), full=True)  # what gitrot status reads
    assert planned.items == []
    rows = status.rows(planned.wanted, planned.applied, planned.state, planned.items)
    assert all(r["in_sync"] and r["action"] is None and r["reason"] == "" for r in rows)
    told = rows[1]["consumers"]["api"]  # type: ignore[index]
    assert told["ok"] is True and told["version"] == 1 and told["delivery_id"]


class Refusing(MemoryBackend):
    """Refuses a batch that holds ``bad``, and ``bad`` alone; ``down``: unreachable."""

    def __init__(self, name: str, bad: str, *, down: bool = False) -> None:
        super().__init__(name)
        self.bad = bad
        self.down = down

    def current(self, refs: Iterable[str]) -> dict[str, AppliedVersion]:
        refs = list(refs)
        if self.bad in refs:
            raise BackendError(f"cannot read that ref ({len(refs)} asked)", unreachable=self.down)
        return super().current(refs)


def test_a_ref_the_handed_backend_refuses_refuses_that_intent_only(make_repo: MakeRepo) -> None:
    repo = make_repo(3)
    bad = intent_name(1)
    backend = Refusing("local", repo.refs[bad])
    outcome = reconcile(_reconciler(repo.root, backend, Recorder("api")), "HEAD", now=_now)
    assert outcome.refused == [
        {"name": bad, "version": 1, "reason": "backend local: cannot read that ref (1 asked)"}
    ]
    assert sorted(a["name"] for a in outcome.applied) == [intent_name(0), intent_name(2)]


def test_an_unreachable_handed_backend_stops_the_plan_with_exit_3(make_repo: MakeRepo) -> None:
    repo = make_repo(1)
    backend = Refusing("local", repo.refs[intent_name(0)], down=True)
    with pytest.raises(EnvironmentFailure) as caught:
        plan(_reconciler(repo.root, backend, Recorder("api")), "HEAD", now=_now())
    assert caught.value.exit_code == 3
    assert caught.value.message == "cannot read that ref (1 asked)"
    assert caught.value.location() == "backend local"


def test_a_location_with_an_older_version_of_another_secret_is_not_written(
    make_repo: MakeRepo,
) -> None:
    """A backend without a versions() listing is read version by version."""
    repo = make_repo(1)
    name, ref = intent_name(0), repo.refs[intent_name(0)]
    backend = MemoryBackend("local")
    backend.write(ref, 1, SecretValue("v1"), name="svc/other", commit="0" * 40,
                  key=idempotency_key("svc/other", 1))  # fmt: skip
    record = backend.write(ref, 2, SecretValue("v2"), name=name, commit="0" * 40,
                           key=idempotency_key(name, 2))  # fmt: skip
    want = Desired(name=name, path="secrets/x.yaml", blob="b", version=3, backend="local",
                   ref=ref, value=GeneratedValue(16), consumers=())  # fmt: skip
    assert not hasattr(backend, "versions")
    with pytest.raises(VersionConflict, match=r"holds version 1 written for another secret"):
        check_location(backend, want)
    want.name = "svc/other"
    with pytest.raises(VersionConflict, match=rf"holds version 2 .*\({name}\)"):
        check_location(backend, want)
    assert record.version == 2


def test_an_intent_without_a_value_setting_cannot_be_applied(make_repo: MakeRepo) -> None:
    repo = make_repo(0)
    reconciler = Reconciler.from_config(str(repo.root), environment())
    want = Desired(name="svc/x", path="secrets/svc/x.yaml", blob="b", version=1,
                   backend="local", ref="svc/x", value=None, consumers=())  # fmt: skip
    with pytest.raises(InputError, match="without a value setting") as caught:
        new_value(reconciler, want, repo.head())
    assert caught.value.location() == "secrets/svc/x.yaml"
    assert reconciler.backends == {} and reconciler.triggers == {}


def test_the_identity_comes_from_the_key_file_then_the_environment(tmp_path: Path) -> None:
    key = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
    assert identity_text(str(tmp_path), {}) == ""
    assert identity_text(str(tmp_path), {"SOPS_AGE_KEY": key}) == key
    file = tmp_path / "keys.txt"
    file.write_text(f"# a key file\n{key}\n")
    env = {"SOPS_AGE_KEY_FILE": str(file), "SOPS_AGE_KEY": "ignored"}
    assert identity_text(str(tmp_path), env) == f"# a key file\n{key}\n"
    (tmp_path / ".gitrot").mkdir()
    (tmp_path / ".gitrot" / "reconciler.key").write_text("the reconciler's own\n")
    assert identity_text(str(tmp_path), env) == "the reconciler's own\n"
