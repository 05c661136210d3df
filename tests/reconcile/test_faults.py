"""Fault injection (docs/architecture.md): ``gitrot reconcile`` SIGKILLed at random points of
30-rotation runs (30 kills), each kill followed by a normal run. After every normal run: each
(name, version) is in the store once with one value, every consumer was told about every
version with one delivery id, the signed state holds every secret and
``refs/gitrot/reconciled`` is HEAD. Then the same (30 kills) with a webhook receiver that
fails every other request; there a normal run may end with exit 1 (a delivery failed every
attempt), and runs are repeated until one exits 0.

Only the reconciler's process is killed: the trigger commands it started run in their own
sessions and finish (a consumer may be told after its reconciler died), and so does a git
child. The kill delays are drawn (seeded) from the length of an uninterrupted 30-rotation
run, measured first; each kill is classified by how far the run got (nothing written yet,
part of the versions written, all written but no note, done) and the test asserts that a
good share of the kills landed in the middle of the writes.
"""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from gitrot.backends.base import idempotency_key
from gitrot.triggers.webhook import verify_signature
from tests.reconcile.conftest import intent_name, sealed_value
from tests.reconcile.helpers import (
    PolicyRepo,
    Store,
    environment,
    expected_delivery,
    git,
    logger_trigger,
    read_log,
    run,
    start,
)
from tests.triggers.receiver import KEY, Answer, Receiver

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.reconcile.conftest import MakeRepo

INTENTS = 30
SEALED_EVERY = 5  # 6 of the 30 values are supplied by a person
KILLS = 30
WEBHOOK_KILLS = 30
JOBS = "4"
SEED = 20240607

Deliveries = dict[tuple[str, int], set[str]]


def untraced(env: dict[str, str]) -> dict[str, str]:
    """``env`` without coverage's hooks: the hundreds of runs here test crash safety, and the
    paths they take are measured by the other reconcile tests."""
    return {k: v for k, v in env.items() if not k.startswith("COVERAGE_")}


def bump_all(repo: PolicyRepo) -> str:
    """Rotate every intent (sealed ones with a new supplied value) in one commit."""
    for index in range(INTENTS):
        name = intent_name(index)
        if any(n == name for n, _ in repo.sealed):
            repo.rotate(name, value=sealed_value(index, repo.desired[name] + 1))
        else:
            repo.rotate(name)
    return repo.commit(f"Rotate all {INTENTS} secrets")


def check_deliveries(repo: PolicyRepo, deliveries: Deliveries) -> None:
    """Every version desired at a commit was delivered, always with its one delivery id;
    nothing else was."""
    wanted = {(name, v) for name, versions in repo.versions.items() for v in versions}
    assert set(deliveries) == wanted, sorted(set(deliveries) ^ wanted)[:5]
    for (name, version), ids in deliveries.items():
        assert ids == {expected_delivery(name, version)}, (name, version, ids)


def check_note(repo: PolicyRepo, previous: str | None) -> None:
    """The state: every intent at its desired version, its blob, key and backend id, its
    consumer told; the note on HEAD: every version listed as applied at HEAD (whichever run
    wrote it: a killed one, the normal one, one that only re-delivered), the previous
    reconciled commit and the state named; ``refs/gitrot/reconciled`` is HEAD."""
    head = repo.head()
    assert repo.reconciled() == head
    note = repo.note()
    assert note is not None, "no note on HEAD"
    assert (note["gitrot_note"], note["commit"], note["refused"]) == (2, head, [])
    assert note["state"] == git(repo.root, "rev-parse", "refs/gitrot/state").strip()
    assert "ledger" not in note
    ledger = repo.state()
    assert set(ledger) == set(repo.desired)
    blobs = repo.blobs()
    for name, version in repo.desired.items():
        entry = ledger[name]
        assert entry["version"] == version
        assert entry["blob"] == blobs[name]
        assert entry["key"] == idempotency_key(name, version)
        assert entry["backend_version_id"] == f"v{version}.age"
        assert list(entry["deliveries"]) == ["api"]
        told = entry["deliveries"]["api"]
        assert (told["ok"], told["delivery_id"]) == (True, expected_delivery(name, version))
    assert note["previous"] == previous
    applied = {(a["name"], a["version"]) for a in note["applied"]}
    assert applied == set(repo.desired.items())


