"""Several reconcilers at once (docs/architecture.md): four ``gitrot reconcile --push
origin`` started together on four clones of one bare remote, sharing one store and one
reconciler identity. Each (name, version) is written once with one value, the remote gets
one note per commit (and one notes commit per reconciled commit), and no ref update is
lost; then a second round of rotations, the same way."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

from tests.reconcile.conftest import intent_name, sealed_value
from tests.reconcile.helpers import (
    GITROT,
    PolicyRepo,
    Store,
    cli,
    environment,
    expected_delivery,
    git,
    logger_trigger,
    read_log,
    run,
    share_store,
)

if TYPE_CHECKING:
    from pathlib import Path

    from tests.reconcile.conftest import MakeRepo

INTENTS = 20
SEALED_EVERY = 4
RECONCILERS = 4


class Remote:
    """A bare remote, the policy repository pushing to it, and clones reconciling from it."""

    def __init__(self, tmp_path: Path, repo: PolicyRepo) -> None:
        self.path = tmp_path / "remote.git"
        self.repo = repo
        git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(self.path))
        git(repo.root, "remote", "add", "origin", str(self.path))
        self.publish()
        self.clones = [self.clone(tmp_path / f"reconciler-{n}") for n in range(RECONCILERS)]

    def publish(self) -> None:
        git(self.repo.root, "push", "--quiet", "origin", "main")

    def clone(self, path: Path) -> Path:
        """A clone with the reconciler's identity (git-ignored: copied, 0600) and the
        shared store."""
        git(path.parent, "clone", "--quiet", str(self.path), str(path))
        assert self.repo.store is not None
        share_store(path, self.repo.store)
        for name in ("reconciler.key", "signing.key"):
            key = path / ".gitrot" / name
            shutil.copyfile(self.repo.root / ".gitrot" / name, key)
            key.chmod(0o600)
        return path

    def pull(self) -> None:
        for path in self.clones:
            git(path, "pull", "--quiet", "--ff-only", "origin", "main")

    def reconcile_at_once(self) -> list[subprocess.CompletedProcess[str]]:
        """Start ``gitrot reconcile --push origin`` in every clone, then wait for all."""
        processes = [
            subprocess.Popen(
                [*GITROT, "reconcile", "--push", "origin"],
                cwd=path,
                env=environment(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for path in self.clones
        ]
        results = []
        for process, path in zip(processes, self.clones, strict=True):
            out, err = process.communicate(timeout=120)
            results.append(subprocess.CompletedProcess([str(path)], process.returncode, out, err))
        return results

    def fresh_clone(self, path: Path) -> Path:
        """A new clone with the remote's notes and gitrot refs fetched."""
        git(path.parent, "clone", "--quiet", str(self.path), str(path))
        git(path, "fetch", "--quiet", "origin", "refs/notes/*:refs/notes/*")
        git(path, "fetch", "--quiet", "origin", "refs/gitrot/*:refs/gitrot/*")
        return path


def bump_all(repo: PolicyRepo) -> str:
    for index in range(INTENTS):
        name = intent_name(index)
        sealed = any(n == name for n, _ in repo.sealed)
        repo.rotate(name, value=sealed_value(index, repo.desired[name] + 1) if sealed else None)
    return repo.commit("Rotate everything")


