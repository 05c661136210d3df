"""The local backend under concurrent writers and crashes: each version stored once, whole."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gitrot.backends.base import BackendContext
from gitrot.backends.local import LocalBackend
from tests.backends.helpers import REF, backend, new_context, random_value, write

PROCESSES = 8
VERSIONS = 20


def _race(root: str, recipients: tuple[str, ...], barrier, results) -> None:  # type: ignore[no-untyped-def]
    """One reconciler process: write versions 1..VERSIONS, each with its own random value."""
    context = BackendContext(root=root, recipients=recipients, identities="")
    store = backend(context, clock=os.getpid())
    attempts, records = [], []
    barrier.wait()
    for version in range(1, VERSIONS + 1):
        value = random_value()
        attempts.append(value.reveal())
        records.append(write(store, version, value).as_dict())
    results.put((attempts, records))


def test_racing_processes_store_each_version_once(tmp_path: Path) -> None:
    context = new_context(tmp_path)
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(PROCESSES), spawn.Queue()
    workers = [
        spawn.Process(target=_race, args=(str(tmp_path), context.recipients, barrier, results))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    outcomes: list[tuple[list[str], list[dict[str, object]]]] = []
    while len(outcomes) < PROCESSES:
        try:
            outcomes.append(results.get(timeout=1))
        except queue.Empty:
            assert all(worker.exitcode in (None, 0) for worker in workers), "a writer failed"
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0

    store = backend(context)
    stored = store.versions(REF)
    assert [v.version for v in stored] == list(range(1, VERSIONS + 1))
    for index, applied in enumerate(stored):
        # every process got the record that is stored, the stage aside
        seen = {tuple(sorted({**records[index], "stage": ""}.items())) for _, records in outcomes}
        assert seen == {tuple(sorted({**applied.as_dict(), "stage": ""}.items()))}
        # the stored value is the one the winning process tried, and only that process's
        value = store.read(REF, applied.version).reveal()
        winners = [pid for pid, (attempts, _) in enumerate(outcomes) if attempts[index] == value]
        assert len(winners) == 1
        assert outcomes[winners[0]][1][index]["written_at"] == applied.written_at
    names = sorted(p.name for p in (tmp_path / "store" / REF).iterdir())
    expected = [f"v{n}.{kind}" for n in range(1, VERSIONS + 1) for kind in ("age", "json")]
    assert names == sorted([".lock", *expected])


def test_racing_threads_of_one_reconciler_store_each_version_once(tmp_path: Path) -> None:
    context = new_context(tmp_path)
    store = LocalBackend("local", {"path": "store"}, context, clock=itertools.count().__next__)
    values = [random_value() for _ in range(16)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        records = list(pool.map(lambda value: write(store, 1, value), values))
    assert len({tuple(r.as_dict().items()) for r in records}) == 1
    assert store.read(REF, 1) in values
    assert len(list((tmp_path / "store" / REF).glob("v*"))) == 2


def test_threads_on_many_secrets_do_not_wait_for_each_other(tmp_path: Path) -> None:
    context = new_context(tmp_path)
    store = backend(context)
    refs = [f"app/secret-{n}" for n in range(12)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda ref: [write(store, v, random_value(), ref=ref) for v in (1, 2)], refs))
    assert sorted(store.current(refs)) == sorted(refs)
    assert {applied.version for applied in store.current(refs).values()} == {2}


# --- crashes ---------------------------------------------------------------------------------


def test_a_value_without_a_record_is_ignored_then_replaced(tmp_path: Path) -> None:
    context = new_context(tmp_path)
    store = backend(context)
    folder = tmp_path / "store" / REF
    folder.mkdir(parents=True)
    (folder / "v1.age").write_bytes(b"half a write")
    (folder / "v2.age").write_bytes(b"an older crash")
    assert store.current([REF]) == {}
    assert store.get(REF, 1) is None
    assert store.versions(REF) == []
    value = random_value()
    write(store, 1, value)
    assert store.read(REF) == value
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "v1.age", "v1.json"]


def test_leftover_temporary_files_are_ignored_then_removed(tmp_path: Path) -> None:
    context = new_context(tmp_path)
    store = backend(context)
    value = random_value()
    write(store, 1, value)
    folder = tmp_path / "store" / REF
    (folder / ".v2.age.abc123.tmp").write_bytes(b"partial")
    (folder / ".v2.json.def456.tmp").write_bytes(b'{"format": 1, "vers')
    assert store.current([REF])[REF].version == 1
    assert store.read(REF) == value
    write(store, 2, random_value())
    assert sorted(p.name for p in folder.iterdir()) == [
        ".lock", "v1.age", "v1.json", "v2.age", "v2.json",
    ]  # fmt: skip


def _crash_after(root: str, recipients: tuple[str, ...], calls: int, value: str) -> None:
    """Write version 1, dying (no cleanup, no flush) at the ``calls``-th fsync or rename."""
    from gitrot.core.secret import SecretValue

    count = [0]

    def dying(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            count[0] += 1
            if count[0] == calls:
                os._exit(17)
            return real(*args)

        return call

    os.fsync = dying(os.fsync)
    os.replace = dying(os.replace)
    context = BackendContext(root=root, recipients=recipients, identities="")
    write(backend(context), 1, SecretValue(value))


def test_a_write_killed_at_any_step_leaves_nothing_or_a_whole_version(tmp_path: Path) -> None:
    spawn = multiprocessing.get_context("spawn")
    outcomes = []
    for calls in range(1, 30):
        root = tmp_path / f"crash-{calls}"
        root.mkdir()
        context = new_context(root)
        first = random_value()
        child = spawn.Process(
            target=_crash_after, args=(str(root), context.recipients, calls, first.reveal())
        )
        child.start()
        child.join(timeout=60)
        store = backend(context)
        applied = store.get(REF, 1)
        if applied is not None:
            assert store.read(REF, 1) == first  # a record means a whole value
        leftovers = sorted(p.name for p in (root / "store" / REF).glob("*") if p.name != ".lock")
        second = random_value()
        assert write(store, 1, second) == (applied or store.get(REF, 1))
        assert store.read(REF, 1) == (first if applied is not None else second)
        assert sorted(p.name for p in (root / "store" / REF).iterdir()) == [
            ".lock", "v1.age", "v1.json",
        ]  # fmt: skip
        outcomes.append((child.exitcode, applied is not None, leftovers))
        if child.exitcode == 0:
            break
    else:
        pytest.fail("the write never completed")
    crashed = [o for o in outcomes if o[0] == 17]
    assert len(crashed) >= 6  # folders, value, value rename, folder, record, record rename
    assert any(not committed and leftovers for _, committed, leftovers in crashed)
    assert any(committed for _, committed, _ in crashed)
