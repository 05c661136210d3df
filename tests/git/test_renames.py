"""gitrot.git.renames: git's rename rules, checked against git itself."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pygit2
import pytest

from gitrot.git.change import open_change
from gitrot.git.process import no_git_env
from gitrot.git.renames import find_renames, line_spans
from tests.gitrepo import commit_files, create_branch, make_repo

BLOBS: dict[bytes, bytes] = {}


def _side(path: str, data: bytes, mode: int = 0o100644) -> tuple[str, int, bytes, int]:
    """A file as find_renames sees it; the content stands for the blob id."""
    BLOBS[data] = data
    return (path, mode, data, len(data))


def _pairs(
    added: list[tuple[str, int, bytes, int]],
    deleted: list[tuple[str, int, bytes, int]],
    **options: int,
) -> list[tuple[str, str]]:
    found = find_renames(added, deleted, BLOBS.__getitem__, **options)
    return sorted((old[0], new[0]) for old, new in found)


def test_spans_are_lines_or_64_bytes() -> None:
    assert line_spans(b"a\nbb\n" + b"x" * 130 + b"\nend") == {
        b"a\n": 2, b"bb\n": 3, b"x" * 64: 128, b"xx\n": 3, b"end": 3,
    }  # fmt: skip
    assert line_spans(b"a\r\nb\r\n") == {b"a\n": 2, b"b\n": 2}  # CR before LF ignored in text
    assert line_spans(b"\0a\r\n") == {b"\0a\r\n": 4}  # not in binary
    assert line_spans(b"") == {}


def test_exact_renames_prefer_the_same_name() -> None:
    same = b"same content\n"
    added = [_side("b/one.txt", same), _side("b/two.txt", same), _side("c/x.txt", b"x\n")]
    deleted = [_side("a/two.txt", same), _side("a/one.txt", same)]
    assert _pairs(added, deleted) == [("a/one.txt", "b/one.txt"), ("a/two.txt", "b/two.txt")]
    assert _pairs(added[:1], deleted) == [("a/one.txt", "b/one.txt")]
    assert _pairs([_side("b/three.txt", same)], deleted) == [("a/one.txt", "b/three.txt")]


LINES = b"".join(b"line %d\n" % n for n in range(20))  # 150 bytes


def test_similar_renames_take_the_best_score_first() -> None:
    close = _side("new/close.txt", LINES + b"extra\n")
    far = _side("new/far.txt", LINES[:100] + b"changed\n" * 7)
    deleted = [_side("old/a.txt", LINES)]
    assert _pairs([close, far], deleted) == [("old/a.txt", "new/close.txt")]
    assert _pairs([far], deleted) == [("old/a.txt", "new/far.txt")]
    assert _pairs([far], deleted, threshold=90) == []
    assert _pairs([close, far], deleted, limit=1) == []  # 2 pairs > 1 squared: exact only
    assert _pairs([_side("new/big.txt", LINES * 3)], deleted) == []  # sizes too far apart


def test_a_unique_name_pairs_first_when_close_enough() -> None:
    """git 2.33+: a deleted and an added file that alone have one name pair at 75 %, even if
    the added file is closer to another; below 75 % the best score wins."""
    deleted = [_side("old/a.txt", LINES), _side("old/b.txt", LINES[:120] + b"other\n" * 5)]
    moved = _side("new/b.txt", LINES[:130] + b"tail\n")  # 84 % of a.txt, 78 % of b.txt
    assert _pairs([moved], deleted) == [("old/b.txt", "new/b.txt")]
    far = _side("new/b.txt", LINES[:90] + LINES[120:] + b"tail\n" * 4)  # 73 % and 57 %
    assert _pairs([far], deleted) == [("old/a.txt", "new/b.txt")]
    tie = _side("new/b.txt", LINES[:100] + b"tail\n" * 9)  # 62 % of both: the name wins
    assert _pairs([tie], deleted) == [("old/b.txt", "new/b.txt")]


def test_links_and_empty_files_pair_only_when_exact() -> None:
    link = _side("old/link", b"target", 0o120000)
    assert _pairs([_side("new/link", b"target", 0o120000)], [link]) == [("old/link", "new/link")]
    assert _pairs([_side("new/link", b"targets", 0o120000)], [link]) == []
    assert _pairs([_side("new/file", b"target")], [link]) == []  # a file is no link
    assert _pairs([_side("new/empty", b"")], [_side("old/empty", b"")]) == []


def _git_renames(repo: pygit2.Repository, base: str, head: str) -> list[tuple[str, str]]:
    output = subprocess.run(
        ["git", f"--git-dir={repo.path}", "-c", "diff.renameLimit=1000", "diff-tree", "-r", "-z",
         "--name-status", "-M50%", base, head],
        capture_output=True, check=True, env=no_git_env(),
    ).stdout.decode()  # fmt: skip
    fields = output.split("\0")
    pairs = []
    while fields and fields[0]:
        status = fields.pop(0)
        if status.startswith("R"):
            pairs.append((fields.pop(0), fields.pop(0)))
        else:
            fields.pop(0)
    return sorted(pairs)


@pytest.mark.parametrize("seed", range(10))
def test_renames_agree_with_git(tmp_path: Path, seed: int) -> None:
    """Random files, renamed with random edits (above and below 50 %), each new file from
    one old file at most, under new names and old ones."""
    rng = random.Random(seed)
    repo = make_repo(tmp_path / "repo")
    words = [f"word{n}" for n in range(30)]

    def text() -> str:
        lines = [
            " ".join(rng.choices(words, k=rng.randint(1, 30))) for _ in range(rng.randint(1, 40))
        ]
        return "\n".join(lines) + "\n"  # git 2.39 ignores a last line without newline

    files = {f"d{n % 3}/f{n}.txt": text() for n in range(16)}
    commit_files(repo, dict(files), message="start", author_time=1_700_000_000)
    create_branch(repo, "pr")
    change: dict[str, str | None] = {}
    for n, (path, content) in enumerate(sorted(files.items())):
        roll = rng.random()
        if roll < 0.6:
            lines = content.splitlines()
            for _ in range(rng.randint(0, len(lines))):
                lines[rng.randrange(len(lines))] = " ".join(rng.choices(words, k=5))
            target = rng.choice([f"moved/f{n}.txt", f"moved/g{n}.txt", f"d{n % 2}/h{n}.txt"])
            change[path] = None
            change[target] = "\n".join(lines) + "\n"
        elif roll < 0.8:
            change[path] = None
    change["added/new.txt"] = text()
    commit_files(repo, change, message="pr", author_time=1_700_000_001)
    ours = open_change(repo.workdir, "main", "pr")
    found = sorted(
        (file.old_path or "", file.path) for file in ours.files if file.status == "renamed"
    )
    assert found == _git_renames(repo, "main", "pr")
