"""``gitrot due`` end to end on real, backdated git repositories."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pygit2
import pytest

from gitrot.commands.due import due_items
from tests.conftest import Result
from tests.gitrepo import checkout, commit_files, create_branch, make_repo, merge
from tests.intents import config_text, intent_text

DAY = 86400
NOW = int(time.time())
DB = "secrets/payments/db.yaml"
API = "secrets/api.yaml"


def _ago(days: int) -> int:
    return NOW - days * DAY


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pygit2.Repository:
    """db (90d) bumped 100 days ago, then only its reason edited; api (30d) bumped 25 days ago."""
    repo = make_repo(tmp_path / "policy")
    commit_files(
        repo,
        {
            "gitrot.yaml": config_text(),
            DB: intent_text("payments/db", 1),
            API: intent_text("api", 1, klass="api-key"),
            "secrets/forever.yaml": intent_text("forever", 1, klass="forever"),
        },
        message="policy",
        author_time=_ago(300),
    )
    commit_files(repo, {DB: intent_text("payments/db", 2)}, message="rotate", author_time=_ago(100))
    commit_files(
        repo, {API: intent_text("api", 2, klass="api-key")}, message="api", author_time=_ago(25)
    )
    commit_files(
        repo,
        {DB: intent_text("payments/db", 2, reason="reworded")},
        message="reason only",
        author_time=_ago(3),
    )
    monkeypatch.chdir(repo.workdir)
    monkeypatch.setattr(time, "time", lambda: float(NOW))
    return repo


def test_text_table(repo: pygit2.Repository, gitrot) -> None:  # type: ignore[no-untyped-def]
    result: Result = gitrot("due")
    assert result.code == 0, result.err
    day = time.strftime("%Y-%m-%d", time.gmtime(_ago(100)))
    api_day = time.strftime("%Y-%m-%d", time.gmtime(_ago(25)))
    assert result.out.splitlines() == [
        "NAME         VERSION  LAST ROTATED  AGE   MAX AGE  STATUS",
        f"payments/db  2        {day}    100d  90d      overdue by 10d",
        f"api          2        {api_day}    25d   30d      due in 5d",
    ]


def test_json_output_file_and_exit_code(repo: pygit2.Repository, gitrot) -> None:  # type: ignore[no-untyped-def]
    result = gitrot(
        "due", "--within", "0s", "--format", "json", "--exit-code", "--output", "r.json"
    )
    assert (result.code, result.out) == (1, "")
    report = json.loads(Path("r.json").read_text())
    assert [item["name"] for item in report] == ["payments/db"]
    assert report[0]["overdue"] is True
    assert report[0]["age"] == 100 * DAY
    assert report[0]["max_age"] == 90 * DAY
    assert report[0]["path"] == DB
    assert report[0]["last_rotated"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(_ago(100)))


def test_nothing_due(repo: pygit2.Repository, gitrot) -> None:  # type: ignore[no-untyped-def]
    result = gitrot("due", "--rev", "HEAD~3", "--within", "1d", "--exit-code")
    # at HEAD~3 (the first commit) the work tree's versions differ: counted as rotated now
    assert (result.code, result.out) == (0, "nothing is due for rotation within 1d\n")
    assert gitrot("due", "--format", "json", "--within", "0s", "--rev", "HEAD~3").out == "[]\n"


def test_merge_counts_at_merge_commit(repo: pygit2.Repository, gitrot) -> None:  # type: ignore[no-untyped-def]
    create_branch(repo, "rotate-db")
    commit_files(repo, {DB: intent_text("payments/db", 3)}, message="bump", author_time=_ago(95))
    checkout(repo, "main")
    merge(repo, "rotate-db", message="Merge rotate-db", author_time=_ago(80))
    result = gitrot("due", "--format", "json", "--within", "9d")
    assert [item["name"] for item in json.loads(result.out)] == ["api"]
    items = due_items(Path(repo.workdir), now=NOW, within=15 * DAY)
    assert [(item.name, item.last_rotated) for item in items] == [
        ("api", _ago(25)),
        ("payments/db", _ago(80)),
    ]


def test_uncommitted_and_unusual_layout(repo: pygit2.Repository, gitrot) -> None:  # type: ignore[no-untyped-def]
    Path("secrets/new.yaml").write_text(intent_text("new", 1, klass="api-key"))
    quoted = intent_text("payments/db", 2).replace("class: database-password", 'class: "api-key"')
    Path(DB).write_text(quoted)  # the full loader reads it: now a 30-day class
    items = due_items(Path(repo.workdir), now=NOW, within=30 * DAY)
    assert [(item.name, item.age, item.max_age) for item in items] == [
        ("payments/db", 100 * DAY, 30 * DAY),
        ("api", 25 * DAY, 30 * DAY),
        ("new", 0, 30 * DAY),
    ]


def test_policy_repository_in_a_subfolder(tmp_path: Path, gitrot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "mono")
    commit_files(
        repo,
        {
            "ops/policy/gitrot.yaml": config_text(),
            f"ops/policy/{DB}": intent_text("payments/db", 1),
        },
        message="policy",
        author_time=_ago(91),
    )
    monkeypatch.chdir(tmp_path / "mono" / "ops" / "policy" / "secrets")
    monkeypatch.setattr(time, "time", lambda: float(NOW))
    result = gitrot("due", "--within", "0s", "--format", "json")
    assert [item["age"] for item in json.loads(result.out)] == [91 * DAY]


def test_not_a_git_repository(tmp_path: Path, gitrot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "secrets").mkdir()
    (tmp_path / "gitrot.yaml").write_text(config_text())
    (tmp_path / DB.replace("payments/", "")).write_text(intent_text("db", 1))
    monkeypatch.chdir(tmp_path)
    result = gitrot("due")
    assert result.code == 3
    assert result.err.splitlines() == [
        f"gitrot: error: not a git repository ({tmp_path})",
        f"hint: is {tmp_path} a git repository? run gitrot inside the policy repository",
    ]


def test_no_limited_class_needs_no_git(tmp_path: Path, gitrot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "gitrot.yaml").write_text(config_text(classes={"database-password": None}))
    monkeypatch.chdir(tmp_path)
    assert gitrot("due", "--exit-code").code == 0
    config = config_text(classes={"database-password": None, "api-key": "30d"})
    (tmp_path / "gitrot.yaml").write_text(config)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "db.yaml").write_text(intent_text("db", 1))
    assert gitrot("due", "--exit-code").code == 0  # a limited class no intent uses


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--rev", "no-such-branch"), "gitrot: error: unknown revision 'no-such-branch'"),
        (("--within", "soon"), "gitrot: error: --within: 'soon' is not a duration"),
    ],
)
def test_input_errors(repo: pygit2.Repository, gitrot, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    result = gitrot("due", *args)
    assert result.code == 2
    assert result.err.startswith(message)
    assert len(result.err.splitlines()) == 2


def test_without_git_due_says_git_is_required(repo: pygit2.Repository, gitrot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("shutil.which", lambda *_args, **_kw: None)
    result = gitrot("due")
    assert result.code == 3
    assert "gitrot: error: git is required" in result.err
