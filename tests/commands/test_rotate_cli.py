"""``gitrot rotate``: refusals that write nothing, a sealed value kept consistent when the
intent cannot be written, and ``--due`` on schedules a person must serve."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pygit2
import pytest

from gitrot.commands import rotate as rotate_command
from gitrot.errors import InputError
from tests.gitrepo import commit_files

NAME = "payments/db-password"
INTENT = Path("secrets/payments/db-password.yaml")


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def _new(gitrot, name: str = NAME) -> None:  # type: ignore[no-untyped-def]
    flags = ["--backend", "local", "--ref", f"{name}-ref", "--owner", "team"]
    result = gitrot("new", name, *flags, "--class", "database-password")
    assert result.code == 0, result.err


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))


@pytest.fixture
def root(gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "policy"
    assert gitrot("init", str(root)).code == 0
    monkeypatch.chdir(root)
    _new(gitrot)
    return root


@pytest.fixture
def sealed(gitrot, root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The intent at version 2 with a value a person supplied."""
    _stdin(monkeypatch, b"issued-by-the-dba\n")
    result = gitrot("rotate", NAME, "--reason", "DBA issued it", "--value-stdin")
    assert result.code == 0, result.err
    return root


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([NAME, "--due"], "--due rotates every due intent: give no NAME and no --value-stdin"),
        (["--due", "--value-stdin"], "give no NAME and no --value-stdin"),
        (["--due", "--within", "soon"], "--within 'soon' is not a duration"),
    ],
)
def test_rotate_refuses_flags_that_contradict_and_writes_nothing(
    gitrot, root: Path, args: list[str], message: str
) -> None:
    before = _files(root)
    result = gitrot("rotate", *args, "--reason", "x")
    assert result.code == 2 and message in result.err and result.out == ""
    assert _files(root) == before


def test_a_value_larger_than_64_kib_is_refused(
    gitrot, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _files(root)
    _stdin(monkeypatch, b"x" * (rotate_command.MAX_VALUE_BYTES + 1))
    result = gitrot("rotate", NAME, "--reason", "too big", "--value-stdin")
    assert result.code == 2 and "the value on stdin is larger than 64 KiB" in result.err
    assert _files(root) == before
    _stdin(monkeypatch, b"x" * rotate_command.MAX_VALUE_BYTES)  # the limit itself is fine
    assert gitrot("rotate", NAME, "--reason", "just fits", "--value-stdin").code == 0


def test_a_supplied_value_needs_a_new_value_to_rotate(gitrot, sealed: Path) -> None:
    before = _files(sealed)
    result = gitrot("rotate", NAME, "--reason", "schedule")
    assert result.code == 2
    first, hint = result.err.splitlines()
    assert first == (
        f"gitrot: error: {NAME}'s value is supplied by a person (sealed): a new version needs "
        f"a new value ({INTENT})"
    )
    assert (
        hint
        == f"hint: pipe the new credential in: ... | gitrot rotate {NAME} --reason ... --value-stdin"
    )
    assert _files(sealed) == before


def test_the_sealed_file_goes_when_the_intent_cannot_be_written(
    gitrot, sealed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _files(sealed)

    def full_disk(path: object, text: str, **_: object) -> None:
        raise InputError("no space left on device", where=str(path))

    monkeypatch.setattr(rotate_command, "write_atomic", full_disk)
    _stdin(monkeypatch, b"the-next-one\n")
    result = gitrot("rotate", NAME, "--reason", "DBA issued another", "--value-stdin")
    assert result.code == 2 and "no space left on device" in result.err
    assert _files(sealed) == before  # no v3 sealed file left behind, the intent untouched
    assert not (sealed / "secrets/payments/db-password.v3.sealed.yaml").exists()


def test_an_emergency_flag_already_set_is_left_as_it_is(gitrot, root: Path) -> None:
    assert gitrot("rotate", NAME, "--reason", "leak", "--emergency").code == 0
    text = (root / INTENT).read_text()
    assert gitrot("rotate", NAME, "--reason", "leak, again", "--emergency").code == 0
    after = (root / INTENT).read_text()
    assert after.count("emergency: true") == 1
    assert (
        text.replace("version: 2", "version: 3").replace("reason: leak", "reason: leak, again")
        == after
    )


def _backdate(root: Path, days: int) -> None:
    repo = pygit2.Repository(str(root))
    repo.config["user.name"], repo.config["user.email"] = ("Alice Example", "alice@example.com")
    files = {name: data.decode() for name, data in _files(root).items()}
    commit_files(repo, files, message="intents", author_time=int(time.time()) - days * 86400)


def test_rotate_due_with_nothing_due_says_so(gitrot, root: Path) -> None:
    _backdate(root, 1)
    before = _files(root)
    result = gitrot("rotate", "--due", "--reason", "weekly job")
    assert (result.code, result.out) == (0, "")
    assert "gitrot: nothing is due" in result.err
    assert _files(root) == before


def test_rotate_due_lists_what_is_due_soon(gitrot, root: Path) -> None:
    _backdate(root, 80)  # database-password: max_age 90d
    result = gitrot("rotate", "--due", "--reason", "weekly job", "--within", "30d")
    assert result.code == 0, result.err
    assert result.out.startswith("## Scheduled credential rotation: 1 secret\n")
    assert f"| `{NAME}` | 1 → 2 |" in result.out and "| due in 10d |" in result.out
    assert "version: 2" in (root / INTENT).read_text()


def test_rotate_due_leaves_a_supplied_value_to_a_person(gitrot, sealed: Path) -> None:
    _backdate(sealed, 200)
    before = _files(sealed)
    result = gitrot("rotate", "--due", "--reason", "weekly job")
    assert (result.code, result.out) == (0, "")  # no generated value due: no PR body
    assert (
        f"gitrot: {NAME} is due but its value is supplied by a person: "
        f"... | gitrot rotate {NAME} --reason ... --value-stdin"
    ) in result.err
    assert _files(sealed) == before


def test_emergency_is_added_after_the_reason_when_the_intent_has_no_flag(
    gitrot, root: Path
) -> None:
    intent = root / INTENT
    intent.write_text(intent.read_text().replace("    emergency: false\n", ""))
    assert gitrot("validate", str(INTENT)).code == 0  # the flag is optional
    assert gitrot("rotate", NAME, "--reason", "INC-1233: scheduled rotation").code == 0
    assert "emergency" not in intent.read_text()  # and not added when false
    result = gitrot("rotate", NAME, "--reason", "INC-1234: key exposed in CI logs", "--emergency")
    assert result.code == 0, result.err
    assert (
        "    reason: 'INC-1234: key exposed in CI logs'\n    emergency: true\n"
        in intent.read_text()
    )
    assert gitrot("validate", str(INTENT)).code == 0


def test_an_intent_that_cannot_be_written_is_left_as_it_was(
    gitrot, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _files(root)

    def read_only(path: object, text: str, **_: object) -> None:
        raise InputError("permission denied", where=str(path))

    monkeypatch.setattr(rotate_command, "write_atomic", read_only)
    result = gitrot("rotate", NAME, "--reason", "schedule")
    assert result.code == 2 and "permission denied" in result.err
    assert _files(root) == before
