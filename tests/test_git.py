"""gitrot.git against real repositories built with pygit2 (backdated, branched, merged)."""

from __future__ import annotations

import random
from pathlib import Path

import pygit2
import pytest

from gitrot.errors import EnvironmentFailure, GitError, UnknownRevisionError
from gitrot.git import history as git_history
from gitrot.git.blobs import spec_version
from gitrot.git.history import VersionChange, last_version_changes
from gitrot.git.process import GitStream, find_git, no_git_env, split_nul
from gitrot.git.repository import (
    commit_time,
    ensure_repo,
    head_commit,
    main_branch,
    open_repo,
    read_blob,
    repo_location,
    resolve,
)
from tests.gitrepo import checkout, commit_files, create_branch, make_repo, merge
from tests.intents import intent_text

DAY = 86400
T0 = 1_700_000_000
DB = "secrets/payments/db.yaml"
API = "secrets/api-key.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> pygit2.Repository:
    return make_repo(tmp_path / "policy")


@pytest.fixture
def history() -> str:
    """The history walk: ``git log --raw`` (git is required; there is no other walk)."""
    assert find_git()
    return "git-log"


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
    assert Path(open_repo(nested).path) == Path(repo.path)
    assert "GIT_DIR" not in no_git_env()
    assert "GIT_INDEX_FILE" not in no_git_env()


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError) as caught:
        open_repo(tmp_path)
    assert caught.value.exit_code == 3
    assert caught.value.render() == f"gitrot: error: not a git repository ({tmp_path})"
    assert str(tmp_path) in caught.value.hint


def test_head_resolve_read_blob_and_times(repo: pygit2.Repository, history: str) -> None:
    with pytest.raises(GitError, match="no commits yet"):
        head_commit(repo)
    assert main_branch(repo) == "refs/heads/main"
    assert last_version_changes(repo) == {}
    first = commit_files(repo, {"a.txt": "one\n"}, message="one", author_time=_at(1))
    second = commit_files(
        repo, {"a.txt": None, "b/c.txt": "c\n"}, message="two", author_time=_at(2)
    )
    head = head_commit(repo)
    assert head.id == second
    assert resolve(repo, "HEAD~1").id == first
    assert resolve(repo, str(first)[:10]).id == first
    assert commit_time(head) == _at(2)
    assert read_blob(head, "b/c.txt") == b"c\n"
    assert read_blob(head, "a.txt") is None
    assert read_blob(head, "b") is None
    assert read_blob(resolve(repo, "main~1"), "a.txt") == b"one\n"
    repo.set_head(second)
    assert main_branch(repo) is None  # detached


@pytest.mark.parametrize("rev", ["nope", "HEAD~5", "HEAD:a.txt", "..", ""])
def test_unknown_revision(repo: pygit2.Repository, rev: str) -> None:
    commit_files(repo, {"a.txt": "one\n"}, message="one", author_time=_at(1))
    with pytest.raises(UnknownRevisionError) as caught:
        resolve(repo, rev)
    assert caught.value.exit_code == 2
    assert repr(rev) in caught.value.message


def test_version_bump_sets_the_clock_and_reason_edits_do_not(
    repo: pygit2.Repository, history: str
) -> None:
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
    changes = last_version_changes(repo)
    assert changes == {
        DB: VersionChange(DB, 2, str(bump), _at(10), "Alice Example <alice@example.com>")
    }


def test_merge_counts_at_the_merge_commit(repo: pygit2.Repository, history: str) -> None:
    commit_files(repo, {DB: intent_text("payments/db", 1)}, message="add", author_time=_at(0))
    create_branch(repo, "rotate-db")
    commit_files(repo, {DB: intent_text("payments/db", 2)}, message="bump", author_time=_at(5))
    checkout(repo, "main")
    commit_files(repo, {"README.md": "x\n"}, message="docs", author_time=_at(6))
    merged = merge(repo, "rotate-db", message="Merge rotate-db", author_time=_at(9))
    change = last_version_changes(repo)[DB]
    assert (change.commit_id, change.time, change.version) == (str(merged), _at(9), 2)
    # the side branch itself, walked on its own first-parent line
    assert last_version_changes(repo, rev="rotate-db")[DB].time == _at(5)


