"""What the backends hold, asked ``--jobs`` slices at a time (reconcile/observe.py).

A remote backend answers ``current`` ref by ref, so ``gitrot reconcile --jobs N`` asks in
N slices at once; the answer, and the refusal of one ref alone, are those of one call."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import pytest

from gitrot.core.ports import AppliedVersion, BackendError
from gitrot.errors import EnvironmentFailure
from gitrot.reconcile.observe import newest_versions
from gitrot.reconcile.plan import Desired
from tests.reconcile.fakes import MemoryBackend

REFS = [f"apps/s{i:02}" for i in range(20)]


class CountingBackend(MemoryBackend):
    """Records which refs each ``current`` call asked, from which thread; refuses ``bad``
    refs (a ref the manager will not take) and, when ``down``, every call."""

    def __init__(self, bad: Iterable[str] = (), *, down: bool = False) -> None:
        super().__init__("remote")
        self.asked: list[tuple[str, ...]] = []
        self.threads: set[int] = set()
        self.bad = set(bad)
        self.down = down

    def current(self, refs: Iterable[str]) -> dict[str, AppliedVersion]:
        refs = tuple(refs)
        with self.lock:
            self.asked.append(refs)
            self.threads.add(threading.get_ident())
        if self.down:
            raise BackendError("backend 'remote': connection refused", unreachable=True)
        if self.bad & set(refs):
            raise BackendError("backend 'remote': the manager refuses this name")
        return super().current(refs)


def stored(backend: MemoryBackend) -> None:
    for i, ref in enumerate(REFS):
        if i % 3 == 0:
            backend.records[(ref, 1)] = AppliedVersion(
                ref=ref, version=1, name=f"s{i:02}", commit="c" * 40, key=f"k{i}",
                backend_id=str(i), written_at=0,
            )  # fmt: skip


def wanted() -> list[Desired]:
    return [
        Desired(
            name=f"s{i:02}",
            path=f"secrets/s{i:02}.yaml",
            blob="b" * 40,
            version=1,
            backend="remote",
            ref=ref,
            value=None,
            consumers=(),
        )
        for i, ref in enumerate(REFS)
    ]


@pytest.mark.parametrize("jobs", [2, 4, 8, 64])
def test_slices_at_once_answer_as_one_call_does(jobs: int) -> None:
    one, many = CountingBackend(), CountingBackend()
    stored(one)
    stored(many)
    assert newest_versions(many, REFS, wanted(), jobs=jobs) == newest_versions(
        one, REFS, wanted(), jobs=1
    )
    assert one.asked == [tuple(REFS)]
    asked = [ref for call in many.asked for ref in call]
    assert sorted(asked) == sorted(REFS)  # each ref asked once
    assert len(many.asked) == min(jobs, len(REFS))


def test_a_refused_ref_is_refused_alone_in_its_slice() -> None:
    backend = CountingBackend(bad={REFS[5]})
    stored(backend)
    wants = wanted()
    found = newest_versions(backend, REFS, wants, jobs=4)
    assert [w.ref for w in wants if w.problem] == [REFS[5]]
    assert wants[5].problem == "backend remote: backend 'remote': the manager refuses this name"
    assert set(found) == {ref for i, ref in enumerate(REFS) if i % 3 == 0}


def test_an_unreachable_backend_stops_the_run_with_exit_3() -> None:
    with pytest.raises(EnvironmentFailure) as info:
        newest_versions(CountingBackend(down=True), REFS, wanted(), jobs=4)
    assert info.value.exit_code == 3
    assert "connection refused" in info.value.message
