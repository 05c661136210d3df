"""gitrot.git.worktree, the hook's questions to HEAD, against real repositories and real git."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

from gitrot.errors import EnvironmentFailure, GitError
from gitrot.git import worktree
from gitrot.git.process import no_git_env
from gitrot.git.worktree import at_head, has_head, head_blobs, version_times
from tests.gitrepo import commit_files, make_repo
from tests.intents import intent_text

DAY = 86400
T0 = 1_700_000_000
DB = "secrets/payments/db.yaml"
API = "secrets/api-key.yaml"


def _at(day: int) -> int:
    return T0 + day * DAY


@pytest.fixture
def repo(tmp_path: Path) -> pygit2.Repository:
    return make_repo(tmp_path / "policy")


def _root(repo: pygit2.Repository) -> str:
    return repo.workdir.rstrip("/")


def test_no_paths_asks_git_nothing(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")  # not even a folder: git is never run
    assert at_head(missing, []) is None
    assert head_blobs(missing, []) == {}
    assert version_times(missing, []) == {}


def test_outside_a_repository_and_before_the_first_commit_there_is_no_head(
    tmp_path: Path, repo: pygit2.Repository
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    for root in (str(plain), _root(repo)):  # no git work tree; an unborn HEAD
        assert has_head(root) is False
        assert at_head(root, [DB]) is None
        assert head_blobs(root, [DB]) is None
        assert version_times(root, [DB]) is None


def test_head_blobs_are_the_committed_bytes_not_the_staged_or_edited_ones(
    repo: pygit2.Repository,
) -> None:
    commit_files(repo, {DB: "committed\n", "secrets/caf\u00e9.yaml": "\u00e9\n"}, message="a",
                 author_time=_at(0))  # fmt: skip
    root = Path(_root(repo))
    (root / DB).write_text("edited in the work tree\n")
    (root / API).write_text("staged, never committed\n")
    repo.index.add(API)
    repo.index.write()
    paths = [DB, API, "secrets/caf\u00e9.yaml", "secrets/payments", "secrets/none.yaml"]
    assert head_blobs(str(root), paths) == {
        DB: b"committed\n",
        API: None,  # staged only: HEAD lacks it
        "secrets/caf\u00e9.yaml": "\u00e9\n".encode(),  # a path git would quote
        "secrets/payments": None,  # a folder where a file was expected
        "secrets/none.yaml": None,
    }


def test_paths_are_relative_to_a_policy_folder_inside_the_work_tree(
    repo: pygit2.Repository,
) -> None:
    commit_files(repo, {"policy/" + DB: intent_text("payments/db", 2)}, message="a",
                 author_time=_at(3))  # fmt: skip
    folder = str(Path(_root(repo)) / "policy")
    blobs, times = at_head(folder, [DB]) or ({}, {})
    assert blobs == {DB: intent_text("payments/db", 2).encode()}
    assert times == {DB: _at(3)}


def test_a_blob_above_the_size_limit_is_not_read(
    repo: pygit2.Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit_files(repo, {DB: "1234\n", API: "12\n"}, message="a", author_time=_at(0))
    monkeypatch.setattr(worktree, "_MAX_BLOB", 3)
    assert head_blobs(_root(repo), [DB, API]) == {DB: None, API: b"12\n"}


def test_version_times_are_when_the_version_line_last_changed(repo: pygit2.Repository) -> None:
    commit_files(repo, {DB: intent_text("payments/db", 1)}, message="db", author_time=_at(0))
    commit_files(repo, {API: intent_text("api-key", 1)}, message="api", author_time=_at(1))
    commit_files(repo, {DB: intent_text("payments/db", 2)}, message="bump", author_time=_at(2))
    reworded = intent_text("payments/db", 2, reason="Quarterly rotation CHG-2")
    commit_files(repo, {DB: reworded}, message="reason", author_time=_at(3))
    commit_files(repo, {"secrets/other.txt": "x\n"}, message="noise", author_time=_at(4))
    root = _root(repo)
    assert version_times(root, [DB, API]) == {DB: _at(2), API: _at(1)}
    assert version_times(root, [DB]) == {DB: _at(2)}  # git stopped once DB had its answer
    assert version_times(root, ["secrets/other.txt", "secrets/none.yaml"]) == {}
    assert at_head(root, [DB]) == ({DB: reworded.encode()}, {DB: _at(2)})


def test_a_rename_starts_the_clock_again_unless_the_walk_follows_it(
    repo: pygit2.Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pickaxe sees the renamed file as added; past MAX_PICKAXE_PATHS the history walk
    of ``gitrot due`` answers, and it follows renames (also from a policy folder)."""
    old, text = "policy/secrets/payments/old.yaml", intent_text("payments/old", 4)
    commit_files(repo, {old: text}, message="old", author_time=_at(0))
    commit_files(repo, {old: None, "policy/" + DB: text.replace("payments/old", "payments/db")},
                 message="mv", author_time=_at(5))  # fmt: skip
    folder = str(Path(_root(repo)) / "policy")
    assert version_times(folder, [DB]) == {DB: _at(5)}
    monkeypatch.setattr(worktree, "MAX_PICKAXE_PATHS", 0)
    assert version_times(folder, [DB, "secrets/none.yaml"]) == {DB: _at(0)}


def test_without_git_the_hook_says_git_is_required(
    repo: pygit2.Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit_files(repo, {DB: "x\n"}, message="a", author_time=_at(0))
    monkeypatch.setattr("shutil.which", lambda *_args, **_kw: None)
    with pytest.raises(EnvironmentFailure) as caught:
        at_head(_root(repo), [DB])
    assert caught.value.exit_code == 3
    assert caught.value.render() == "gitrot: error: git is required, and there is no git on PATH"
    assert "install git" in caught.value.hint


def test_validate_without_git_exits_3_with_one_line(tmp_path: Path) -> None:
    """The hook never passes a commit it could not compare with HEAD."""
    root = tmp_path / "policy"
    assert _gitrot("init", str(root), cwd=tmp_path).returncode == 0
    made = _gitrot("new", "payments/db", "--backend", "local", "--ref", "db", "--owner", "team-a",
                   "--class", "database-password", cwd=root)  # fmt: skip
    assert made.returncode == 0, made.stderr
    done = _gitrot("validate", DB, cwd=root, path=str(tmp_path / "empty"))
    assert done.returncode == 3
    assert done.stderr.splitlines() == [
        "gitrot: error: git is required, and there is no git on PATH",
        "hint: install git (pre-commit needs it too) and run again",
    ]


def _gitrot(*args: str, cwd: Path, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = no_git_env() | ({"PATH": path} if path is not None else {})
    return subprocess.run([sys.executable, "-m", "gitrot", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip


def test_a_failing_cat_file_is_a_git_error(
    repo: pygit2.Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git answers HEAD but cannot read its objects (a broken repository): exit 3."""
    commit_files(repo, {DB: "x\n"}, message="a", author_time=_at(0))
    real = subprocess.run(["which", "git"], capture_output=True, text=True, check=True)
    broken = tmp_path / "bin" / "git"
    broken.parent.mkdir()
    broken.write_text(
        "#!/bin/sh\n"
        'for arg; do [ "$arg" = cat-file ] && { echo "fatal: object store broken" >&2; '
        "exit 128; }; done\n"
        f'exec {real.stdout.strip()} "$@"\n'
    )
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{broken.parent}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(GitError) as caught:
        head_blobs(_root(repo), [DB])
    assert caught.value.exit_code == 3
    assert caught.value.render() == (
        f"gitrot: error: git cat-file failed: fatal: object store broken ({_root(repo)})"
    )
