"""What a plan is made from: git at the target commit, the signed state, the backends
(docs/architecture.md, The reconciler). The one reader behind ``gitrot plan``,
``gitrot status`` and ``gitrot reconcile``; the plan itself is pure
(:mod:`gitrot.reconcile.plan`).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from gitrot.core.models import Config
from gitrot.core.ports import AppliedVersion, Backend, BackendError, StagedBackend
from gitrot.errors import EnvironmentFailure, GitrotError
from gitrot.git.repository import resolve
from gitrot.reconcile import desired
from gitrot.reconcile.ledger import Entry, State, load_state, owner_hash
from gitrot.reconcile.plan import Desired, Item, make_plan
from gitrot.reconcile.wiring import Reconciler, warn

if TYPE_CHECKING:  # pygit2 is heavy: its types only
    import pygit2

    from gitrot.git.repository import Commit


class Planned:
    """A plan and what it was made from: ``wanted`` the intents read (the changed ones,
    or all), ``applied`` their backends' newest versions, ``items`` the pure plan."""

    __slots__ = (
        "applied", "blobs", "commit", "config", "items", "removed", "state", "target", "wanted",
    )  # fmt: skip

    def __init__(  # noqa: PLR0917
        self,
        commit: Commit,
        config: Config,
        state: State,
        target: pygit2.Tree | None,
        blobs: dict[str, str],
        removed: list[str],
        applied: dict[tuple[str, str], AppliedVersion | None],
        wanted: list[Desired],
        items: list[Item],
    ) -> None:
        self.commit = commit
        self.config = config
        self.state = state
        self.target = target
        self.blobs = blobs
        self.removed = removed
        self.applied = applied
        self.wanted = wanted
        self.items = items


def plan(reconciler: Reconciler, rev: str, *, now: datetime, full: bool = False) -> Planned:
    """The plan at ``rev``, changing nothing."""
    commit = resolve(reconciler.repo, rev)
    config = desired.read_config(commit, reconciler.prefix)
    return observe(reconciler, commit, config, read_state(reconciler, config), now=now, full=full)


def read_state(reconciler: Reconciler, config: Config) -> State:
    """The state, trusted when it verifies with ``reconciler.signing_key`` at the target;
    otherwise a one-line warning and an untrusted (empty) state: compare everything."""
    state, why = load_state(reconciler.repo, config.signing_key, reconciler.owner_key)
    if why:
        warn(f"{why}; comparing every intent with its backend" if not state.trusted else why)
    return state


def observe(
    reconciler: Reconciler,
    commit: Commit,
    config: Config,
    state: State,
    *,
    now: datetime,
    full: bool,
    jobs: int = 1,
) -> Planned:
    """Read the intents that changed since the state settled them (every intent with
    ``full`` or an untrusted state), what their backends hold (``jobs`` queries at a time),
    and plan."""
    repo, prefix = reconciler.repo, reconciler.prefix
    target = desired.secrets_tree(repo, commit, prefix)
    settled = state.settled() if state.trusted else None
    # without a trusted state, settled is None and every intent counts as changed
    blobs, removed = desired.changed_intents(repo, target, settled)
    if full and state.trusted:
        blobs = desired.intent_blobs(commit, prefix)
    wanted = desired.load(
        repo, commit, prefix, sorted(blobs), blobs, config, reconciler.identities,
        now=now, settled=settled,
    )  # fmt: skip
    ledger: dict[str, Entry] = {}
    owners: dict[tuple[str, str], str] = {}
    if state.trusted:
        ledger = {w.name: e for w in wanted if (e := state.entry(w.name)) is not None}
    applied = applied_versions(reconciler, config, wanted, commit, jobs=jobs)
    for want in wanted:
        if not want.problem:
            owner = state.owner(owner_hash(reconciler.owner_key, want.backend, want.ref))
            if owner is not None:
                owners[(want.backend, want.ref)] = owner
    items = make_plan(wanted, applied, ledger, owners)
    return Planned(commit, config, state, target, blobs, removed, applied, wanted, items)


def applied_versions(
    reconciler: Reconciler,
    config: Config,
    wanted: Sequence[Desired],
    commit: Commit,
    *,
    jobs: int = 1,
) -> dict[tuple[str, str], AppliedVersion | None]:
    """``{(backend, ref): newest version}`` of the wanted intents; an intent whose backend
    cannot be opened or refuses its ref gets that as its ``problem`` (refused alone), as
    does one naming a rotator gitrot.yaml lacks or whose backend cannot hold a pending
    version (not a :class:`~gitrot.core.ports.StagedBackend`)."""
    for want in wanted:
        if want.rotator and not want.problem and not reconciler.has_rotator(config, want.rotator):
            want.problem = (
                f"spec.source.rotator names {want.rotator!r}, which is not under rotators: in "
                "gitrot.yaml"
            )
    by_backend: dict[str, list[str]] = {}
    for want in wanted:
        if not want.problem:
            by_backend.setdefault(want.backend, []).append(want.ref)
    found: dict[tuple[str, str], AppliedVersion | None] = {}
    for name, refs in by_backend.items():
        try:
            backend = reconciler.backend(config, name)
        except (GitrotError, BackendError) as exc:
            why = reconciler.config_problem(commit, "backends", name, exc)
            for want in wanted:
                if want.backend == name and not want.problem:
                    want.problem = why
            continue
        if not isinstance(backend, StagedBackend):
            for want in wanted:
                if want.backend == name and want.rotator and not want.problem:
                    want.problem = (
                        f"backend {name} cannot hold a pending version (it is not a "
                        f"StagedBackend), so rotator {want.rotator} cannot rotate at the source "
                        "through it; use a backend that can (local, vault, "
                        "aws-secrets-manager, gcp-secret-manager) or remove spec.source"
                    )
        try:
            current = newest_versions(backend, refs, wanted, jobs=jobs)
        finally:
            reconciler.close(backend)
        for ref in refs:
            found[(name, ref)] = current.get(ref)
    return found


def newest_versions(
    backend: Backend, refs: list[str], wanted: Sequence[Desired], *, jobs: int = 1
) -> dict[str, AppliedVersion]:
    """``backend.current(refs)``, asked in ``jobs`` slices at once (a remote backend answers
    ref by ref; backends are safe to share between threads, as the apply phase shares them);
    when it refuses, ref by ref: an intent whose ref the backend refuses gets that as its
    ``problem`` (refused alone); an unreachable backend is an EnvironmentFailure (exit 3)."""
    if jobs > 1 and len(refs) > 1:
        slices = [refs[i::jobs] for i in range(min(jobs, len(refs)))]
        with ThreadPoolExecutor(max_workers=len(slices)) as pool:
            parts = list(pool.map(lambda part: newest_versions(backend, part, wanted), slices))
        return {ref: found for part in parts for ref, found in part.items()}
    try:
        return backend.current(refs)
    except BackendError as exc:
        if exc.unreachable:
            raise EnvironmentFailure(exc.message, where=f"backend {backend.name}") from None
    found: dict[str, AppliedVersion] = {}
    for ref in refs:
        try:
            found.update(backend.current([ref]))
        except BackendError as exc:
            if exc.unreachable:
                raise EnvironmentFailure(exc.message, where=f"backend {backend.name}") from None
            for want in wanted:
                if want.ref == ref and want.backend == backend.name:
                    want.problem = f"backend {backend.name}: {exc.message}"
    return found
