"""The signed state read back (reconcile/ledger.py): what is not what gitrot writes is
never trusted as an entry, an owner or a map; a reconciler with another identity keeps the
state but not its ownership hashes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pygit2
import pyrage
import pytest

from gitrot.reconcile.ledger import Entry, State
from gitrot.reconcile.run import reconcile
from gitrot.reconcile.wiring import Reconciler
from tests.reconcile.conftest import intent_name
from tests.reconcile.fakes import MemoryBackend, Recorder
from tests.reconcile.helpers import environment, git

if TYPE_CHECKING:
    from pathlib import Path

    from tests.reconcile.conftest import MakeRepo


def test_entries_with_bad_deliveries_or_owners_are_not_entries() -> None:
    good = {"version": 1, "blob": "b", "backend": "local", "backend_version_id": "v1",
            "key": "k", "deliveries": {"api": {"ok": True}}, "owns": ["h"]}  # fmt: skip
    assert Entry.from_dict(good).delivered(1) == frozenset({"api"})
    assert Entry.from_dict(good).delivered(2) == frozenset()
    for bad in ({"deliveries": []}, {"deliveries": {"api": "ok"}}, {"owns": "h"}, {"owns": [1]}):
        with pytest.raises(ValueError, match="bad"):
            Entry.from_dict({**good, **bad})


def _state(tmp_path: Path, files: dict[str, bytes]) -> State:
    repo = pygit2.init_repository(str(tmp_path / "state"), bare=True)

    def tree(items: dict[str, object]) -> pygit2.Oid:
        builder = repo.TreeBuilder()
        for name, content in items.items():
            if isinstance(content, dict):
                builder.insert(name, tree(content), pygit2.GIT_FILEMODE_TREE)
            else:
                assert isinstance(content, bytes)
                builder.insert(name, repo.create_blob(content), pygit2.GIT_FILEMODE_BLOB)
        return builder.write()

    nested: dict[str, object] = {}
    for path, content in files.items():
        *folders, leaf = path.split("/")
        place = nested
        for folder in folders:
            place = place.setdefault(folder, {})  # type: ignore[assignment]
        place[leaf] = content
    root = repo[tree(nested)]
    assert isinstance(root, pygit2.Tree)
    return State(repo, head=None, tree=root, trusted=True, owner_key=b"k")


def test_what_is_not_json_an_object_or_a_blob_is_not_read(tmp_path: Path) -> None:
    state = _state(
        tmp_path,
        {
            "secrets/svc/bad.json": b"{not json",
            "secrets/svc/list.json": b"[]",
            "owners/aa.json": b"not json",
            "owners/bb.json": b"[1, 2]",
            "owners/cc.json": b'{"x": "svc/a", "y": 3}',
            "intents/svc/a.yaml": b"kind: RotationIntent\n",
        },
    )
    assert state.entry("svc/bad") is None and state.entry("svc/list") is None
    assert state.entry("svc/none") is None
    assert state.blob_at("secrets") is None  # a folder, not a blob
    assert state.blob_at("owners/aa.json") is not None
    assert state.load_map("owners/aa.json") == {}
    assert state.load_map("owners/bb.json") == {}
    assert state.load_map("owners/cc.json") == {"x": "svc/a"}  # non-text owners dropped
    assert state.load_map("owners/zz.json") == {}
    assert state.settled() is not None
    assert _state(tmp_path / "other", {"state.json": b"{}"}).settled() is None
    untrusted = State(state.repo, head=None, tree=state.tree, trusted=False, owner_key=b"k")
    assert untrusted.tree is None and untrusted.owner("x") is None
    assert untrusted.blob_at("owners/aa.json") is None and untrusted.settled() is None


def test_a_new_reconciler_identity_keeps_the_state_but_not_its_owner_hashes(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(1)
    backend = MemoryBackend("local")

    def run() -> None:
        reconciler = Reconciler(str(repo.root), environment(), backends={"local": backend},
                                triggers={"api": Recorder("api")})  # fmt: skip
        outcome = reconcile(reconciler, "HEAD", now=lambda: datetime(2030, 1, 1, tzinfo=UTC))
        assert not outcome.failed, outcome.refused

    run()
    before = git(repo.root, "show", "refs/gitrot/state:state.json")
    key = (repo.root / ".gitrot" / "reconciler.key").read_text()
    # the same age identity file with a second key: the ownership key changes
    extra = str(pyrage.x25519.Identity.generate())
    (repo.root / ".gitrot" / "reconciler.key").write_text(key + extra + "\n")
    repo.rotate(intent_name(0))
    repo.commit("Rotate")
    capsys.readouterr()
    run()
    assert "ownership records were made with another reconciler identity" in (
        capsys.readouterr().err
    )
    assert repo.state()[intent_name(0)]["version"] == 2
    # the state now names the new ownership key, and owns the location under it
    after = git(repo.root, "show", "refs/gitrot/state:state.json")
    assert json.loads(after)["owner_key"] != json.loads(before)["owner_key"]
    assert len(json.loads(after)["owner_key"]) == 16
