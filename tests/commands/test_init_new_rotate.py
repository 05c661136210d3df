"""init, new and rotate on real directories and git repositories, checked with the real sops."""

from __future__ import annotations

import difflib
import hashlib
import io
import os
import stat
import sys
from pathlib import Path

import pygit2
import pytest

from gitrot.commands import rotate as rotate_command
from tests.conftest import Key, run_sops

SECRET_VALUE = "s3cr3t-Issued-By-The-DBA-9f2c"


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git/" not in str(p.relative_to(root)) + "/"
    }


@pytest.fixture
def policy_repo(gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "policy"
    result = gitrot("init", str(root))
    assert result.code == 0, result.err
    config = root / "gitrot.yaml"
    config.write_text(
        config.read_text().replace(
            "triggers: {}\n",
            "triggers:\n  payments-api: {type: command, argv: [make, rebuild]}\n",
        )
    )
    monkeypatch.chdir(root)
    return root


def _reconciler(root: Path) -> Key:
    return Key("", "", root / ".gitrot" / "reconciler.key")


def test_init_names_the_policy_owners_and_waiver_approvers(gitrot, tmp_path: Path) -> None:
    from gitrot.files import repo

    root = tmp_path / "repo"
    made = gitrot("init", str(root), "--owner", "lead", "--owner", "Bob", "--waiver-approver", "al")
    assert made.code == 0, made.err
    config = repo.load_config(root)
    assert config.owners == ("lead", "Bob")
    assert config.waiver_approvers == ("al",)
    assert config.max_waiver_days == 90
    bad = gitrot("init", str(tmp_path / "other"), "--owner", "not a login")
    assert bad.code == 2
    assert "'not a login' is not a login" in bad.err
    assert not (tmp_path / "other").exists()


def test_init_makes_a_ready_repository_and_is_idempotent(
    gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # gitrot on PATH, as after pip install: the pre-commit hook it writes runs it from there
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    root = tmp_path / "repo"
    first = gitrot("init", str(root))
    assert first.code == 0, first.err
    assert first.out.strip().startswith("age1")
    pygit2.Repository(str(root))  # a git repository
    for name in (
        "gitrot.yaml",
        ".sops.yaml",
        ".pre-commit-config.yaml",
        ".gitignore",
        "waivers.yaml",
    ):
        assert (root / name).is_file(), name
    assert (root / "policies").is_dir()
    key = root / ".gitrot" / "reconciler.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert ".gitrot/" in (root / ".gitignore").read_text()
    config = (root / "gitrot.yaml").read_text()
    assert config.startswith("# yaml-language-server: $schema=")
    for klass in ("database-password", "api-key", "signing-key", "tls-certificate"):
        assert f"  {klass}:" in config
    assert config.count("source:") >= 4
    assert "AGE-SECRET-KEY" not in first.out + first.err + config
    before = _snapshot(root)
    second = gitrot("init", str(root))
    assert second.code == 0
    assert "nothing changed" in second.err
    assert second.out == first.out
    assert _snapshot(root) == before


def test_new_writes_version_1_with_the_ref_encrypted(gitrot, policy_repo: Path) -> None:
    result = gitrot(
        "new",
        "payments/db-password",
        "--backend",
        "local",
        "--ref",
        "payments/db",
        "--owner",
        "team-payments",
        "--class",
        "database-password",
        "--consumer",
        "payments-api",
    )
    assert result.code == 0, result.err
    intent = policy_repo / "secrets" / "payments" / "db-password.yaml"
    text = intent.read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    assert "version: 1" in text and "ref: ENC[AES256_GCM" in text and "payments/db\n" not in text
    decrypted = run_sops(["-d", str(intent)], key=_reconciler(policy_repo))
    assert decrypted.returncode == 0, decrypted.stderr
    assert b"ref: payments/db\n" in decrypted.stdout
    again = gitrot(
        "new",
        "payments/db-password",
        "--backend",
        "local",
        "--ref",
        "x",
        "--owner",
        "o",
        "--class",
        "database-password",
    )
    assert again.code == 2 and "already exists" in again.err
    assert intent.read_text() == text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["../escape", "--backend", "local"], "invalid secret name"),
        (["Upper/Case", "--backend", "local"], "invalid secret name"),
        (["a/b", "--backend", "vault-nope"], "unknown backend"),
        (["a/b", "--backend", "local", "--consumer", "nobody"], "unknown consumer"),
    ],
)
def test_new_refuses_bad_input_and_writes_nothing(
    gitrot, policy_repo: Path, args: list[str], message: str
) -> None:
    before = _snapshot(policy_repo)
    result = gitrot("new", *args, "--ref", "r", "--owner", "o", "--class", "api-key")
    assert result.code == 2 and message in result.err, result.err
    assert len(result.err.strip().splitlines()) <= 2
    assert _snapshot(policy_repo) == before


