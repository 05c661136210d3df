"""gitrot.git.change against real repositories: the files and commits of a pull request."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pygit2
import pytest

from gitrot.errors import GitError, InputError, UnknownRevisionError
from gitrot.git.change import Change, ChangedFile, open_change
from gitrot.git.process import no_git_env
from gitrot.git.repository import main_branch
from tests.gitrepo import AUTHOR, checkout, commit_files, create_branch, make_repo, merge

T0 = 1_700_000_000
DB = "secrets/payments/db.yaml"
API = "secrets/api-key.yaml"
LONG = "".join(f"line {n}: some text that stays the same\n" for n in range(40))


@pytest.fixture
def repo(tmp_path: Path) -> pygit2.Repository:
    return make_repo(tmp_path / "policy")


def _at(day: int) -> int:
    return T0 + day * 86400


def _blob(repo: pygit2.Repository, rev: str, path: str) -> str:
    return str(repo.revparse_single(rev).peel(pygit2.Commit).tree[path].id)


def _statuses(change: Change) -> list[tuple[str, str, str | None]]:
    return [(file.path, file.status, file.old_path) for file in change.files]


def test_added_modified_deleted_and_renamed(repo: pygit2.Repository) -> None:
    commit_files(
        repo,
        {DB: "version: 1\n", API: "key: 1\n", "docs/a.md": LONG, "docs/b.md": "b\n"},
        message="start",
        author_time=_at(0),
    )
    create_branch(repo, "pr")
    commit_files(
        repo,
        {
            DB: "version: 2\n",  # modified
            API: None,  # deleted
            "secrets/new.yaml": "version: 1\n",  # added
            "docs/a.md": None,
            "docs/renamed.md": LONG + "one more line\n",  # a similar rename
            "docs/b.md": None,
            "docs/moved/b.md": "b\n",  # an exact rename
        },
        message="change",
        author_time=_at(1),
    )
    change = open_change(repo.workdir, "main", "pr")
    assert _statuses(change) == [
        ("docs/moved/b.md", "renamed", "docs/b.md"),
        ("docs/renamed.md", "renamed", "docs/a.md"),
        (API, "deleted", None),
        ("secrets/new.yaml", "added", None),
        (DB, "modified", None),
    ]
    by_path = {file.path: file for file in change.files}
    assert by_path[DB] == ChangedFile(
        DB, "modified",
        old_id=_blob(repo, "main", DB), new_id=_blob(repo, "pr", DB),
        old_mode=0o100644, new_mode=0o100644, old_size=11, new_size=11,
    )  # fmt: skip
    deleted = by_path[API]
    assert (deleted.old_id, deleted.new_id, deleted.new_mode, deleted.new_size) == (
        _blob(repo, "main", API), None, None, None,
    )  # fmt: skip
    added = by_path["secrets/new.yaml"]
    assert (added.old_id, added.old_mode, added.new_size) == (None, None, 11)
    assert by_path["docs/renamed.md"].new_size == len(LONG) + 14
    assert by_path["docs/moved/b.md"].old_id == by_path["docs/moved/b.md"].new_id
    assert (
        repr(by_path["docs/moved/b.md"])
        == "ChangedFile('docs/moved/b.md' renamed from 'docs/b.md')"
    )
    assert change.read_old(DB) == b"version: 1\n"
    assert change.read_new(DB) == b"version: 2\n"
    assert change.read_new(API) is None
    assert change.read_old("secrets/new.yaml") is None
    assert change.read_new("secrets") is None  # a folder
    assert change.read_new("../outside.txt") is None
    assert change.read_new("") is None


def test_a_rewrite_is_no_rename_and_a_mode_change_modifies(repo: pygit2.Repository) -> None:
    commit_files(repo, {"a.txt": LONG, "run.sh": "echo\n"}, message="one", author_time=_at(0))
    create_branch(repo, "pr")
    commit_files(
        repo, {"a.txt": None, "b.txt": "nothing alike\n"}, message="two", author_time=_at(1)
    )
    os.chmod(Path(repo.workdir) / "run.sh", 0o744)  # the owner may run it: git records 100755
    repo.index.add("run.sh")
    commit_files(repo, {}, message="exec", author_time=_at(2))
    change = open_change(repo.workdir, "main", "pr")
    assert _statuses(change) == [
        ("a.txt", "deleted", None),
        ("b.txt", "added", None),
        ("run.sh", "modified", None),
    ]
    run = change.files[2]
    assert (run.old_mode, run.new_mode, run.old_id == run.new_id) == (0o100644, 0o100755, True)


def test_symlinks_are_files_and_submodules_are_left_out(repo: pygit2.Repository) -> None:
    commit_files(repo, {"a.txt": "a\n", "sub.txt": "s\n"}, message="one", author_time=_at(0))
    create_branch(repo, "pr")
    link = repo.create_blob(b"a.txt")
    some_commit = repo.head.target
    repo.index.add(pygit2.IndexEntry("link", link, pygit2.enums.FileMode.LINK))
    repo.index.add(pygit2.IndexEntry("vendor/lib", some_commit, pygit2.enums.FileMode.COMMIT))
    repo.index.remove("sub.txt")
    repo.index.add(pygit2.IndexEntry("sub.txt", some_commit, pygit2.enums.FileMode.COMMIT))
    repo.index.write()
    signature = pygit2.Signature(*AUTHOR, _at(1), 0)
    repo.create_commit(
        "HEAD", signature, signature, "links", repo.index.write_tree(), [repo.head.target]
    )
    change = open_change(repo.path, "main", "pr")
    assert _statuses(change) == [("link", "added", None), ("sub.txt", "deleted", None)]
    assert change.files[0].new_mode == 0o120000
    with pytest.raises(InputError, match="symbolic link"):  # its blob is a path, not a file
        change.read_new("link")
    assert change.new_tree_paths("") == ["a.txt", "link"]


def test_a_merge_from_main_and_a_base_that_moved_on(repo: pygit2.Repository) -> None:
    """base..head three-dot: what main did (before or after the merge into the PR) is not
    the change; the commits are those of the PR branch, its merge commit included."""
    start = commit_files(
        repo, {DB: "v1\n", API: "v1\n", "README.md": "r1\n"}, message="start", author_time=_at(0)
    )
    create_branch(repo, "pr")
    first = commit_files(repo, {DB: "v2\n"}, message="Bump db\n\nBecause.\n", author_time=_at(1))
    checkout(repo, "main")
    on_main = commit_files(repo, {API: "v2\n"}, message="api on main", author_time=_at(2))
    checkout(repo, "pr")
    merged = merge(repo, "main", message="Merge main into pr", author_time=_at(3))
    last = commit_files(repo, {"secrets/new.yaml": "v1\n"}, message="add", author_time=_at(4))
    checkout(repo, "main")
    later = commit_files(repo, {"README.md": "r2\n"}, message="readme", author_time=_at(5))

    change = open_change(repo.workdir, "main", "pr")
    assert (change.base.id, change.head.id, change.merge_base.id) == (later, last, on_main)
    assert _statuses(change) == [("secrets/new.yaml", "added", None), (DB, "modified", None)]
    assert [commit.id for commit in change.commits] == [str(last), str(merged), str(first)]
    assert [commit.parent_count for commit in change.commits] == [1, 2, 1]
    bump = change.commits[2]
    assert (bump.message, bump.author_name, bump.author_email) == (
        "Bump db\n\nBecause.\n", *AUTHOR,
    )  # fmt: skip
    assert (bump.author_time, bump.committer_time) == (_at(1), _at(1))
    assert repr(bump) == f"CommitInfo({str(first)[:12]} 'Bump db')"
    assert change.read_old(API) == b"v2\n"  # the merge base has main's change
    assert (change.read_old("README.md"), change.read_base("README.md")) == (b"r1\n", b"r2\n")
    assert change.commits is change.commits  # read once

    # the other way round: main's side of the fork
    back = open_change(repo.workdir, "pr", "main")
    assert back.merge_base.id == on_main
    assert _statuses(back) == [("README.md", "modified", None)]
    assert [commit.id for commit in back.commits] == [str(later)]
    # nothing to change: head is already in base
    same = open_change(repo.workdir, "main", str(start))
    assert (same.files, same.commits, same.merge_base.id) == ([], [], start)


def test_detached_head_and_a_bare_clone(repo: pygit2.Repository, tmp_path: Path) -> None:
    commit_files(repo, {DB: "v1\n"}, message="start", author_time=_at(0))
    create_branch(repo, "pr")
    tip = commit_files(repo, {DB: "v2\n"}, message="bump", author_time=_at(1))
    repo.set_head(tip)  # detached, as in a CI checkout of a pull request
    assert main_branch(repo) is None
    change = open_change(repo.workdir, "main")
    assert (change.head.id, _statuses(change)) == (tip, [(DB, "modified", None)])

    bare = pygit2.clone_repository(repo.workdir, str(tmp_path / "bare.git"), bare=True)
    assert bare.is_bare
    change = open_change(tmp_path / "bare.git", "origin/main", "origin/pr")
    assert change.prefix == ""
    assert _statuses(change) == [(DB, "modified", None)]
    assert change.read_new(DB) == b"v2\n"
    assert [commit.message for commit in change.commits] == ["bump"]
    assert change.new_tree_paths("secrets") == [DB]


@pytest.mark.parametrize("rev", ["nope", "main~5", "main:secrets", ""])
def test_unknown_revision_is_an_input_error(repo: pygit2.Repository, rev: str) -> None:
    commit_files(repo, {DB: "v1\n"}, message="start", author_time=_at(0))
    for base, head in ((rev, "HEAD"), ("main", rev)):
        with pytest.raises(UnknownRevisionError) as caught:
            open_change(repo.workdir, base, head)
        assert caught.value.exit_code == 2
        assert repr(rev) in caught.value.message


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError) as caught:
        open_change(tmp_path, "main")
    assert caught.value.exit_code == 3


def test_no_common_history(repo: pygit2.Repository) -> None:
    commit_files(repo, {DB: "v1\n"}, message="start", author_time=_at(0))
    signature = pygit2.Signature(*AUTHOR, _at(1), 0)
    tree = repo.head.peel(pygit2.Commit).tree_id
    repo.create_commit("refs/heads/orphan", signature, signature, "orphan", tree, [])
    with pytest.raises(InputError) as caught:
        open_change(repo.workdir, "main", "orphan")
    assert caught.value.exit_code == 2
    assert caught.value.message == "'main' and 'orphan' share no history"
    assert "--base" in caught.value.hint


def test_a_shallow_clone_without_the_merge_base_says_to_fetch_the_history(
    repo: pygit2.Repository, tmp_path: Path
) -> None:
    commit_files(repo, {DB: "v1\n"}, message="start", author_time=_at(0))
    create_branch(repo, "pr")
    commit_files(repo, {DB: "v2\n"}, message="pr", author_time=_at(1))
    checkout(repo, "main")
    commit_files(repo, {"a.txt": "a\n"}, message="main", author_time=_at(2))
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--no-single-branch", f"file://{repo.workdir}",
         str(clone)],
        check=True, env=no_git_env(), capture_output=True,
    )  # fmt: skip
    with pytest.raises(InputError) as caught:
        open_change(clone, "origin/main", "origin/pr")
    assert caught.value.message == "'origin/main' and 'origin/pr' share no history"
    assert "shallow clone" in caught.value.hint
    assert "fetch-depth: 0" in caught.value.hint


def test_too_many_commits(repo: pygit2.Repository) -> None:
    commit_files(repo, {"a.txt": "0\n"}, message="start", author_time=_at(0))
    create_branch(repo, "pr")
    for day in range(1, 5):
        commit_files(repo, {"a.txt": f"{day}\n"}, message=f"c{day}", author_time=_at(day))
    assert len(open_change(repo.workdir, "main", "pr", max_commits=4).commits) == 4
    change = open_change(repo.workdir, "main", "pr", max_commits=3)
    assert [file.path for file in change.files] == ["a.txt"]  # files need no commit walk
    with pytest.raises(InputError, match="more than 3 commits") as caught:
        _ = change.commits
    assert caught.value.exit_code == 2
    assert "--base" in caught.value.hint


def test_commit_in_another_encoding(repo: pygit2.Repository) -> None:
    commit_files(repo, {"a.txt": "0\n"}, message="start", author_time=_at(0))
    signature = pygit2.Signature("Ren\u00e9", "r@example.com", _at(1), 0, "iso-8859-1")
    tree = repo.head.peel(pygit2.Commit).tree_id
    repo.create_commit(
        "refs/heads/pr", signature, signature, "caf\u00e9\n", tree, [repo.head.target],
        "iso-8859-1",
    )  # fmt: skip
    (commit,) = open_change(repo.workdir, "main", "pr").commits
    assert (commit.message, commit.author_name) == ("caf\u00e9\n", "Ren\u00e9")


def test_a_commit_in_an_unknown_encoding_reads_as_utf8(repo: pygit2.Repository) -> None:
    commit_files(repo, {"a.txt": "0\n"}, message="start", author_time=_at(0))
    head = str(repo.head.target)
    env = no_git_env() | {
        "GIT_AUTHOR_NAME": "Ren\u00e9", "GIT_AUTHOR_EMAIL": "r@example.com",
        "GIT_COMMITTER_NAME": "Ren\u00e9", "GIT_COMMITTER_EMAIL": "r@example.com",
    }  # fmt: skip
    made = subprocess.run(
        ["git", "-C", repo.workdir, "-c", "i18n.commitEncoding=no-such-encoding",
         "commit-tree", f"{head}^{{tree}}", "-p", head, "-m", "caf\u00e9"],
        check=True, env=env, capture_output=True, text=True,
    )  # fmt: skip
    repo.references.create("refs/heads/pr", made.stdout.strip())
    assert repo[made.stdout.strip()].message_encoding == "no-such-encoding"
    (commit,) = open_change(repo.workdir, "main", "pr").commits
    assert (commit.message, commit.author_name) == ("caf\u00e9\n", "Ren\u00e9")


def test_tree_listing_reads_only_the_folder(repo: pygit2.Repository) -> None:
    """An unchanged folder is never read: its tree object may even be missing."""
    commit_files(
        repo,
        {
            DB: "v1\n", API: "v1\n", "secrets/x.sealed.yaml": "s\n", "secrets.txt": "no\n",
            **{f"big/{n}/f.txt": f"{n}\n" for n in range(20)},
        },
        message="start",
        author_time=_at(0),
    )  # fmt: skip
    create_branch(repo, "pr")
    commit_files(repo, {API: None, "secrets/new/b.yaml": "b1\n"}, message="pr", author_time=_at(1))
    big = repo.head.peel(pygit2.Commit).tree["big"].id
    loose = Path(repo.path) / "objects" / str(big)[:2] / str(big)[2:]
    loose.unlink()  # a tree outside the change and the folder listed
    change = open_change(repo.workdir, "main", "pr")
    assert _statuses(change) == [(API, "deleted", None), ("secrets/new/b.yaml", "added", None)]
    assert change.old_tree_paths("secrets/") == [API, DB, "secrets/x.sealed.yaml"]
    assert change.new_tree_paths("secrets") == ["secrets/new/b.yaml", DB, "secrets/x.sealed.yaml"]
    assert change.new_tree_paths("./secrets/new/") == ["secrets/new/b.yaml"]
    assert change.new_tree_paths("missing/") == []
    assert change.new_tree_paths(DB) == []  # a file, not a folder
    assert change.new_tree_paths("../") == []
    with pytest.raises(GitError, match=r"cannot read \. at "):
        change.new_tree_paths("")  # the whole tree needs the missing folder
    with pytest.raises(GitError, match=r"cannot read big/1/f\.txt at "):
        change.read_new("big/1/f.txt")
    assert change.read_new("big") is None  # a folder: not read


def test_policy_in_a_folder(repo: pygit2.Repository, tmp_path: Path) -> None:
    """Paths are relative to the policy root; files outside it are listed as ``../``."""
    commit_files(
        repo,
        {
            "policy/gitrot.yaml": "x\n", f"policy/{DB}": "v1\n", f"policy/{API}": LONG,
            "README.md": "r\n", "policy2/a.txt": "a\n",
        },
        message="start",
        author_time=_at(0),
    )  # fmt: skip
    create_branch(repo, "pr")
    commit_files(
        repo,
        {
            f"policy/{DB}": "v2\n", "README.md": "r2\n", "policy2/a.txt": "a2\n",
            f"policy/{API}": None, "archive/api-key.yaml": LONG,  # renamed out of the policy
            "policy/secrets/moved.yaml": "policy2\n",
        },
        message="pr",
        author_time=_at(1),
    )  # fmt: skip
    change = open_change(Path(repo.workdir) / "policy", "main", "pr")
    assert change.prefix == "policy/"
    assert _statuses(change) == [
        ("../README.md", "modified", None),
        ("../archive/api-key.yaml", "added", None),
        ("../policy2/a.txt", "modified", None),
        (API, "deleted", None),
        ("secrets/moved.yaml", "added", None),
        (DB, "modified", None),
    ]
    assert change.read_new(DB) == b"v2\n"
    assert change.read_new("../README.md") == b"r2\n"
    assert change.read_old("gitrot.yaml") == b"x\n"
    assert change.top_path(DB) == f"policy/{DB}"
    assert change.top_path("../README.md") == "README.md"
    assert change.top_path("../../x") is None
    assert change.new_tree_paths("secrets/") == ["secrets/moved.yaml", DB]
    assert change.new_tree_paths("../policy2") == ["../policy2/a.txt"]

    # a bare clone knows no work tree: the folder is given
    bare = tmp_path / "bare.git"
    pygit2.clone_repository(repo.workdir, str(bare), bare=True)
    again = open_change(bare, "origin/main", "origin/pr", prefix="/policy//")
    assert (again.prefix, _statuses(again)) == ("policy/", _statuses(change))
    top = open_change(bare, "origin/main", "origin/pr")
    assert top.prefix == ""
    assert ("policy/secrets/api-key.yaml", "renamed", None) not in _statuses(top)
    assert ("archive/api-key.yaml", "renamed", f"policy/{API}") in _statuses(top)
    with pytest.raises(InputError, match="leaves the repository"):
        open_change(bare, "origin/main", "origin/pr", prefix="policy/../..")


def test_relative_paths_around_the_prefix(repo: pygit2.Repository) -> None:
    commit_files(repo, {"a/b/c.txt": "c\n"}, message="start", author_time=_at(0))
    change = open_change(repo.workdir, "main", prefix="a/b")
    assert change.prefix == "a/b/"
    assert [change.relative(top) for top in ("a/b/c.txt", "a/c.txt", "x", "a", "a/b")] == [
        "c.txt", "../c.txt", "../../x", "../../a", "../../a/b",
    ]  # fmt: skip
    for top in ("a/b/c.txt", "a/c.txt", "x", "a", "a/b"):
        assert change.top_path(change.relative(top)) == top
    assert change.top_path("") == "a/b"
    assert change.top_path("/etc/passwd") is None
