"""gitrot scan: findings located and fingerprinted, suppressions, skips and exit codes."""

from __future__ import annotations

import json
import random
import string
import subprocess
from pathlib import Path

import pytest


def token(seed: int = 1) -> str:
    rng = random.Random(seed)
    return "ghp_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(36))


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clean.yaml").write_text("name: app\npassword: ${DB_PASSWORD}\n")
    (tmp_path / "leak.py").write_text(f'import os\nGH = "{token()}"\n')
    (tmp_path / "config.yaml").write_text("db:\n  password: hunter2\n")
    return tmp_path


def test_clean_files_exit_0(gitrot, files: Path) -> None:
    result = gitrot("scan", "clean.yaml")
    assert result == (0, "", "")


def test_findings_are_located_and_fingerprinted(gitrot, files: Path) -> None:
    result = gitrot("scan", "clean.yaml", "leak.py", "config.yaml")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0].startswith("leak.py:2:7: error: [github-token] GitHub token (hmac:")
    assert lines[1].startswith(
        "config.yaml:2:13: error: [plaintext-password] plaintext password in 'password'"
    )
    assert len(lines) == 2
    assert token() not in result.out + result.err and "hunter2" not in result.out + result.err
    assert "2 possible secret(s) in 2 file(s)" in result.err


def test_json_output(gitrot, files: Path) -> None:
    result = gitrot("scan", "--format", "json", "leak.py")
    assert result.code == 1
    (row,) = json.loads(result.out)
    assert row["file"] == "leak.py" and (row["line"], row["column"]) == (2, 7)
    assert row["rule"] == "github-token" and row["fingerprint"].startswith("hmac:")
    assert token() not in result.out
    assert json.loads(gitrot("scan", "--format", "json", "clean.yaml").out) == []


def test_allowlist_by_fingerprint_reason_and_path(gitrot, files: Path) -> None:
    assert gitrot("scan", "--init").code == 0
    allow = files / ".gitrot-scan-allow.yaml"
    salt = allow.read_text().split("salt: ")[1].split()[0]
    assert gitrot("scan", "--init").code == 0 and salt in allow.read_text()  # kept
    (row,) = json.loads(gitrot("scan", "--format", "json", "leak.py").out)
    allow.write_text(
        f"# accepted findings\nsalt: {salt}\nallow:\n  - fingerprint: {row['fingerprint']}\n"
        "    reason: revoked demo token\n"
    )
    assert gitrot("scan", "leak.py").code == 0
    allow.write_text(
        f"salt: {salt}\nallow:\n  - fingerprint: {row['fingerprint']}\n    reason: fixture\n"
        "    path: tests/*\n"
    )
    assert gitrot("scan", "leak.py").code == 1  # the glob does not match leak.py
    (files / "tests").mkdir()
    (files / "tests" / "leak.py").write_text((files / "leak.py").read_text())
    assert gitrot("scan", "tests/leak.py").code == 0
    other = files / "other.yaml"
    other.write_text(
        f"salt: {salt}\nallow:\n  - fingerprint: {row['fingerprint']}\n    reason: elsewhere\n"
    )
    assert gitrot("scan", "--allowlist", "other.yaml", "leak.py").code == 0
    # another salt (another repository) keys the same secret another way
    other.write_text(other.read_text().replace(salt, salt[::-1]))
    assert gitrot("scan", "--allowlist", "other.yaml", "leak.py").code == 1