def test_added_in_the_last_commit_and_deleted_files(repo: pygit2.Repository, history: str) -> None:
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
    changes = last_version_changes(repo)
    assert sorted(changes) == ["secrets/new.yaml", DB]
    assert changes["secrets/new.yaml"].commit_id == str(added)
    assert changes[DB].time == _at(0)
    # readded later: the clock starts at the re-add
    readd = commit_files(repo, {API: intent_text("api-key", 2)}, message="back", author_time=_at(3))
    assert last_version_changes(repo)[API].commit_id == str(readd)


def test_rename_keeps_the_clock_unless_the_version_changes(
    repo: pygit2.Repository, history: str
) -> None:
    old = "secrets/payments/old.yaml"
    commit_files(repo, {old: intent_text("payments/old", 4)}, message="add", author_time=_at(0))
    commit_files(
        repo,
        {old: None, DB: intent_text("payments/db", 4)},
        message="rename",
        author_time=_at(5),
    )
    change = last_version_changes(repo)[DB]
    assert (change.path, change.time, change.version) == (old, _at(0), 4)
    bumped = commit_files(
        repo,
        {DB: None, API: intent_text("api-key", 5)},
        message="rename and bump",
        author_time=_at(7),
    )
    change = last_version_changes(repo)[API]
    assert (change.path, change.commit_id) == (API, str(bumped))


def test_other_prefix_and_revisions(repo: pygit2.Repository, history: str) -> None:
    first = commit_files(repo, {DB: intent_text("payments/db", 1)}, message="a", author_time=_at(0))
    commit_files(repo, {DB: intent_text("payments/db", 2)}, message="b", author_time=_at(1))
    assert last_version_changes(repo, rev=str(first))[DB].version == 1
    assert last_version_changes(repo, prefix="elsewhere/") == {}
    everything = last_version_changes(repo, prefix="")
    assert everything[DB].time == _at(1)


