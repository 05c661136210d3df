"""The local backend as a StagedBackend: pending versions, steps, promotion, abandonment."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gitrot.backends.base import BackendContext, BackendError, VersionConflict, idempotency_key
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
    AppliedVersion,
    StagedBackend,
)
from gitrot.core.secret import SecretValue
from tests.backends.helpers import COMMIT, NAME, REF, backend, new_context, random_value, write


@pytest.fixture
def context(tmp_path: Path) -> BackendContext:
    return new_context(tmp_path)


@pytest.fixture
def store(context: BackendContext) -> LocalBackend:
    return backend(context)


def key(version: int) -> str:
    return idempotency_key(NAME, version)


def pending(store: LocalBackend, version: int, value: SecretValue) -> AppliedVersion:
    return store.write_pending(REF, version, value, name=NAME, commit=COMMIT, key=key(version))


def rotate(store: LocalBackend, version: int, value: SecretValue) -> AppliedVersion:
    """A whole rotation at the source: pending, set, tested, promoted."""
    pending(store, version, value)
    store.mark(REF, version, SET, key=key(version))
    store.mark(REF, version, TESTED, key=key(version))
    return store.promote(REF, version, key=key(version))


def stages(store: LocalBackend) -> list[tuple[int, str, str]]:
    return [(v.version, v.stage, v.step) for v in store.versions(REF)]


def record_file(tmp_path: Path, version: int) -> dict[str, object]:
    data: dict[str, object] = json.loads(
        (tmp_path / "store" / REF / f"v{version}.json").read_text()
    )
    return data


def test_the_local_backend_is_a_staged_backend(store: LocalBackend) -> None:
    assert isinstance(store, StagedBackend)


def test_a_pending_version_is_newest_but_never_read_as_current(store: LocalBackend) -> None:
    first, second = random_value(), random_value()
    write(store, 1, first)
    record = pending(store, 2, second)
    assert (record.stage, record.step, record.version) == (PENDING, WRITTEN, 2)
    assert store.current([REF])[REF] == record
    assert store.get(REF, 1).stage == CURRENT  # type: ignore[union-attr]
    assert store.read(REF) == first  # consumers read the current one
    assert store.read(REF, 2) == second  # the reconciler reads the pending one by version
    assert stages(store) == [(1, CURRENT, PROMOTED), (2, PENDING, WRITTEN)]


def test_only_pending_versions_means_no_current_value(store: LocalBackend) -> None:
    pending(store, 1, random_value())
    with pytest.raises(BackendError, match="no current version of this secret"):
        store.read(REF)
    assert store.current([REF])[REF].stage == PENDING


def test_promotion_moves_current_to_previous(store: LocalBackend, tmp_path: Path) -> None:
    values = {1: random_value(), 2: random_value(), 3: random_value()}
    write(store, 1, values[1])
    rotate(store, 2, values[2])
    assert stages(store) == [(1, PREVIOUS, PROMOTED), (2, CURRENT, PROMOTED)]
    assert store.read(REF) == values[2]
    promoted = rotate(store, 3, values[3])
    assert (promoted.stage, promoted.step) == (CURRENT, PROMOTED)
    assert stages(store) == [
        (1, PREVIOUS, PROMOTED),
        (2, PREVIOUS, PROMOTED),
        (3, CURRENT, PROMOTED),
    ]
    assert store.read(REF) == values[3]
    # the step is in the version's record, never the value
    text = (tmp_path / "store" / REF / "v3.json").read_text()
    assert json.loads(text)["step"] == PROMOTED
    assert values[3].reveal() not in text


def test_write_pending_is_idempotent_on_its_key(store: LocalBackend) -> None:
    value = random_value()
    first = pending(store, 1, value)
    again = pending(store, 1, random_value())  # a rerun's new value is discarded
    assert again == first
    assert store.read(REF, 1) == value
    store.mark(REF, 1, SET, key=key(1))
    assert pending(store, 1, random_value()).step == SET  # the stored record, as it is now
    with pytest.raises(VersionConflict, match="another idempotency key"):
        store.write_pending(REF, 1, value, name=NAME, commit=COMMIT, key="gr1-other")
    pending(store, 3, random_value())
    with pytest.raises(VersionConflict, match="below version 3"):
        pending(store, 2, random_value())


def test_a_step_never_goes_back(store: LocalBackend) -> None:
    pending(store, 1, random_value())
    assert store.mark(REF, 1, SET, key=key(1)).step == SET
    assert store.mark(REF, 1, SET, key=key(1)).step == SET  # idempotent
    assert store.mark(REF, 1, TESTED, key=key(1)).step == TESTED
    assert store.mark(REF, 1, SET, key=key(1)).step == TESTED  # not back to set
    store.promote(REF, 1, key=key(1))
    assert store.mark(REF, 1, TESTED, key=key(1)).step == PROMOTED
    assert store.promote(REF, 1, key=key(1)).step == PROMOTED  # idempotent


def test_marks_that_are_refused(store: LocalBackend) -> None:
    pending(store, 1, random_value())
    with pytest.raises(BackendError, match="marked set, tested or abandoned, not 'promoted'"):
        store.mark(REF, 1, PROMOTED, key=key(1))
    with pytest.raises(BackendError, match="holds no version 2"):
        store.mark(REF, 2, SET, key=key(2))
    with pytest.raises(BackendError, match="holds no version 1"):
        store.mark("other/ref", 1, SET, key=key(1))
    with pytest.raises(VersionConflict, match="another idempotency key"):
        store.mark(REF, 1, SET, key="gr1-other")
    with pytest.raises(VersionConflict, match="another idempotency key"):
        store.promote(REF, 1, key="gr1-other")
    with pytest.raises(BackendError, match="holds no version 5"):
        store.promote(REF, 5, key=key(5))


def test_promotion_needs_a_tested_version(store: LocalBackend) -> None:
    write(store, 1, random_value())
    pending(store, 2, random_value())
    with pytest.raises(BackendError, match="version 2 is written, not tested"):
        store.promote(REF, 2, key=key(2))
    store.mark(REF, 2, SET, key=key(2))
    with pytest.raises(BackendError, match="version 2 is set, not tested"):
        store.promote(REF, 2, key=key(2))
    assert store.current([REF])[REF].stage == PENDING
    assert store.get(REF, 1).stage == CURRENT  # type: ignore[union-attr]


def test_an_abandoned_version_is_readable_by_version_but_never_current(
    store: LocalBackend, tmp_path: Path
) -> None:
    values = {1: random_value(), 2: random_value(), 3: random_value()}
    write(store, 1, values[1])
    pending(store, 2, values[2])
    store.mark(REF, 2, SET, key=key(2))
    abandoned = store.mark(REF, 2, ABANDONED, key=key(2))
    assert (abandoned.stage, abandoned.step) == (PENDING, ABANDONED)
    assert store.mark(REF, 2, ABANDONED, key=key(2)).step == ABANDONED  # idempotent
    assert store.read(REF) == values[1]
    assert store.read(REF, 2) == values[2]
    for step in (SET, TESTED):
        with pytest.raises(BackendError, match="version 2 was abandoned; it cannot be"):
            store.mark(REF, 2, step, key=key(2))
    with pytest.raises(BackendError, match="version 2 was abandoned; only a tested pending"):
        store.promote(REF, 2, key=key(2))
    rotate(store, 3, values[3])
    assert stages(store) == [
        (1, PREVIOUS, PROMOTED),
        (2, PENDING, ABANDONED),
        (3, CURRENT, PROMOTED),
    ]
    assert store.read(REF) == values[3]
    assert record_file(tmp_path, 2)["step"] == ABANDONED


def test_a_promoted_version_cannot_be_abandoned(store: LocalBackend) -> None:
    rotate(store, 1, random_value())
    with pytest.raises(BackendError, match="is promoted, not pending; it cannot be abandoned"):
        store.mark(REF, 1, ABANDONED, key=key(1))


def test_a_pending_version_below_the_current_one_cannot_be_promoted(store: LocalBackend) -> None:
    pending(store, 1, random_value())
    store.mark(REF, 1, SET, key=key(1))
    store.mark(REF, 1, TESTED, key=key(1))
    later = random_value()
    write(store, 2, later)  # the intent lost its rotator: version 2 is current at once
    with pytest.raises(VersionConflict, match="below the current version 2"):
        store.promote(REF, 1, key=key(1))
    assert store.read(REF) == later
    assert store.get(REF, 1).stage == PENDING  # type: ignore[union-attr]


def test_a_version_written_without_a_rotator_is_unchanged(
    store: LocalBackend, tmp_path: Path
) -> None:
    record = write(store, 1, random_value())
    assert (record.stage, record.step) == (CURRENT, PROMOTED)
    assert "step" not in record_file(tmp_path, 1)
    assert record_file(tmp_path, 1)["format"] == 1


def test_promoting_a_promoted_version_changes_nothing(store: LocalBackend, tmp_path: Path) -> None:
    """The reconciler promotes again a version it finds promoted (a run killed inside
    promote, on a backend where promotion takes several requests): no record is rewritten."""
    write(store, 1, random_value())
    rotate(store, 2, random_value())
    files = {v: (tmp_path / "store" / REF / f"v{v}.json").read_bytes() for v in (1, 2)}
    for version in (1, 2):
        assert store.promote(REF, version, key=key(version)).step == PROMOTED
    assert {v: (tmp_path / "store" / REF / f"v{v}.json").read_bytes() for v in (1, 2)} == files
    assert stages(store) == [(1, PREVIOUS, PROMOTED), (2, CURRENT, PROMOTED)]


def test_steps_survive_a_new_backend_object(context: BackendContext) -> None:
    pending(backend(context), 1, random_value())
    backend(context).mark(REF, 1, SET, key=key(1))
    assert backend(context).get(REF, 1).step == SET  # type: ignore[union-attr]


def test_a_record_with_an_unknown_step_is_refused(store: LocalBackend, tmp_path: Path) -> None:
    pending(store, 1, random_value())
    path = tmp_path / "store" / REF / "v1.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "step": "half-done"}))
    with pytest.raises(BackendError, match="unknown step; restore the store from a backup"):
        store.get(REF, 1)


def test_a_crashed_mark_leaves_the_step_before(store: LocalBackend, tmp_path: Path) -> None:
    pending(store, 1, random_value())
    folder = tmp_path / "store" / REF
    (folder / ".v1.json.dead.tmp").write_text('{"format": 1, "step": "tes')
    assert store.get(REF, 1).step == WRITTEN  # type: ignore[union-attr]
    assert store.mark(REF, 1, SET, key=key(1)).step == SET


# Regression: a run killed while marking or promoting left its temporary record, which the
# run that resumed the rotation kept (only a new version's write removed it).
def test_the_next_mark_removes_what_a_killed_one_left(store: LocalBackend, tmp_path: Path) -> None:
    pending(store, 1, random_value())
    folder = tmp_path / "store" / REF
    for step, leftover in ((SET, ".v1.json.a.tmp"), (TESTED, ".v1.json.b.tmp")):
        (folder / leftover).write_text('{"format": 1, "step": "')
        store.mark(REF, 1, step, key=key(1))
        assert sorted(p.name for p in folder.iterdir()) == [".lock", "v1.age", "v1.json"]
    (folder / ".v1.json.c.tmp").write_text('{"format": 1, "step": "')
    assert store.promote(REF, 1, key=key(1)).step == PROMOTED
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "v1.age", "v1.json"]


# --- concurrent writers -----------------------------------------------------------------------


def test_racing_threads_store_one_pending_value_and_agree_on_steps(store: LocalBackend) -> None:
    write(store, 1, random_value())
    values = [random_value() for _ in range(12)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        records = list(pool.map(lambda value: pending(store, 2, value), values))
    assert len({r.written_at for r in records}) == 1
    stored = store.read(REF, 2)
    assert stored in values

    def advance(index: int) -> str:
        step = (SET, TESTED)[index % 2]
        store.mark(REF, 2, step, key=key(2))
        if index % 3 == 0:
            try:
                return store.promote(REF, 2, key=key(2)).step
            except BackendError:
                return "not yet"
        return step

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(advance, range(24)))
    store.mark(REF, 2, TESTED, key=key(2))
    assert store.promote(REF, 2, key=key(2)).step == PROMOTED
    assert store.read(REF) == stored
    assert stages(store) == [(1, PREVIOUS, PROMOTED), (2, CURRENT, PROMOTED)]


def _mark_forever(root: str, recipients: tuple[str, ...], identities: str) -> None:
    context = BackendContext(root=root, recipients=recipients, identities=identities)
    store = backend(context)
    version = 1
    while True:
        pending(store, version, random_value())
        store.mark(REF, version, SET, key=key(version))
        store.mark(REF, version, TESTED, key=key(version))
        store.promote(REF, version, key=key(version))
        version += 1


def test_a_killed_writer_leaves_whole_records(tmp_path: Path, context: BackendContext) -> None:
    spawn = multiprocessing.get_context("spawn")
    for attempt in range(3):
        child = spawn.Process(
            target=_mark_forever,
            args=(str(tmp_path), context.recipients, context.identities),
        )
        child.start()
        deadline = time.monotonic() + 30
        folder = tmp_path / "store" / REF
        while time.monotonic() < deadline and len(list(folder.glob("v*.json"))) < 2 + attempt:
            time.sleep(0.01)
        time.sleep(0.01 * attempt)
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
        # every record is whole; at most the newest is not promoted; a rerun finishes it
        store = backend(context)
        found = stages(store)
        assert all(stage == PREVIOUS for _, stage, _ in found[:-2])
        newest = found[-1]
        if newest[2] != PROMOTED:
            version = newest[0]
            if newest[2] == WRITTEN:
                store.mark(REF, version, SET, key=key(version))
            store.mark(REF, version, TESTED, key=key(version))
            store.promote(REF, version, key=key(version))
        assert stages(store)[-1][1:] == (CURRENT, PROMOTED)
        # the next child starts over at version 1: its writes are found (same keys)
        for version, _, _ in stages(store):
            assert store.get(REF, version) is not None
