"""files/fsutil and files/workspace at their edges: every refusal is one InputError naming
the file (exit 2), and the repository a path belongs to is the one a user would expect."""

from __future__ import annotations

import io
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitrot.errors import EXIT_INPUT, InputError
from gitrot.files import resources, workspace
from gitrot.files.fsutil import (
    check_regular,
    inside,
    read_bytes,
    read_text,
    refuse_special,
    write_atomic,
    write_output,
)


@pytest.fixture
def sock(tmp_path: Path) -> Iterator[Path]:
    """A listening unix socket in tmp_path (short name: sun_path is ~100 bytes)."""
    path = tmp_path / "s"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    yield path
    server.close()


def _refusal(call: object) -> str:
    with pytest.raises(InputError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.exit_code == EXIT_INPUT
    return caught.value.render()


def test_a_symlink_loop_cannot_be_read(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert _refusal(lambda: read_text(loop)).startswith(
        "gitrot: error: cannot read the file: Too many levels of symbolic links ("
    )


def test_special_files_are_named_by_kind(tmp_path: Path, sock: Path) -> None:
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    assert _refusal(lambda: read_bytes(fifo, limit=10, where="p.yaml")) == (
        "gitrot: error: is a FIFO (named pipe), not a regular file; refusing to open it (p.yaml)"
    )
    assert _refusal(lambda: read_bytes(sock, limit=10, where="s.yaml")) == (
        "gitrot: error: is a socket, not a regular file; refusing to open it (s.yaml)"
    )
    assert _refusal(lambda: check_regular(0, "x")) == (
        "gitrot: error: is not a file, not a regular file; refusing to open it (x)"
    )


def test_refuse_special_passes_missing_files_folders_and_files(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    for name in ("missing", "f", "."):
        refuse_special(tmp_path / name, name)  # no error
    os.mkfifo(tmp_path / "p")
    assert _refusal(lambda: refuse_special(tmp_path / "p", "out")) == (
        "gitrot: error: is a FIFO (named pipe), not a regular file; refusing to open it (out)"
    )


@pytest.mark.parametrize("relpath", ["../x.yaml", "secrets/../../x.yaml", "/etc/x.yaml"])
def test_a_path_with_dot_dot_or_absolute_leaves_the_repository(
    tmp_path: Path, relpath: str
) -> None:
    assert _refusal(lambda: inside(tmp_path, relpath)) == (
        f"gitrot: error: the path leaves the repository ({relpath})"
    )


def test_write_atomic_under_a_file_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("keep")
    assert _refusal(lambda: write_atomic(tmp_path / "f" / "x", "new")) == (
        f"gitrot: error: cannot write here: Not a directory ({tmp_path}/f/x)"
    )
    assert (tmp_path / "f").read_text() == "keep"


def test_write_output_refuses_a_socket(sock: Path) -> None:
    assert _refusal(lambda: write_output(sock, "x")) == (
        f"gitrot: error: is a socket, not a regular file; refusing to open it ({sock})"
    )


def test_write_output_to_our_stdout_skips_a_stream_that_cannot_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replaced sys.stdout without flush (as some embedders install) does not stop the
    write to the descriptor itself."""
    target = tmp_path / "out"
    with target.open("w") as handle:
        fd = handle.fileno()
        monkeypatch.setattr(sys, "stdout", object())
        closed = io.StringIO()
        closed.close()
        monkeypatch.setattr(sys, "stderr", closed)
        write_output(f"/dev/fd/{fd}", "hello\n")
        monkeypatch.undo()
    assert target.read_text() == "hello\n"


def test_find_root_outside_a_repository_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        workspace.find_root(str(tmp_path))
    assert caught.value.render() == (
        f"gitrot: error: not in a gitrot repository (no gitrot.yaml here or above) ({tmp_path})"
    )
    assert caught.value.hint.startswith("run 'gitrot init'")
    assert workspace.nearest_root(str(tmp_path)) is None
    (tmp_path / "gitrot.yaml").write_text("")
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert workspace.find_root(str(tmp_path / "a" / "b")) == str(tmp_path)
    assert workspace.nearest_root(str(tmp_path / "a")) == str(tmp_path)


def test_root_of_a_file_never_looks_above_git_and_skips_intents_named_gitrot(
    tmp_path: Path,
) -> None:
    """A gitrot.yaml under the outer repository's secrets/ is an intent, not a repository;
    one above the top of the git work tree is someone else's."""
    (tmp_path / "gitrot.yaml").write_text("")  # above the git work tree
    top = tmp_path / "app"
    (top / ".git").mkdir(parents=True)
    assert workspace.root_of(str(top / "x.yaml")) is None
    policy = top / "infra" / "policy"
    (policy / "secrets" / "team").mkdir(parents=True)
    (policy / "gitrot.yaml").write_text("")
    (policy / "secrets" / "gitrot.yaml").write_text("")  # the intent of secret 'gitrot'
    (policy / "secrets" / "team" / "gitrot.yaml").write_text("")
    intent = policy / "secrets" / "team" / "db.yaml"
    assert workspace.root_of(str(intent)) == str(policy)
    assert workspace.top_prefix(str(policy)) == "infra/policy/"
    assert workspace.top_prefix(str(top)) == ""


def test_top_prefix_outside_git_is_empty(tmp_path: Path) -> None:
    assert workspace.git_top(str(tmp_path)) is None
    assert workspace.top_prefix(str(tmp_path)) == ""


def test_the_built_in_policy_pack_ships_its_rules_and_readme() -> None:
    names = resources.policy_names()
    assert names == sorted(names)
    assert {"README.md", "builtin.yaml"} <= set(names)
    assert "tests" not in names  # folders are not rule files
