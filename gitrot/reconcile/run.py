"""One reconciliation: read git and the backends, plan, apply, record (docs/architecture.md).

Crash safety comes from the order and from idempotency, not from a journal: values are
written under idempotency keys and consumers told with stable delivery ids
(:mod:`gitrot.reconcile.apply`); the records move last: the note (what this run did),
then ``refs/gitrot/state`` (the signed state), then ``refs/gitrot/reconciled``
(:mod:`gitrot.reconcile.record`). Killed anywhere, the next run converges to the state an
uninterrupted run would have left; interrupted (SIGINT, SIGTERM), a run records what it
finished before it stops.

One failing item never stops the others: a sealed value that does not open, a backend or
trigger that cannot be opened or fails, a location another secret owns: that item is
refused with a reason (the file, ``gitrot.yaml:LINE`` for configuration; never a value),
the rest is applied and recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from gitrot.errors import EnvironmentFailure, GitrotError, InputError
from gitrot.git import state as refs
from gitrot.git.repository import resolve
from gitrot.reconcile import desired
from gitrot.reconcile.apply import Outcome, apply
from gitrot.reconcile.observe import observe, read_state
from gitrot.reconcile.record import record
from gitrot.reconcile.wiring import Reconciler

if TYPE_CHECKING:  # pygit2 is heavy: its types only
    import pygit2

MAX_RACES = 8


def reconcile(
    reconciler: Reconciler,
    rev: str,
    *,
    jobs: int = 4,
    push: str | None = None,
    full: bool = False,
    now: Callable[[], datetime],
    progress: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Apply the plan at ``rev`` and record it; with ``push``, publish the state, the note
    and the ref to that remote with compare-and-swap, re-reading and retrying after a lost
    race. ``progress(done, total)`` is called as each item finishes."""
    for _attempt in range(MAX_RACES):
        expected: dict[str, str] = {}
        if push is not None:
            # the lease is read before the fetch: a push in between makes ours fail (and
            # retry), never overwrite what the other reconciler published
            expected = refs.remote_refs(reconciler.repo, push)
            refs.fetch(reconciler.repo, push)
        try:
            outcome = _once(reconciler, rev, jobs=jobs, now=now, full=full, progress=progress)
            if push is not None and not outcome.noop:
                refs.push(reconciler.repo, push, expected)
            elif push is not None:
                _push_if_behind(reconciler, push, expected)
            return outcome
        except refs.LostRace:
            continue
    raise GitrotError(
        f"gave up after {MAX_RACES} lost races with other reconcilers",
        hint="run again; the work done so far is kept (writes are idempotent)",
    )


def _push_if_behind(reconciler: Reconciler, remote: str, expected: Mapping[str, str]) -> None:
    local = {
        refs.RECONCILED_REF: refs.reconciled(reconciler.repo),
        refs.STATE_REF: refs.state_head(reconciler.repo),
    }
    if any(oid is not None and expected.get(ref) != oid for ref, oid in local.items()):
        refs.push(reconciler.repo, remote, dict(expected))


def _once(
    reconciler: Reconciler,
    rev: str,
    *,
    jobs: int,
    now: Callable[[], datetime],
    full: bool,
    progress: Callable[[int, int], None] | None = None,
) -> Outcome:
    started = now()
    previous = refs.reconciled(reconciler.repo)
    commit = resolve(reconciler.repo, rev)
    commit_id = str(commit.id)
    _not_older(reconciler, commit_id, previous)
    config = desired.read_config(commit, reconciler.prefix)
    current = read_state(reconciler, config)
    planned = observe(reconciler, commit, config, current, now=started, full=full, jobs=jobs)
    outcome = Outcome(commit_id, planned.items)
    in_step = current.trusted and _same(current.settled(), planned.target)
    if not planned.items and previous == commit_id and in_step:
        outcome.noop = True
        outcome.state = current.head
        return outcome
    results, stopped = apply(reconciler, planned, outcome, jobs=jobs, on_done=progress)
    record(reconciler, planned, outcome, results, previous, started, now, stopped)
    if stopped is not None:
        raise stopped
    if outcome.unreachable:
        hint = "the rest is applied and recorded; run again once the backend is back"
        if outcome.rotator_failed:
            hint = (
                "the version stays pending and the current one unchanged; fix the cause and "
                "run again: the next run resumes at that step with the same pending value"
            )
        raise EnvironmentFailure(outcome.unreachable[0], hint=hint)
    return outcome


def _same(a: pygit2.Tree | None, b: pygit2.Tree | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(a.id == b.id)


def _not_older(reconciler: Reconciler, target: str, previous: str | None) -> None:
    """Refuse a target older than the reconciled commit: its desired versions are behind
    what was applied (a rollback is a new version), and the ref never moves back."""
    if previous is None or previous == target:
        return
    if reconciler.repo.descendant_of(previous, target):
        raise InputError(
            f"{target[:12]} is older than the reconciled commit {previous[:12]}",
            where="refs/gitrot/reconciled",
            hint="reconcile the branch's head; to roll a secret back, rotate it to a new "
            "version with the old value",
        )
