"""gitrot.git.state's records against real repositories: notes, the state tree and commits,
fetching what the remote has, a lost push race, and damaged or locked refs as one GitError
(docs/architecture.md, "The note")."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from gitrot.errors import GitError
from gitrot.git import state
from tests.gitrepo import AUTHOR, commit_files, make_repo


@pytest.fixture
def repo(tmp_path: Path) -> pygit2.Repository:
    made = make_repo(tmp_path / "policy")
    commit_files(made, {"secrets/a.yaml": "a\n"}, message="a", author_time=1_700_000_000)
    return made


def _head(repo: pygit2.Repository) -> str:
    return str(repo.head.target)


def _damage(repo: pygit2.Repository, ref: str) -> None:
    path = Path(repo.path) / ref
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not an object id\n")


def test_a_note_is_written_replaced_and_read(repo: pygit2.Repository) -> None:
    head = _head(repo)
    assert state.read_note(repo, head) is None
    state.write_note(repo, head, '{"run": 1}\n', who=AUTHOR)
    assert state.read_note(repo, head) == '{"run": 1}\n'
    state.write_note(repo, head, '{"run": 2}\n', who=AUTHOR)
    assert state.read_note(repo, head) == '{"run": 2}\n'
    notes = repo.lookup_reference(state.NOTES_REF).peel(pygit2.Commit)
    assert notes.author.name == AUTHOR[0] and notes.author.email == AUTHOR[1]


def test_a_held_notes_lock_is_one_git_error_naming_the_lock(repo: pygit2.Repository) -> None:
    lock = Path(repo.path) / "refs" / "notes" / "gitrot.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")
    with pytest.raises(GitError) as caught:
        state.write_note(repo, _head(repo), "{}\n", who=AUTHOR)
    error = caught.value
    assert error.message.startswith("cannot write the note: failed to lock file ")
    assert str(lock) in error.message and not error.message.endswith(":")
    assert "remove the .lock file" in error.hint and error.exit_code == 3
    assert error.where == repo.workdir.rstrip("/")
    lock.unlink()
    assert state.read_note(repo, _head(repo)) is None  # nothing half-written


@pytest.mark.parametrize("ref", [state.STATE_REF, state.RECONCILED_REF])
def test_a_damaged_ref_is_a_git_error_never_taken_for_absent(
    repo: pygit2.Repository, ref: str
) -> None:
    _damage(repo, ref)
    read = state.state_head if ref == state.STATE_REF else state.reconciled
    for call in (lambda: read(repo), lambda: state.push(repo, "unused-remote", {})):
        with pytest.raises(GitError) as caught:
            call()
        assert not isinstance(caught.value, state.LostRace)
        assert (
            caught.value.message
            == f"cannot read {ref}: {ref}: corrupted loose reference file: {ref}"
        )
        assert "git fsck" in caught.value.hint and f"+{ref}:{ref}" in caught.value.hint
        assert caught.value.exit_code == 3


def test_damaged_notes_are_a_git_error(repo: pygit2.Repository) -> None:
    head = _head(repo)
    _damage(repo, state.NOTES_REF)
    with pytest.raises(GitError) as caught:
        state.read_note(repo, head)
    assert caught.value.message.startswith(f"cannot read the gitrot note of {head}: ")
    assert state.NOTES_REF in caught.value.hint
    # a notes ref naming an object the repository does not have
    (Path(repo.path) / state.NOTES_REF).write_text("1" * 40 + "\n")
    with pytest.raises(GitError, match="cannot read the gitrot note"):
        state.read_note(repo, head)


def test_update_tree_rewrites_only_the_changed_paths(repo: pygit2.Repository) -> None:
    one, two = state.write_blob(repo, b"one\n"), state.write_blob(repo, b"two\n")
    assert state.read_object(repo, one) == b"one\n"
    first = state.update_tree(repo, None, {"a/x.json": one, "b/c/y.json": two, "top": one})
    assert first is not None
    tree = repo[first]
    assert sorted(entry.name for entry in tree) == ["a", "b", "top"]  # type: ignore[attr-defined]
    # changing a/x.json keeps b's subtree object as it was
    second = state.update_tree(repo, tree, {"a/x.json": two})  # type: ignore[arg-type]
    assert second is not None
    changed = repo[second]
    assert changed["b"].id == tree["b"].id  # type: ignore[index]
    assert changed["a"].id != tree["a"].id  # type: ignore[index]
    assert repo[changed["a/x.json"].id].data == b"two\n"  # type: ignore[index, attr-defined]
    # removing a folder's last file removes the folder; a missing path is no change
    third = state.update_tree(
        repo, changed, {"b/c/y.json": None, "gone": None, "a/z": None, "no/such": None}
    )  # type: ignore[arg-type]
    assert third is not None
    assert sorted(entry.name for entry in repo[third]) == ["a", "top"]  # type: ignore[attr-defined]
    # a file replaced by a folder of the same name
    fourth = state.update_tree(repo, repo[third], {"top/inner.json": one})  # type: ignore[arg-type]
    assert repo[fourth]["top"].type_str == "tree"  # type: ignore[index]
    # everything removed: an empty tree is None
    assert state.update_tree(repo, repo[third], {"a/x.json": None, "top": None}) is None  # type: ignore[arg-type]


def test_state_commits_chain_and_move_by_compare_and_swap(repo: pygit2.Repository) -> None:
    tree = state.update_tree(repo, None, {"s.json": state.write_blob(repo, b"{}\n")})
    assert tree is not None and state.state_head(repo) is None
    first = state.commit_state(repo, tree, None, "first\n", AUTHOR, None)
    state.move_state(repo, first, None)
    second = state.commit_state(repo, tree, first, "second\n", AUTHOR, None)
    assert [str(p) for p in repo[second].parent_ids] == [first]  # type: ignore[attr-defined]
    with pytest.raises(state.LostRace, match="refs/gitrot/state moved while reconciling"):
        state.move_state(repo, second, None)  # someone moved it from absent first
    state.move_state(repo, second, first)
    assert state.state_head(repo) == second


def test_a_state_commit_on_a_missing_tree_is_one_git_error(repo: pygit2.Repository) -> None:
    with pytest.raises(GitError) as caught:
        state.commit_state(repo, "1" * 40, None, "m\n", AUTHOR, None)
    assert caught.value.message == (
        f"cannot write the state commit: object not found - no match for id ({'1' * 40})"
    )
    assert caught.value.where == repo.workdir.rstrip("/")


def test_fetch_brings_the_refs_the_remote_has_and_leaves_the_rest(
    repo: pygit2.Repository, tmp_path: Path
) -> None:
    remote = pygit2.init_repository(str(tmp_path / "remote.git"), bare=True)
    head = _head(repo)
    state.advance(repo, head, None)
    state.push(repo, remote.path, {})  # the remote has refs/gitrot/reconciled only
    clone = make_repo(tmp_path / "clone")
    commit_files(clone, {"x": "x\n"}, message="x", author_time=1_700_000_100)
    local_state = state.commit_state(
        clone, str(clone.head.peel(pygit2.Commit).tree.id), None, "s\n", AUTHOR, None
    )
    state.move_state(clone, local_state, None)
    state.fetch(clone, remote.path)
    assert state.reconciled(clone) == head
    assert state.state_head(clone) == local_state  # absent on the remote: left alone
    assert state.remote_refs(clone, remote.path) == {state.RECONCILED_REF: head}
    # once the remote has all three, one fetch replaces all three
    state.write_note(clone, head, "{}\n", who=AUTHOR)
    state.push(clone, remote.path, state.remote_refs(clone, remote.path))
    state.fetch(repo, remote.path)
    assert state.state_head(repo) == local_state and state.read_note(repo, head) == "{}\n"


def test_a_push_after_another_reconciler_pushed_is_a_lost_race(
    repo: pygit2.Repository, tmp_path: Path
) -> None:
    remote = pygit2.init_repository(str(tmp_path / "remote.git"), bare=True)
    head = _head(repo)
    state.advance(repo, head, None)
    state.push(repo, remote.path, {})
    seen = state.remote_refs(repo, remote.path)
    # another reconciler moves the remote's ref on
    other = commit_files(repo, {"secrets/b.yaml": "b\n"}, message="b", author_time=1_700_000_200)
    state.advance(repo, str(other), head)
    state.push(repo, remote.path, seen)
    # this one still expects the first id
    later = commit_files(repo, {"secrets/c.yaml": "c\n"}, message="c", author_time=1_700_000_300)
    state.advance(repo, str(later), str(other))
    with pytest.raises(state.LostRace) as lost:
        state.push(repo, remote.path, seen)
    assert lost.value.message == f"another reconciler pushed to {remote.path} first"
    assert lost.value.exit_code == 3
    assert state.remote_refs(repo, remote.path) == {state.RECONCILED_REF: str(other)}