def _new(gitrot, name: str = "payments/db-password") -> Path:  # type: ignore[no-untyped-def]
    result = gitrot(
        "new",
        name,
        "--backend",
        "local",
        "--ref",
        f"{name}-ref",
        "--owner",
        "team-payments",
        "--class",
        "database-password",
    )
    assert result.code == 0, result.err
    return Path("secrets") / f"{name}.yaml"


def _hide_every_private_key(root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (root / ".gitrot" / "reconciler.key").rename(tmp_path / "reconciler.key")
    for name in list(os.environ):
        if name.startswith("SOPS_AGE"):
            monkeypatch.delenv(name)


def test_rotate_needs_no_private_key_and_changes_two_lines(
    gitrot, policy_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    intent = _new(gitrot)
    before = intent.read_text()
    _hide_every_private_key(policy_repo, monkeypatch, tmp_path)
    result = gitrot("rotate", "payments/db-password", "--reason", "Quarterly rotation CHG-2291")
    assert result.code == 0, result.err
    assert "version 1 -> 2" in result.err
    diff = [
        line
        for line in difflib.unified_diff(
            before.splitlines(), intent.read_text().splitlines(), lineterm="", n=0
        )
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert diff == [
        "-    version: 1",
        "-    reason: Initial version",
        "+    version: 2",
        "+    reason: Quarterly rotation CHG-2291",
    ]
    key = Key("", "", tmp_path / "reconciler.key")
    decrypted = run_sops(["-d", str(intent)], key=key)  # the MAC still holds
    assert decrypted.returncode == 0, decrypted.stderr
    assert b"version: 2" in decrypted.stdout


UNUSUAL = """\
# yaml-language-server: $schema=https://gitrot.dev/schemas/intent.schema.json
# Owned by payments; see RUNBOOK-17 before touching.
apiVersion: gitrot/v1
kind: RotationIntent
metadata:
  name: payments/db-password   # matches the path
  owner: 'team-payments'
  class: "database-password"
spec:
  # bump on every rotation, never reuse
  version:    1    # keep the spaces
  reason: 'Initial version, created by hand'   # why
  emergency: false
"""


def test_rotation_diff_is_exactly_two_lines_on_unusual_formatting(
    gitrot, policy_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    intent = _new(gitrot)
    generated = intent.read_text()
    # keep gitrot's encrypted part (target, value, consumers, sops), hand-format the rest
    start, end = generated.index("    target:"), generated.index("sops:")
    spec_tail = "".join(line[2:] for line in generated[start:end].splitlines(keepends=True))
    intent.write_text(UNUSUAL + spec_tail + generated[end:])
    before = intent.read_text()
    assert run_sops(["-d", str(intent)], key=_reconciler(policy_repo)).returncode == 0
    _hide_every_private_key(policy_repo, monkeypatch, tmp_path)
    result = gitrot("rotate", "payments/db-password", "--reason", "Leaked in CI log INC-77")
    assert result.code == 0, result.err
    diff = [
        line
        for line in difflib.unified_diff(
            before.splitlines(), intent.read_text().splitlines(), lineterm="", n=0
        )
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert diff == [
        "-  version:    1    # keep the spaces",
        "-  reason: 'Initial version, created by hand'   # why",
        "+  version:    2    # keep the spaces",
        "+  reason: 'Leaked in CI log INC-77'   # why",
    ]
    assert (
        run_sops(["-d", str(intent)], key=Key("", "", tmp_path / "reconciler.key")).returncode == 0
    )


def test_emergency_rotation_sets_the_flag(gitrot, policy_repo: Path) -> None:
    intent = _new(gitrot)
    result = gitrot(
        "rotate",
        "payments/db-password",
        "--reason",
        "Key leaked in a public gist, INC-4711",
        "--emergency",
    )
    assert result.code == 0, result.err
    assert "emergency: true" in intent.read_text()
    assert gitrot("rotate", "payments/db-password", "--reason", "Back to schedule").code == 0
    assert "emergency: false" in intent.read_text()


def test_rotate_with_a_supplied_value_seals_it(
    gitrot, policy_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    intent = _new(gitrot)
    _hide_every_private_key(policy_repo, monkeypatch, tmp_path)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(SECRET_VALUE.encode() + b"\n")))
    result = gitrot(
        "rotate", "payments/db-password", "--reason", "DBA issued a new password", "--value-stdin"
    )
    assert result.code == 0, result.err
    sealed = Path("secrets/payments/db-password.v2.sealed.yaml")
    assert "sealed: payments/db-password.v2.sealed.yaml" in intent.read_text()
    for path in policy_repo.rglob("*"):  # the value is nowhere in clear
        if path.is_file():
            assert SECRET_VALUE.encode() not in path.read_bytes(), path
    assert SECRET_VALUE not in result.out + result.err
    key = Key("", "", tmp_path / "reconciler.key")
    opened = run_sops(["-d", str(sealed)], key=key)
    assert opened.returncode == 0, opened.stderr
    assert f"value: {SECRET_VALUE}".encode() in opened.stdout
    assert b"version: 2" in opened.stdout
    assert run_sops(["-d", str(intent)], key=key).returncode == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["rotate", "nope/missing", "--reason", "x"], 2, "no such file"),
        (["rotate", "payments/db-password", "--reason", "  "], 2, "--reason is empty"),
        (["rotate", "--reason", "x"], 2, "give the secret NAME"),
    ],
)
def test_rotate_refuses_bad_input_and_writes_nothing(
    gitrot, policy_repo: Path, args: list[str], code: int, message: str
) -> None:
    _new(gitrot)
    before = _snapshot(policy_repo)
    result = gitrot(*args)
    assert result.code == code and message in result.err, result.err
    assert _snapshot(policy_repo) == before


def test_read_secret_refuses_empty_and_binary_input() -> None:
    with pytest.raises(Exception, match="no value"):
        rotate_command.read_secret(io.BytesIO(b"\n"))
    with pytest.raises(Exception, match="not UTF-8"):
        rotate_command.read_secret(io.BytesIO(b"\xff\xfe"))
    assert repr(rotate_command.read_secret(io.BytesIO(b"abc\n"))).startswith("SecretValue(sha256:")


def test_rotate_due_bumps_what_history_says_is_due_and_prints_a_pr_body(
    gitrot, policy_repo: Path
) -> None:
    import time

    from tests.gitrepo import commit_files

    repo = pygit2.Repository(str(policy_repo))
    repo.config["user.name"], repo.config["user.email"] = ("Alice Example", "alice@example.com")
    old_db = _new(gitrot, "payments/db-password")
    fresh = _new(gitrot, "payments/stripe-key")
    files = {
        str(p.relative_to(policy_repo)): p.read_text()
        for p in policy_repo.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }
    now = int(time.time())
    commit_files(
        repo,
        {k: v for k, v in files.items() if k != str(fresh)},
        message="db password",
        author_time=now - 200 * 86400,
    )
    commit_files(
        repo, {str(fresh): files[str(fresh)]}, message="stripe key", author_time=now - 86400
    )
    before = fresh.read_text()
    result = gitrot("rotate", "--due", "--reason", "Scheduled rotation (weekly job)")
    assert result.code == 0, result.err
    assert "version: 2" in old_db.read_text()
    assert fresh.read_text() == before  # 1 day old, 90 days allowed: not due
    assert result.out.startswith("## Scheduled credential rotation: 1 secret")
    assert "| `payments/db-password` | 1 → 2 |" in result.out
    assert "overdue by 110d" in result.out
    due = gitrot("due", "--format", "json")
    assert due.code == 0
