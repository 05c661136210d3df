"""Step 5's fault injection with rotation at the source (docs/rotators.md): every intent
names its own ``command`` rotator, a tiny credential source in a folder (``sh``: ``set``
logs the secret, the version and the SHA-256 of the value on its standard input as
accepted; ``test`` fails unless that line is there). ``gitrot reconcile`` is SIGKILLed at
random points of rotation runs on the local backend (30 kills), each kill followed by a
normal run.

After each kill: every consumer told about a version was told after its promotion (the
backend records it promoted). After every normal run, besides test_faults.py's invariants
(each (name, version) stored once with one value, every version told once with its one
delivery id, the note and the state complete, ``refs/gitrot/reconciled`` is HEAD): no
version left pending; every line the source logged for a version (``set`` or ``test``, from
the killed run or the normal one) carries the digest of the value the backend holds for it,
so a resumed run never set another value; the backend's current value is the desired
version's and the source accepted it; the note names each item's rotator. Each kill is
classified by the step it left the rotations at, and a good share of them must have landed
mid-rotation (a version written, set or tested but not promoted).

The source's scripts run in their own process groups and are not killed with the
reconciler: one may log after its reconciler died, as a trigger may.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gitrot.core.ports import ABANDONED, PROMOTED, SET, TESTED, WRITTEN
from tests.reconcile.conftest import sealed_value
from tests.reconcile.helpers import (
    PolicyRepo,
    Store,
    environment,
    read_log,
    run,
    start,
)
from tests.reconcile.rotating import add_rotators, name_rotator
from tests.reconcile.test_faults import (
    JOBS,
    SEED,
    check_deliveries,
    check_note,
    reconcile_until_done,
    untraced,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.reconcile.conftest import MakeRepo

INTENTS = 12
SEALED_EVERY = 4  # 3 of the 12 values are supplied by a person
KILLS = 30

#: the credential source, ``sh -c SCRIPT source STEP FOLDER``, the pending value on stdin:
#: ``set`` appends ``set SECRET VERSION SHA256`` to FOLDER/source.log (one write: lines of
#: concurrent rotators never mix), ``test`` fails unless that line is there, then appends
#: ``test SECRET VERSION SHA256``
SCRIPT = (
    'IFS= read -r value; d=$(printf "%s" "$value" | sha256sum | cut -d" " -f1); '
    'line="$GITROT_SECRET $GITROT_VERSION $d"; '
    'if [ "$1" = test ] && ! grep -qxF "set $line" "$2/source.log"; then '
    'echo "not accepted" >&2; exit 1; fi; '
    'printf "%s %s\\n" "$1" "$line" >> "$2/source.log"'
)

#: {(name, version): {step: {digests}}}
SourceLog = dict[tuple[str, int], dict[str, set[str]]]


def rotator_of(name: str) -> str:
    """The rotator of the intent ``name`` (one per secret): ``src-NN``."""
    return "src-" + name.rsplit("-", 1)[1]


def source_rotators(folder: Path, names: list[str]) -> dict[str, dict[str, object]]:
    """``rotators:`` entries, one :data:`SCRIPT` source per intent, all logging to
    ``folder``."""
    argv = ["sh", "-c", SCRIPT, "source"]
    return {
        rotator_of(name): {
            "type": "command",
            "set": [*argv, "set", str(folder)],
            "test": [*argv, "test", str(folder)],
            "timeout": "30s",
        }
        for name in names
    }


def name_the_rotators(repo: PolicyRepo, folder: Path) -> str:
    """Declare a source rotator per intent in gitrot.yaml and name it in each intent; the
    commit."""
    folder.mkdir(exist_ok=True)
    names = sorted(repo.refs)
    add_rotators(repo, source_rotators(folder, names))
    for name in names:
        name_rotator(repo, name, rotator_of(name))
    return repo.commit("Rotate every secret at its source")


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def kill_point(
    rng: random.Random, round_: int, process: subprocess.Popen[bytes], folder: Path, length: float
) -> None:
    """Sleep until the kill of round ``round_``: on even rounds a uniform point of an
    uninterrupted run's ``length``; on odd ones a uniform point of half that length after
    the source logged its first line of this run (a step under way), so a machine slowed by
    other work still gets kills in the middle of rotations, not only before them."""
    if round_ % 2 == 0:
        time.sleep(rng.uniform(0, length))
        return
    log = folder / "source.log"
    before = log.stat().st_size if log.exists() else 0
    deadline = time.monotonic() + max(10 * length, 10.0)
    while process.poll() is None and time.monotonic() < deadline:
        if log.exists() and log.stat().st_size > before:
            break
        time.sleep(0.005)
    time.sleep(rng.uniform(0, length / 2))


def source_log(folder: Path) -> SourceLog:
    path = folder / "source.log"
    found: SourceLog = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        step, name, version, seen = line.split(" ")
        found.setdefault((name, int(version)), {}).setdefault(step, set()).add(seen)
    return found


def bump(repo: PolicyRepo, sealed_every: int) -> str:
    """Rotate every intent (every ``sealed_every``-th with a supplied value) in one commit."""
    for name in sorted(repo.refs):
        index = int(name.rsplit("-", 1)[1])
        sealed = sealed_every and index % sealed_every == 0
        repo.rotate(name, value=sealed_value(index, repo.desired[name] + 1) if sealed else None)
    return repo.commit(f"Rotate all {len(repo.refs)} secrets")


def check_told_after_promotion(
    told: dict[tuple[str, int], set[str]],
    step_of: Callable[[str, int], str | None],
    checked: set[tuple[str, int]],
) -> None:
    """A consumer told about a version was told after its promotion: the backend records
    it promoted (``told`` is read first: a delivery comes after its promotion). Versions
    in ``checked`` were checked already (a promoted version stays promoted); the ones
    checked now are added."""
    for name, version in told.keys() - checked:
        assert step_of(name, version) == PROMOTED, f"{name} v{version} told before promoted"
        checked.add((name, version))


def check_source(
    repo: PolicyRepo,
    log: SourceLog,
    value_of: Callable[[str, int], str],
    current_of: Callable[[str], str],
) -> None:
    """The source accepted, for each version, exactly the value the backend holds for it
    (every ``set`` and ``test`` line of it carries that digest), each version was set and
    tested; the current value is the desired version's, accepted by the source."""
    wanted = {(name, v) for name, versions in repo.versions.items() for v in versions}
    assert set(log) == wanted, sorted(set(log) ^ wanted)[:5]
    for (name, version), steps in log.items():
        expected = {digest(value_of(name, version))}
        assert steps.get("set") == expected, f"{name} v{version}: set {steps.get('set')}"
        assert steps.get("test") == expected, f"{name} v{version}: tested {steps.get('test')}"
    for name, version in repo.desired.items():
        current = current_of(name)
        assert current == value_of(name, version), f"{name}: current is not v{version}'s"
        assert digest(current) in log[(name, version)]["set"]


