"""Step 5's fault injection with rotation at the source on a real OpenBao (the harness of
tests/backends/test_faults_servers.py, the source and checks of
tests/reconcile/test_faults_rotation.py): every intent names its own ``command`` rotator,
``gitrot reconcile`` is SIGKILLed at random points of rotation runs (30 kills), each kill
followed by a normal run.

What the server holds is read with another client (urllib on OpenBao's HTTP API, the root
token): the KV versions of each ref (each gitrot version there once, with one value) and of
its pending path ``gitrot-pending/<ref>`` (a pending version keeps one value, whichever run
reads it back). After each kill: a consumer told about a version was told after its
promotion. After every normal run: the server's versions, deliveries, note and state as in
test_faults_servers.py; no version pending (every pending KV version destroyed after its
promotion, gitrot's own view agreeing); the source accepted, for each version, exactly the
value the server holds for it; the current value is the desired version's, accepted.
"""

from __future__ import annotations

import random
import secrets
import signal
import time
from pathlib import Path

import pytest

from gitrot.backends.vault import PENDING_ROOT, VaultBackend
from gitrot.core.ports import PROMOTED, SET, TESTED, BackendContext, idempotency_key
from gitrot.core.secret import SecretValue
from tests.backends.openbao import OpenBao, openbao  # noqa: F401 - fixture
from tests.backends.test_faults_servers import (
    Observer,
    Server,
    check_note,
    server,  # noqa: F401 - fixture
)
from tests.reconcile.conftest import intent_name
from tests.reconcile.helpers import PolicyRepo, expected_delivery, read_log, run, start
from tests.reconcile.rotating import PLACEHOLDER, add_rotators, name_rotator
from tests.reconcile.test_faults import JOBS, SEED, check_deliveries, reconcile_until_done, untraced
from tests.reconcile.test_faults_rotation import (
    KILLS,
    Kills,
    bump,
    check_rotators_noted,
    check_source,
    check_told_after_promotion,
    kill_point,
    left_at,
    name_the_rotators,
    source_log,
    status_is_clean,
)

INTENTS = 8
SEALED_EVERY = 4
TOKEN_ENV = "GITROT_TEST_VAULT_TOKEN"


class Killed(BaseException):
    """The reconciler's process died here (no except clause of the backend catches it)."""


def open_vault(bao: OpenBao, root: Path, monkeypatch: pytest.MonkeyPatch) -> VaultBackend:
    """The vault backend on ``bao`` with the root token, as the reconciler opens it."""
    monkeypatch.setenv(TOKEN_ENV, bao.root_token)
    context = BackendContext(root=str(root), recipients=(), identities="")
    return VaultBackend("server", {"url": bao.url, "token_env": TOKEN_ENV}, context)


def live_pending(bao: OpenBao, ref: str) -> list[int]:
    """The KV versions of ``ref``'s pending path not destroyed."""
    versions = bao.kv_versions(f"{PENDING_ROOT}/{ref}")
    return sorted(kv for kv, meta in versions.items() if not meta["destroyed"])


class PendingPaths:
    """The pending paths of the intents on OpenBao, read with the root token: every value
    seen there for each (name, version) (one, whichever run wrote or read it)."""

    def __init__(self, repo: PolicyRepo, bao: OpenBao) -> None:
        self.repo = repo
        self.bao = bao
        self.values: dict[tuple[str, int], set[str]] = {}

    def observe(self) -> None:
        """Record the live pending KV versions; fails on a version with two values."""
        for name, ref in self.repo.refs.items():
            path = f"{PENDING_ROOT}/{ref}"
            for kv, meta in self.bao.kv_versions(path).items():
                if meta["destroyed"] or meta["deletion_time"]:
                    continue
                data = self.bao.kv_get(path, kv)
                values = self.values.setdefault((name, data["gitrot_version"]), set())
                values.add(data["value"])
                assert len(values) == 1, f"{name} v{data['gitrot_version']}: two pending values"

    def check_none_left(self, observer: Observer) -> None:
        """Every pending KV version is destroyed (its version promoted), and each value once
        pending is the value the version was promoted with."""
        for name, ref in self.repo.refs.items():
            live = {
                kv
                for kv, meta in self.bao.kv_versions(f"{PENDING_ROOT}/{ref}").items()
                if not meta["destroyed"]
            }
            assert not live, f"{name}: pending KV versions {sorted(live)} left"
        for (name, version), values in self.values.items():
            assert values == {observer.seen[(name, version)][1]}, f"{name} v{version}"