def test_unusual_paths_and_a_hook_environment(
    repo: pygit2.Repository, history: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd = "secrets/t\u00e9am one/:colon\tand tab.yaml"
    commit_files(repo, {odd: intent_text("x", 1)}, message="add", author_time=_at(0))
    bump = commit_files(
        repo, {odd: intent_text("x", 2)}, message="bump", author_time=_at(1),
        author=("Ren\u00e9 \u00e0 x", "r@example.com"),
    )  # fmt: skip
    other = make_repo(tmp_path / "other")
    commit_files(other, {"secrets/x.yaml": intent_text("x", 1)}, message="x", author_time=_at(2))
    monkeypatch.setenv("GIT_DIR", other.path)
    monkeypatch.setenv("GIT_WORK_TREE", other.workdir)
    repo.config["core.worktree"] = repo.workdir  # as in a submodule: cwd sets the prefix
    repo.config["diff.relative"] = True
    monkeypatch.chdir(Path(repo.workdir) / "secrets")
    change = VersionChange(odd, 2, str(bump), _at(1), "Ren\u00e9 \u00e0 x <r@example.com>")
    assert last_version_changes(repo) == {odd: change}
    top = commit_files(repo, {":x.yaml": intent_text("x", 1)}, message="x", author_time=_at(3))
    assert last_version_changes(repo, prefix="") == {
        odd: change,
        ":x.yaml": VersionChange(
            ":x.yaml", 1, str(top), _at(3), "Alice Example <alice@example.com>"
        ),
    }


def _secret(name: str) -> str:
    return f"secrets/{name}.yaml"


def _random_history(repo: pygit2.Repository, seed: int, *, copies: bool = False) -> dict[str, int]:
    """30 random commits on ``main``; the intents' versions at the end, by name.

    Bumps, reason edits, deletes, re-adds, renames (with and without a bump) and merges of
    side branches (whose merge commit then holds several of these at once); with ``copies``,
    also renames with a copy (two added intents that could each be the renamed one).
    """
    rng = random.Random(seed)
    names = [f"team-{n % 3}/s{n}" for n in range(8)]
    versions: dict[str, int] = {}
    day = 0

    def step() -> dict[str, str | None]:
        present = sorted(versions)
        absent = [name for name in names if name not in versions]
        roll = rng.random()
        if not present or (absent and roll < 0.15):
            name = rng.choice(absent)
            versions[name] = rng.randint(1, 3)
            return {_secret(name): intent_text(name, versions[name])}
        name = rng.choice(present)
        if roll < 0.5:
            versions[name] += 1
            return {_secret(name): intent_text(name, versions[name])}
        if roll < 0.7:
            reason = f"reworded {rng.random()}"
            return {_secret(name): intent_text(name, versions[name], reason=reason)}
        if roll < 0.8 or not absent:
            del versions[name]
            return {_secret(name): None}
        new = rng.choice(absent)
        versions[new] = versions.pop(name) + (rng.random() < 0.5)
        files: dict[str, str | None] = {
            _secret(name): None,
            _secret(new): intent_text(new, versions[new]),
        }
        if copies and len(absent) > 1 and rng.random() < 0.5:
            copy = rng.choice([other for other in absent if other != new])
            versions[copy] = versions[new]
            files[_secret(copy)] = intent_text(copy, versions[copy])
        return files

    for _ in range(30):
        day += 1
        if rng.random() < 0.2 and not repo.head_is_unborn:
            create_branch(repo, "side")
            saved = dict(versions)
            for _ in range(rng.randint(1, 3)):
                day += 1
                commit_files(repo, step(), message="side", author_time=_at(day))
            side_versions, versions = versions, saved
            checkout(repo, "main")
            if rng.random() < 0.5:
                commit_files(repo, {"README.md": f"{day}\n"}, message="doc", author_time=_at(day))
            versions = side_versions  # the merge takes the side branch's secrets/ wholesale
            tree = repo.revparse_single("side").peel(pygit2.Commit).tree
            repo.checkout_tree(tree, strategy=pygit2.enums.CheckoutStrategy.FORCE)
            repo.index.read_tree(tree)
            repo.index.write()
            merged_tree = repo.index.write_tree()
            signature = pygit2.Signature("M", "m@example.com", _at(day), 0)
            other = repo.branches.local["side"].target
            repo.create_commit(
                "HEAD", signature, signature, "merge", merged_tree, [repo.head.target, other]
            )
            repo.branches.local.delete("side")
        else:
            commit_files(repo, step(), message="main", author_time=_at(day))
    return versions


@pytest.mark.parametrize(
    ("seed", "copies"), [(seed, False) for seed in range(6)] + [(seed, True) for seed in range(6)]
)
def test_the_walk_answers_random_histories(
    repo: pygit2.Repository, seed: int, copies: bool
) -> None:
    versions = _random_history(repo, seed, copies=copies)
    with_git = last_version_changes(repo)
    assert sorted(with_git) == sorted(_secret(name) for name in versions)
    assert all(change.version == versions[key[8:-5]] for key, change in with_git.items())


@pytest.mark.parametrize("seed", range(8))
def test_asking_for_some_intents_answers_as_the_whole_walk_does(
    repo: pygit2.Repository, seed: int, history: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each walk, limited to some paths, gives the unlimited answer filtered to them.

    git log runs both ways: with one pathspec per path (restarted after each rename it
    follows), and over the whole prefix when more paths are asked for than it takes.
    """
    _random_history(repo, seed, copies=True)
    rng = random.Random(seed)
    everything = last_version_changes(repo)
    present = sorted(everything)
    asked = [[path] for path in present] + [
        rng.sample(present, rng.randint(0, len(present))) for _ in range(4)
    ]
    asked += [["secrets/missing.yaml", "README.md", "secrets/x.sealed.yaml", *present[:1]]]
    for paths in asked:
        expected = {path: everything[path] for path in paths if path in everything}
        assert last_version_changes(repo, paths=paths) == expected
        if history == "git-log":
            with monkeypatch.context() as patch:
                patch.setattr(git_history, "_MAX_PATHSPECS", 0)
                assert last_version_changes(repo, paths=paths) == expected


def test_a_copy_leaves_the_rename_to_the_first_in_path_order(
    repo: pygit2.Repository, history: str
) -> None:
    """Two added intents whose texts equal a deleted one's but for the names: the first
    in path order is the rename (keeps the clock), the other is new; asked alone, each
    gets the same answer."""
    old, first, second = "secrets/x.yaml", "secrets/a.yaml", "secrets/b.yaml"
    added = commit_files(repo, {old: intent_text("x", 3)}, message="x", author_time=_at(0))
    copied = commit_files(
        repo,
        {old: None, second: intent_text("b", 3), first: intent_text("a", 3)},
        message="rename and copy",
        author_time=_at(1),
    )
    everything = last_version_changes(repo)
    assert (everything[first].path, everything[first].commit_id) == (old, str(added))
    assert (everything[second].path, everything[second].commit_id) == (second, str(copied))
    for path in (first, second):
        assert last_version_changes(repo, paths=[path]) == {path: everything[path]}


def test_asking_for_a_renamed_intent_follows_it_with_a_new_git_log(
    repo: pygit2.Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git log lists the paths asked for alone; at a rename it starts again from the
    rename's parent with the older path."""
    old = "secrets/payments/old.yaml"
    bump = commit_files(
        repo, {old: intent_text("payments/old", 4)}, message="a", author_time=_at(0)
    )
    renamed = commit_files(
        repo, {old: None, DB: intent_text("payments/db", 4)}, message="mv", author_time=_at(1)
    )
    commit_files(repo, {API: intent_text("api-key", 1)}, message="api", author_time=_at(2))
    started: list[list[str]] = []

    class Recorded(GitStream):
        def __init__(self, args: list[str], *, git_dir: str, where: str) -> None:
            started.append(args)
            super().__init__(args, git_dir=git_dir, where=where)

    monkeypatch.setattr(git_history, "GitStream", Recorded)
    change = last_version_changes(repo, paths=[DB, "secrets/none.yaml"])
    assert (change[DB].path, change[DB].commit_id) == (old, str(bump))
    assert [(args[-3], args[-1]) for args in started] == [
        (str(repo.head.target), f":(top,literal){DB}"),
        (str(repo[renamed].parent_ids[0]), f":(top,literal){old}"),
    ]


def test_a_failing_git_is_a_git_error(
    repo: pygit2.Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit_files(repo, {DB: intent_text("payments/db", 1)}, message="a", author_time=_at(0))
    where = repo_location(repo)
    with (
        pytest.raises(GitError) as caught,
        GitStream(["log", "--no-such-option"], git_dir=repo.path, where=where) as process,
    ):
        assert b"".join(process.chunks()) == b""
    assert caught.value.exit_code == 3
    assert caught.value.message.startswith("git log --no-such-option failed with exit code 128: ")
    assert "--no-such-option" in caught.value.message.split(": ", 1)[1]
    # leaving early kills git, and is no error
    with GitStream(["log", "--format=%H", "--", "."], git_dir=repo.path, where=where) as process:
        next(process.chunks())
    assert process.process.returncode is not None
    assert not process.thread.is_alive()
    monkeypatch.setattr("shutil.which", lambda *_args, **_kw: str(Path(where) / "no-git"))
    with pytest.raises(GitError, match="cannot run git log"):
        GitStream(["log"], git_dir=repo.path, where=where)


def test_tokens_across_chunks() -> None:
    pieces = [b"a\0b", b"c\0", b"\0d", b"\0e"]
    assert list(split_nul(iter(pieces))) == [b"a", b"bc", b"", b"d", b"e"]


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
    assert spec_version(text.encode()) == version


def test_ensure_repo(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert ensure_repo(fresh) is True
    assert main_branch(open_repo(fresh)) == "refs/heads/main"
    assert ensure_repo(fresh) is False
    (fresh / "sub").mkdir()
    assert ensure_repo(fresh / "sub") is False  # inside a work tree: no nested repository


def test_without_git_the_history_is_an_environment_failure(
    repo: pygit2.Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git is required (pre-commit requires it too): no silent, slower fallback."""
    commit_files(repo, {DB: intent_text("payments/db", 1)}, message="db", author_time=_at(1))
    monkeypatch.setattr("shutil.which", lambda *_args, **_kw: None)
    with pytest.raises(EnvironmentFailure) as caught:
        last_version_changes(repo)
    assert caught.value.exit_code == 3
    assert caught.value.render().startswith("gitrot: error: git is required")
    assert "install git" in caught.value.hint