def check_round(
    remote: Remote, store: Store, log: Path, commits: list[str], tmp_path: Path
) -> None:
    """Everything the guarantees promise after a round, read from a fresh clone."""
    repo = remote.repo
    head = commits[-1]
    store.check_exact()
    told = read_log(log)
    wanted = {(name, v) for name, versions in repo.versions.items() for v in versions}
    assert set(told) == wanted
    for (name, version), ids in told.items():
        assert ids == {expected_delivery(name, version)}
    fresh = remote.fresh_clone(tmp_path / f"fresh-{len(commits)}")
    notes = [line.split() for line in git(fresh, "notes", "--ref", "gitrot", "list").splitlines()]
    assert sorted(commit for _, commit in notes) == sorted(commits)  # one note per commit
    history = git(fresh, "rev-list", "refs/notes/gitrot").split()
    assert len(history) == len(commits)  # one notes commit per reconciled commit
    assert git(fresh, "rev-parse", "refs/gitrot/reconciled").strip() == head
    note = json.loads(git(fresh, "notes", "--ref", "gitrot", "show", head))
    assert note["commit"] == head
    assert note["previous"] == (commits[-2] if len(commits) > 1 else None)
    assert note["state"] == git(fresh, "rev-parse", "refs/gitrot/state").strip()
    state = repo.state(cwd=fresh)
    assert {name: e["version"] for name, e in state.items()} == repo.desired
    assert all(e["deliveries"]["api"]["ok"] for e in state.values())
    verify = run(fresh, "plan", "--format", "json")  # the state verifies: nothing to do
    assert (verify.returncode, json.loads(verify.stdout)["items"]) == (0, []), verify.stderr
    assert "not trusted" not in verify.stderr  # (no identity here: no ownership checks)
    applied = {(a["name"], a["version"]) for a in note["applied"]}
    assert applied == set(repo.desired.items())


@pytest.mark.slow
def test_four_reconcilers_at_once_apply_each_item_once(
    make_repo: MakeRepo, tmp_path: Path, trigger_log: Path
) -> None:
    shared = tmp_path / "shared-store"
    triggers = {"api": logger_trigger(trigger_log, sleep=0.01)}
    repo = make_repo(INTENTS, sealed_every=SEALED_EVERY, triggers=triggers, store=shared)
    remote = Remote(tmp_path, repo)
    store = Store(repo)
    commits = [repo.head()]
    for round_ in range(2):
        if round_:
            commits.append(bump_all(repo))
            remote.publish()
            remote.pull()
        results = remote.reconcile_at_once()
        for result in results:
            assert result.returncode == 0, (result.args, result.stderr)
        said = [r.stderr.strip().splitlines()[-1] for r in results]
        wrote = [line for line in said if "(note in refs/notes/gitrot)" in line]
        assert len(wrote) >= 1, said
        lines = len(trigger_log.read_text().splitlines())
        print(
            f"\nround {round_ + 1}: {len(wrote)} of {RECONCILERS} wrote the note; "
            f"{lines} deliveries so far for {sum(map(len, repo.versions.values()))} versions"
        )
        check_round(remote, store, trigger_log, commits, tmp_path)
    store.reread_all()


# Regression (fixed in 5a2baf0): the push lease was read after the fetch: a push in between was
# force-overwritten and its note lost.
@pytest.mark.parametrize("after", ["remote_refs", "fetch"])
def test_a_push_while_reconciling_is_never_overwritten(
    make_repo: MakeRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: str
) -> None:
    """Another reconciler, on an earlier commit, pushes right after this one read the
    remote's refs (``after`` the lease or the fetch): this push must lose, re-read and
    retry, and both notes end up on the remote."""
    from gitrot.git import state

    repo = make_repo(3, store=tmp_path / "shared-store")
    first = repo.head()
    for index in range(3):
        repo.rotate(intent_name(index))
    second = repo.commit()
    remote = Remote(tmp_path, repo)
    one, other = remote.clones[:2]
    original = getattr(state, after)
    calls: list[int] = []

    def then_someone_pushes(*args: Any) -> Any:
        result = original(*args)
        if not calls:
            calls.append(1)
            done = run(other, "reconcile", "--rev", first, "--push", "origin")
            assert done.returncode == 0, done.stderr
        return result

    monkeypatch.setattr(state, after, then_someone_pushes)
    assert cli(one, "reconcile", "--rev", second, "--push", "origin") == 0
    assert calls == [1]
    fresh = remote.fresh_clone(tmp_path / "fresh")
    noted = {
        line.split()[1] for line in git(fresh, "notes", "--ref", "gitrot", "list").splitlines()
    }
    assert noted == {first, second}
    assert git(fresh, "rev-parse", "refs/gitrot/reconciled").strip() == second