def test_init_adds_a_salt_to_an_old_allowlist_whose_entries_must_migrate(
    gitrot, files: Path
) -> None:
    allow = files / ".gitrot-scan-allow.yaml"
    allow.write_text("allow:\n  - fingerprint: sha256:0123456789abcdef\n    reason: old\n")
    result = gitrot("scan", "leak.py")
    assert result.code == 2 and "unsalted sha256: fingerprint" in result.err
    assert "gitrot scan --init" in result.err
    assert gitrot("scan", "--init").code == 0
    assert allow.read_text().startswith("salt: ")
    assert gitrot("scan", "leak.py").code == 2  # the old entry is still refused


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("allow:\n  - fingerprint: hmac:0123456789abcdef\n", "needs a 'reason'"),
        ("allow:\n  - fingerprint: ghp_secret\n    reason: x\n", "'fingerprint' must be"),
        (
            "allow:\n  - fingerprint: hmac:0123456789abcdef\n    reason: x\n    secret: y\n",
            "unknown key 'secret'",
        ),
        ("allow:\n  - fingerprint: hmac:0123456789abcdef\n    reason: x\n", "no 'salt'"),
        ("salt: short\nallow: []\n", "'salt' must be"),
        ("allow:\n  - fingerprint: sha256:0123456789abcdef\n    reason: x\n", "unsalted"),
        ("allowed: []\n", "unknown key 'allowed'"),
        ("allow: yes\n", "'allow' must be a list"),
        ("allow: [\n", ""),
    ],
)
def test_a_bad_allowlist_is_an_input_error(gitrot, files: Path, content: str, message: str) -> None:
    (files / ".gitrot-scan-allow.yaml").write_text(content)
    result = gitrot("scan", "clean.yaml")
    assert result.code == 2
    assert result.err.startswith("gitrot: error: ") and message in result.err
    assert ".gitrot-scan-allow.yaml" in result.err


def test_an_unreadable_allowlist_is_an_input_error(gitrot, files: Path) -> None:
    result = gitrot("scan", "--allowlist", "missing.yaml", "clean.yaml")
    assert result.code == 2 and "missing.yaml" in result.err


def test_binary_files_are_skipped_and_huge_files_scanned_in_windows(gitrot, files: Path) -> None:
    (files / "blob.bin").write_bytes(b"\0\1" + token().encode())
    (files / "huge.txt").write_text("a" * (5 * 1024 * 1024 + 1))
    result = gitrot("scan", "blob.bin", "huge.txt", "clean.yaml")
    assert result.code == 0 and result.out == ""
    assert "skipped blob.bin: binary file" in result.err and "huge.txt" not in result.err
    lines = 9 * 1024 * 1024 // 64  # 9 MiB: three windows
    (files / "huge.txt").write_text(("x" * 63 + "\n") * lines + f"key = {token()}\n")
    result = gitrot("scan", "huge.txt")
    assert result.code == 1 and f"huge.txt:{lines + 1}:7:" in result.out
    assert token() not in result.out + result.err


def test_a_missing_file_is_an_input_error_after_the_scan(gitrot, files: Path) -> None:
    result = gitrot("scan", "nope.txt", "leak.py")
    assert result.code == 2
    assert "nope.txt" in result.err and "leak.py:2:7" in result.out


def test_without_files_it_scans_what_git_tracks(gitrot, files: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=files, check=True)
    subprocess.run(["git", "add", "clean.yaml", "leak.py"], cwd=files, check=True)
    result = gitrot("scan")
    assert result.code == 1
    assert [line.split(":")[0] for line in result.out.splitlines()] == ["leak.py"]


def test_the_hooks_manifest_offers_validate_and_scan() -> None:
    import yaml

    manifest = Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml"
    hooks = {hook["id"]: hook for hook in yaml.safe_load(manifest.read_text())}
    assert hooks["gitrot-validate"]["entry"] == "gitrot validate"
    assert hooks["gitrot-scan"]["entry"] == "gitrot scan"
    assert all(h["language"] == "python" for h in hooks.values())
    assert hooks["gitrot-validate"]["minimum_pre_commit_version"] == "3.0.0"
    import re

    files = re.compile(hooks["gitrot-validate"]["files"])
    assert files.search("secrets/payments/db.yaml") and files.search("gitrot.yaml")
    assert not files.search("src/app.py")