def check_rotators_noted(repo: PolicyRepo) -> None:
    """The note on HEAD names each applied item's rotator."""
    note = repo.note()
    assert note is not None
    for applied in note["applied"]:
        assert applied.get("rotator") == rotator_of(applied["name"]), applied


def left_at(step_of: Callable[[str, int], str | None], repo: PolicyRepo) -> Counter[str]:
    """The step each desired version is at (``none``: not written yet)."""
    return Counter(step_of(name, v) or "none" for name, v in repo.desired.items())


def outcome_of(steps: Counter[str], total: int) -> str:
    """A kill's class, from the steps it left the desired versions at."""
    if any(steps[s] for s in (WRITTEN, SET, TESTED)):
        return "mid-rotation"
    if steps[PROMOTED] == total:
        return "all promoted"
    return "nothing written" if steps["none"] == total else "some promoted, none pending"


def status_is_clean(repo: PolicyRepo, env: dict[str, str]) -> None:
    status = run(repo.root, "status", "--exit-code", "--format", "json", env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    rows = json.loads(status.stdout)["secrets"]
    assert {r["name"]: (r["desired"], r["applied"]) for r in rows} == {
        name: (version, version) for name, version in repo.desired.items()
    }
    assert all(r.get("pending") is None for r in rows), rows


class Kills:
    """What the kills left: the class of each, and how many desired versions each step
    held right after a kill, summed over the kills."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.steps: Counter[str] = Counter()

    def add(self, steps: Counter[str], total: int) -> None:
        self.outcomes[outcome_of(steps, total)] += 1
        self.steps.update({s: n for s, n in steps.items() if s in (WRITTEN, SET, TESTED)})


@pytest.mark.slow
def test_killed_anywhere_with_a_rotator_a_normal_run_converges(
    make_repo: MakeRepo, trigger_log: Path, tmp_path: Path
) -> None:
    repo = make_repo(INTENTS, sealed_every=SEALED_EVERY)
    folder = tmp_path / "source"
    name_the_rotators(repo, folder)
    env = untraced(environment())
    store = Store(repo)
    backend = store.backend

    def step_of(name: str, version: int) -> str | None:
        record = backend.get(repo.refs[name], version)
        return None if record is None else record.step

    def value_of(name: str, version: int) -> str:
        return store.seen[(name, version)][1]

    def current_of(name: str) -> str:
        return backend.read(repo.refs[name]).reveal()

    def converged(previous: str | None) -> None:
        store.check_exact()
        check_deliveries(repo, read_log(trigger_log))
        check_note(repo, previous)
        check_rotators_noted(repo)
        for name, ref in repo.refs.items():
            steps = {v.version: v.step for v in backend.versions(ref)}
            assert set(steps.values()) == {PROMOTED}, (name, steps)
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
    for round_ in range(KILLS):
        head = bump(repo, SEALED_EVERY)
        process = start(repo.root, "reconcile", "--jobs", JOBS, env=env)
        kill_point(rng, round_, process, folder, length)
        process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode in (-signal.SIGKILL, 0), stderr.decode()
        check_told_after_promotion(read_log(trigger_log), step_of, checked)
        store.observe()  # a version written once, with one value, even mid-rotation
        kills.add(left_at(step_of, repo), INTENTS)
        reconcile_until_done(repo, env)
        converged(previous)
        previous = head
    store.reread_all()
    status_is_clean(repo, env)
    assert not any(v.step == ABANDONED for ref in repo.refs.values() for v in backend.versions(ref))
    print(
        f"\n{KILLS} kills with a rotator (run of {length:.2f} s): {dict(kills.outcomes)}; "
        f"versions left pending at {dict(kills.steps)}"
    )
    assert sum(kills.outcomes.values()) == KILLS
    assert kills.outcomes["mid-rotation"] >= KILLS // 5, kills.outcomes  # the kills hit them
    assert kills.steps[SET] + kills.steps[TESTED] > 0, kills.steps  # past set, not promoted