def classify(repo: PolicyRepo, found: dict[str, set[int]], head: str) -> str:
    """How far a killed run got, from the store (``found``) and git after the kill."""
    written = sum(1 for name, v in repo.desired.items() if v in found.get(name, ()))
    if repo.reconciled() == head:
        return "done"
    if repo.note(head) is not None:
        return "note written, ref not moved"
    if written == INTENTS:
        return "all written, no note"
    return "nothing written" if written == 0 else "some written"


def kill_cycles(
    repo: PolicyRepo,
    store: Store,
    deliveries: Callable[[], Deliveries],
    *,
    cycles: int,
    env: dict[str, str],
    normal_run: Callable[[], int],
) -> tuple[Counter[str], int]:
    """Measure one run, then ``cycles`` times: rotate everything, start a reconcile, SIGKILL
    it after a random delay, check what it left, run normally, check the end state; at the
    end, ``gitrot status --exit-code`` sees no drift. The kills by outcome, and the number
    of normal runs."""
    rng = random.Random(SEED)
    began = time.perf_counter()
    first = run(repo.root, "reconcile", "--jobs", JOBS, env=env)
    length = time.perf_counter() - began
    assert first.returncode in (0, 1), first.stderr
    normal_run()  # what a failed delivery left (nothing, with a command trigger)
    check_deliveries(repo, deliveries())
    store.check_exact()
    check_note(repo, None)
    previous = repo.head()
    outcomes: Counter[str] = Counter()
    normal = 0
    for _ in range(cycles):
        head = bump_all(repo)
        process = start(repo.root, "reconcile", "--jobs", JOBS, env=env)
        time.sleep(rng.uniform(0, length))
        process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode in (-signal.SIGKILL, 0, 1), stderr.decode()
        told = deliveries()  # before the store: a delivery comes after its write
        state = store.observe()
        for (name, version), ids in told.items():
            assert version in state.get(name, ()), f"{name} v{version} told before written"
            assert ids == {expected_delivery(name, version)}, (name, version, ids)
        outcomes[classify(repo, state, head)] += 1
        runs = normal_run()
        normal += runs
        store.check_exact()
        check_deliveries(repo, deliveries())
        check_note(repo, previous)
        previous = head
    store.reread_all()
    status = run(repo.root, "status", "--exit-code", "--format", "json", env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    rows = json.loads(status.stdout)["secrets"]
    assert {r["name"]: (r["desired"], r["applied"]) for r in rows} == {
        name: (version, version) for name, version in repo.desired.items()
    }
    return outcomes, normal


def reconcile_until_done(repo: PolicyRepo, env: dict[str, str], *, limit: int = 1) -> int:
    """Run ``gitrot reconcile`` until it exits 0 (at most ``limit`` runs); a run that exits 1
    may only have failed deliveries. The number of runs."""
    for attempt in range(1, limit + 1):
        done = run(repo.root, "reconcile", "--jobs", JOBS, "--format", "json", env=env)
        if done.returncode == 0:
            return attempt
        assert done.returncode == 1, done.stderr
        report = json.loads(done.stdout)
        assert report["refused"] == [], report["refused"]
        assert any(not d["ok"] for d in report["deliveries"]), done.stdout
    raise AssertionError(f"gitrot reconcile did not converge in {limit} runs")


@pytest.mark.slow
def test_killed_anywhere_a_normal_run_converges(make_repo: MakeRepo, trigger_log: Path) -> None:
    triggers = {"api": logger_trigger(trigger_log, sleep=0.01)}
    repo = make_repo(INTENTS, sealed_every=SEALED_EVERY, triggers=triggers)
    env = untraced(environment())
    store = Store(repo)
    outcomes, normal = kill_cycles(
        repo,
        store,
        lambda: read_log(trigger_log),
        cycles=KILLS,
        env=env,
        normal_run=lambda: reconcile_until_done(repo, env),
    )
    print(f"\n{KILLS} kills (command trigger): {dict(outcomes)}; {normal} normal runs")
    assert sum(outcomes.values()) == KILLS
    assert outcomes["some written"] >= KILLS // 10, outcomes  # the kills hit the writes
    assert normal == KILLS


class FlakyReceiver(Receiver):
    """Answers 503 to every other request, each after 10 ms (a receiver takes time, so a
    run spends it delivering and kills land there too); records each one's delivery id,
    checking its signature and that the body names the same delivery."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = lambda n: Answer(503 if n % 2 == 0 else 200, delay=0.01)
        self.cut_short: set[int] = set()

    def deliveries(self, *, ok_only: bool = False, upto: int | None = None) -> Deliveries:
        """``{(name, version): delivery ids}`` of the whole requests (a reconciler killed
        while sending leaves one cut short: not a delivery); ``ok_only``: answered 2xx;
        ``upto``: of the first ``upto`` requests only (one snapshot for several calls: a
        request a killed reconciler sent may still be arriving)."""
        found: Deliveries = {}
        for number, request in enumerate(list(self.requests)[:upto]):
            headers = {k.lower(): v for k, v in request.headers.items()}
            if len(request.body) != int(headers["content-length"]):
                self.cut_short.add(number)
                continue
            signature = headers["x-gitrot-signature-256"]
            assert verify_signature(KEY.encode(), request.body, signature)
            body: dict[str, Any] = json.loads(request.body)
            assert body["delivery"] == headers["x-gitrot-delivery"]
            if ok_only and number % 2 == 0:
                continue
            key = (body["secret"], body["version"])
            found.setdefault(key, set()).add(headers["x-gitrot-delivery"])
        return found


@pytest.mark.slow
def test_killed_anywhere_with_a_receiver_failing_half_its_requests(
    make_repo: MakeRepo,
) -> None:
    receiver = FlakyReceiver()
    with receiver:
        webhook = {
            "type": "webhook",
            "url": receiver.url,
            "secret_env": "GITROT_WEBHOOK_SECRET",
            "retries": 3,  # some deliveries still fail a whole run and wait for the next
            "backoff": 0,
            "timeout": 10,
        }
        repo = make_repo(INTENTS, sealed_every=SEALED_EVERY, triggers={"api": webhook})
        env = untraced(environment(GITROT_WEBHOOK_SECRET=KEY))
        store = Store(repo)

        def told() -> Deliveries:
            upto = len(receiver.requests)
            everything = receiver.deliveries(upto=upto)
            delivered = receiver.deliveries(ok_only=True, upto=upto)
            assert set(delivered) <= set(everything)
            return everything

        outcomes, normal = kill_cycles(
            repo,
            store,
            told,
            cycles=WEBHOOK_KILLS,
            env=env,
            normal_run=lambda: reconcile_until_done(repo, env, limit=8),
        )
        delivered = receiver.deliveries(ok_only=True)
        check_deliveries(repo, delivered)  # each version got a 2xx at least once
        failed = sum(1 for n in range(len(receiver.requests)) if n % 2 == 0)
    print(
        f"\n{WEBHOOK_KILLS} kills (webhook): {dict(outcomes)}; {normal} normal runs; "
        f"{len(receiver.requests)} requests, {failed} answered 503, "
        f"{len(receiver.cut_short)} cut short by a kill"
    )
    assert sum(outcomes.values()) == WEBHOOK_KILLS
    assert outcomes["some written"] >= WEBHOOK_KILLS // 10, outcomes


def test_a_rerun_on_the_same_commit_repeats_nothing(make_repo: MakeRepo, trigger_log: Path) -> None:
    repo = make_repo(3)
    first = run(repo.root, "reconcile")
    assert first.returncode == 0, first.stderr
    note = repo.note()
    again = run(repo.root, "reconcile")
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stderr
    assert repo.note() == note
    assert sum(len(ids) for ids in read_log(trigger_log).values()) == 3
    assert git(repo.root, "rev-list", "--count", "refs/notes/gitrot").strip() == "1"


def gated_trigger(gate: Path, log: Path) -> dict[str, Any]:
    """A command trigger that fails while the file ``gate`` is missing, and logs when it
    succeeds."""
    line = (
        'printf "%s %s %s\\n" "$GITROT_SECRET_NAME" "$GITROT_SECRET_VERSION" "$GITROT_DELIVERY_ID"'
    )
    script = f'test -e "$1" && {line} >> "$2"'
    return {"type": "command", "argv": ["sh", "-c", script, "gated", str(gate), str(log)]}


# Regression (fixed in 5a2baf0): a rerun that only re-delivered replaced the commit's note:
# 'applied' emptied, 'previous' pointed at the commit itself.
def test_a_rerun_that_redelivers_keeps_what_the_first_run_applied(
    make_repo: MakeRepo, tmp_path: Path, trigger_log: Path
) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    repo = make_repo(1, triggers={"api": gated_trigger(gate, trigger_log)})
    first = repo.head()
    assert run(repo.root, "reconcile").returncode == 0
    repo.rotate(intent_name(0))
    head = repo.commit()
    gate.unlink()
    failed = run(repo.root, "reconcile")
    assert failed.returncode == 1, failed.stderr  # written; the consumer not told
    note = repo.note()
    assert note is not None
    assert (note["previous"], [a["version"] for a in note["applied"]]) == (first, [2])
    gate.touch()
    retried = run(repo.root, "reconcile")
    assert retried.returncode == 0, retried.stderr
    assert read_log(trigger_log)[(intent_name(0), 2)] == {expected_delivery(intent_name(0), 2)}
    note = repo.note()
    assert note is not None
    assert note["commit"] == head
    assert repo.state()[intent_name(0)]["deliveries"]["api"]["ok"] is True
    assert note["previous"] == first  # fails: the note now says previous == head
    assert [a["version"] for a in note["applied"]] == [2]  # fails: applied == []


# Regression (fixed in 5a2baf0): a stale reconciled.lock was taken for 8 lost races (exit 2), re-
# delivering each time.
def test_a_stale_lock_on_the_reconciled_ref_is_named(
    make_repo: MakeRepo, trigger_log: Path
) -> None:
    repo = make_repo(1)
    lock = repo.root / ".git" / "refs" / "gitrot" / "reconciled.lock"
    lock.parent.mkdir(parents=True)
    lock.touch()
    done = run(repo.root, "reconcile")
    told = read_log(trigger_log)
    assert len(told) == 1
    assert (done.returncode, "lost race" in done.stderr) == (3, False), done.stderr
    assert "reconciled.lock" in done.stderr


# Regression (fixed in 5a2baf0): a stale notes lock ended in 'unexpected OSError ... this is a bug
# in gitrot'.
def test_a_stale_lock_on_the_notes_ref_is_named(make_repo: MakeRepo) -> None:
    repo = make_repo(1)
    lock = repo.root / ".git" / "refs" / "notes" / "gitrot.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.touch()
    done = run(repo.root, "reconcile")
    assert done.returncode == 3
    assert "unexpected" not in done.stderr, done.stderr
    assert "gitrot.lock" in done.stderr


def test_commits_merged_before_a_run_are_applied_in_one_pass(
    make_repo: MakeRepo, trigger_log: Path
) -> None:
    """Three commits land before the reconciler runs; one intent is bumped twice: it is
    applied once, at its latest version, and the note says which version was superseded."""
    repo = make_repo(2)
    assert run(repo.root, "reconcile").returncode == 0
    names = sorted(repo.blobs())
    first, second = (name.removeprefix("secrets/").removesuffix(".yaml") for name in names)
    assert repo.rotate(first) == 2
    repo.commit("rotate the first")
    assert repo.rotate(first) == 3
    repo.commit("rotate the first again")
    assert repo.rotate(second) == 2
    head = repo.commit("rotate the second")
    done = run(repo.root, "reconcile")
    assert done.returncode == 0, done.stderr
    note = repo.note()
    assert note is not None and note["commit"] == head
    applied = {a["name"]: a for a in note["applied"]}
    assert (applied[first]["version"], applied[first]["superseded"]) == (3, [2])
    assert (applied[second]["version"], applied[second]["superseded"]) == (2, [])
    told = read_log(trigger_log)
    assert (first, 2) not in told and len(told[(first, 3)]) == 1
    assert git(repo.root, "rev-list", "--count", "refs/notes/gitrot").strip() == "2"