@pytest.mark.slow
@pytest.mark.parametrize("server", ["openbao"], indirect=True)
def test_killed_anywhere_with_a_rotator_on_openbao(
    server: Server,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "deliveries.log"
    repo = server.repo(tmp_path / "policy", log, intents=INTENTS, sealed_every=SEALED_EVERY)
    folder = tmp_path / "source"
    name_the_rotators(repo, folder)
    env = untraced(server.env)
    observer = server.observer(repo)
    pending = PendingPaths(repo, server.bao)
    backend = open_vault(server.bao, repo.root, monkeypatch)

    def step_of(name: str, version: int) -> str | None:
        record = backend.get(repo.refs[name], version)
        return None if record is None else record.step

    def value_of(name: str, version: int) -> str:
        return observer.seen[(name, version)][1]

    def current_of(name: str) -> str:
        return str(server.bao.kv_get(repo.refs[name])["value"])  # as a consumer reads it

    def converged(previous: str | None) -> None:
        observer.check_exact()
        check_deliveries(repo, read_log(log))
        check_note(repo, observer, previous)
        check_rotators_noted(repo)
        pending.check_none_left(observer)
        for name, ref in repo.refs.items():
            record = backend.current([ref])[ref]
            assert (record.version, record.step) == (repo.desired[name], PROMOTED), name
        check_source(repo, source_log(folder), value_of, current_of)

    rng = random.Random(SEED)
    began = time.perf_counter()
    first = run(repo.root, "reconcile", "--jobs", JOBS, env=env)
    length = time.perf_counter() - began
    assert first.returncode == 0, first.stderr
    converged(None)
    previous = repo.head()
    kills = Kills()
    checked: set[tuple[str, int]] = set()
    try:
        for round_ in range(KILLS):
            head = bump(repo, SEALED_EVERY)
            process = start(repo.root, "reconcile", "--jobs", JOBS, env=env)
            kill_point(rng, round_, process, folder, length)
            process.send_signal(signal.SIGKILL)
            _, stderr = process.communicate(timeout=60)
            assert process.returncode in (-signal.SIGKILL, 0), stderr.decode()
            check_told_after_promotion(read_log(log), step_of, checked)
            observer.observe()  # a promoted version on the server once, with one value
            pending.observe()
            kills.add(left_at(step_of, repo), INTENTS)
            reconcile_until_done(repo, env)
            converged(previous)
            previous = head
        observer.reread_all()
        status_is_clean(repo, env)
    finally:
        backend.close()
    print(
        f"\n{KILLS} kills with a rotator on openbao (run of {length:.2f} s): "
        f"{dict(kills.outcomes)}; versions left pending at {dict(kills.steps)}"
    )
    assert sum(kills.outcomes.values()) == KILLS
    assert kills.outcomes["mid-rotation"] >= KILLS // 5, kills.outcomes  # the kills hit them
    assert kills.steps[SET] + kills.steps[TESTED] > 0, kills.steps  # past set, not promoted


# Regression: a run killed inside promote, after the value became current at <ref> but
# before the pending path's versions were destroyed: the next run found the version
# promoted, recorded it and told its consumers, but left the pending copy for good (until
# the next rotation's promotion).
@pytest.mark.parametrize("server", ["openbao"], indirect=True)
def test_a_run_killed_inside_promote_leaves_no_pending_copy(
    server: Server,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "deliveries.log"
    repo = server.repo(tmp_path / "policy", log, intents=1, sealed_every=0)
    name = intent_name(0)
    add_rotators(repo, {"src": PLACEHOLDER})
    name_rotator(repo, name, "src")
    repo.commit("Rotate it at its source")
    ref, key = repo.refs[name], idempotency_key(name, 1)
    backend = open_vault(server.bao, repo.root, monkeypatch)
    value = SecretValue(secrets.token_hex(16))
    backend.write_pending(ref, 1, value, name=name, commit=repo.head(), key=key)
    backend.mark(ref, 1, SET, key=key)
    backend.mark(ref, 1, TESTED, key=key)

    def killed(*_: object) -> None:
        raise Killed

    monkeypatch.setattr(backend, "_destroy", killed)
    with pytest.raises(Killed):
        backend.promote(ref, 1, key=key)
    assert server.bao.kv_get(ref)["value"] == value.reveal()  # current: the commit point
    assert live_pending(server.bao, ref)
    done = run(repo.root, "reconcile", env=untraced(server.env))
    assert done.returncode == 0, done.stderr
    assert live_pending(server.bao, ref) == []
    assert read_log(log) == {(name, 1): {expected_delivery(name, 1)}}
    assert repo.state()[name]["version"] == 1
