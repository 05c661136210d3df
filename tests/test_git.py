"""gitrot.git against real repositories built with pygit2 (backdated, branched, merged)."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from gitrot import git
from gitrot.errors import GitError, UnknownRevisionError
from tests.gitrepo import checkout, commit_files, create_branch, make_repo, merge
from tests.intents import intent_text

DAY = 86400
T0 = 1_700_000_000
DB = "secrets/payments/db.yaml"
API = "secrets/api-key.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> pygit2.Repository:
    return make_repo(tmp_path / "policy")


def _at(day: int) -> int:
    return T0 + day * DAY


def test_open_repo_discovers_upwards_and_ignores_git_dir(
    repo: pygit2.Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = make_repo(tmp_path / "other")
    monkeypatch.setenv("GIT_DIR", other.path)
    monkeypatch.setenv("GIT_INDEX_FILE", str(Path(other.path) / "index"))
    nested = Path(repo.workdir) / "secrets" / "deep"
    nested.mkdir(parents=True)
    assert Path(git.open_repo(nested).path) == Path(repo.path)
    assert "GIT_DIR" not in git.no_git_env()
    assert "GIT_INDEX_FILE" not in git.no_git_env()


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError) as caught:
        git.open_repo(tmp_path)
    assert caught.value.exit_code == 3
    assert caught.value.render() == f"gitrot: error: not a git repository ({tmp_path})"
    assert str(tmp_path) in caught.value.hint


def test_head_resolve_read_blob_and_times(repo: pygit2.Repository) -> None:
    with pytest.raises(GitError, match="no commits yet"):
        git.head_commit(repo)
    assert git.main_branch(repo) == "refs/heads/main"
    assert git.last_version_changes(repo) == {}
    first = commit_files(repo, {"a.txt": "one\n"}, message="one", author_time=_at(1))
    second = commit_files(
        repo, {"a.txt": None, "b/c.txt": "c\n"}, message="two", author_time=_at(2)
    )
    head = git.head_commit(repo)
    assert head.id == second
    assert git.resolve(repo, "HEAD~1").id == first
    assert git.resolve(repo, str(first)[:10]).id == first
    assert git.commit_time(head) == _at(2)
    assert git.read_blob(head, "b/c.txt") == b"c\n"
    assert git.read_blob(head, "a.txt") is None
    assert git.read_blob(head, "b") is None
    assert git.read_blob(git.resolve(repo, "main~1"), "a.txt") == b"one\n"
    repo.set_head(second)
    assert git.main_branch(repo) is None  # detached


@pytest.mark.parametrize("rev", ["nope", "HEAD~5", "HEAD:a.txt", "..", ""])
def test_unknown_revision(repo: pygit2.Repository, rev: str) -> None:
    commit_files(repo, {"a.txt": "one\n"}, message="one", author_time=_at(1))
    with pytest.raises(UnknownRevisionError) as caught:
        git.resolve(repo, rev)
    assert caught.value.exit_code == 2
    assert repr(rev) in caught.value.message


def test_version_bump_sets_the_clock_and_reason_edits_do_not(repo: pygit2.Repository) -> None:
    commit_files(repo, {DB: intent_text("payments/db", 1)}, message="add", author_time=_at(0))
    bump = commit_files(
        repo, {DB: intent_text("payments/db", 2)}, message="rotate", author_time=_at(10)
    )
    commit_files(
        repo,
        {DB: intent_text("payments/db", 2, reason="typo fixed"), "README.md": "hi\n"},
        message="reason only",
        author_time=_at(20),
    )
    commit_files(repo, {"README.md": "hello\n"}, message="docs", author_time=_at(30))
    changes = git.last_version_changes(repo)
    assert changes == {
        DB: git.VersionChange(DB, 2, str(bump), _at(10), "Alice Example <alice@example.com>")
    }


def test_merge_counts_at_the_merge_commit(repo: pygit2.Repository) -> None:
    commit_files(repo, {DB: intent_text("payments/db", 1)}, message="add", author_time=_at(0))
    create_branch(repo, "rotate-db")
    commit_files(repo, {DB: intent_text("payments/db", 2)}, message="bump", author_time=_at(5))
    checkout(repo, "main")
    commit_files(repo, {"README.md": "x\n"}, message="docs", author_time=_at(6))
    merged = merge(repo, "rotate-db", message="Merge rotate-db", author_time=_at(9))
    change = git.last_version_changes(repo)[DB]
    assert (change.commit_id, change.time, change.version) == (str(merged), _at(9), 2)
    # the side branch itself, walked on its own first-parent line
    assert git.last_version_changes(repo, rev="rotate-db")[DB].time == _at(5)


def test_added_in_the_last_commit_and_deleted_files(repo: pygit2.Repository) -> None:
    commit_files(
        repo,
        {DB: intent_text("payments/db", 3), API: intent_text("api-key", 1)},
        message="add",
        author_time=_at(0),
    )
    commit_files(repo, {API: None}, message="drop api key", author_time=_at(1))
    added = commit_files(
        repo,
        {
            "secrets/new.yaml": intent_text("new", 1),
            "secrets/payments/db.v4.sealed.yaml": "sealed: true\n",
            "secrets/notes.txt": "not an intent\n",
        },
        message="new",
        author_time=_at(2),
    )
    changes = git.last_version_changes(repo)
    assert sorted(changes) == ["secrets/new.yaml", DB]
    assert changes["secrets/new.yaml"].commit_id == str(added)
    assert changes[DB].time == _at(0)
    # readded later: the clock starts at the re-add
    readd = commit_files(repo, {API: intent_text("api-key", 2)}, message="back", author_time=_at(3))
    assert git.last_version_changes(repo)[API].commit_id == str(readd)


def test_rename_keeps_the_clock_unless_the_version_changes(repo: pygit2.Repository) -> None:
    old = "secrets/payments/old.yaml"
    commit_files(repo, {old: intent_text("payments/old", 4)}, message="add", author_time=_at(0))
    commit_files(
        repo,
        {old: None, DB: intent_text("payments/db", 4)},
        message="rename",
        author_time=_at(5),
    )
    change = git.last_version_changes(repo)[DB]
    assert (change.path, change.time, change.version) == (old, _at(0), 4)
    bumped = commit_files(
        repo,
        {DB: None, API: intent_text("api-key", 5)},
        message="rename and bump",
        author_time=_at(7),
    )
    change = git.last_version_changes(repo)[API]
    assert (change.path, change.commit_id) == (API, str(bumped))


def test_other_prefix_and_revisions(repo: pygit2.Repository) -> None:
    first = commit_files(repo, {DB: intent_text("payments/db", 1)}, message="a", author_time=_at(0))
    commit_files(repo, {DB: intent_text("payments/db", 2)}, message="b", author_time=_at(1))
    assert git.last_version_changes(repo, rev=str(first))[DB].version == 1
    assert git.last_version_changes(repo, prefix="elsewhere/") == {}
    everything = git.last_version_changes(repo, prefix="")
    assert everything[DB].time == _at(1)


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("spec:\n  version: 7\n", 7),
        (
            "a: 1\nspec:  # the spec\n    reason: x\n    version: 12 # bumped\nsops:\n  version: 3\n",
            12,
        ),
        ("spec:\n  nested:\n    version: 3\n  version: 4\n", 4),
        ("spec: {version: 5}\n", 5),
        ("spec:\n  version: '6'\n", None),
        ("spec:\n  version: 010\n", 8),
        ("spec:\n  reason: none\n", None),
        ("kind: x\n", None),
        ("spec:\n  version: [\n", None),
        ("spec:\n  version: 1\n---\nspec:\n  version: 2\n", 1),
        ('{"spec": {"version": 9}}', 9),
    ],
)
def test_spec_version(text: str, version: int | None) -> None:
    assert git.spec_version(text.encode()) == version


def test_ensure_repo(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert git.ensure_repo(fresh) is True
    assert git.main_branch(git.open_repo(fresh)) == "refs/heads/main"
    assert git.ensure_repo(fresh) is False
    (fresh / "sub").mkdir()
    assert git.ensure_repo(fresh / "sub") is False  # inside a work tree: no nested repository
