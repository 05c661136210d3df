"""The real pre-commit installs gitrot's hooks with ``repo:`` + ``rev:`` (the committed copy
of this checkout that tests/precommit/conftest.py makes) and runs them on commits."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.precommit.conftest import BIN, GIT
from tests.precommit.conftest import env as _env


def _commit(repo: Path, env: dict[str, str], message: str) -> subprocess.CompletedProcess[str]:
    subprocess.run([*GIT, "add", "-A"], cwd=repo, check=True, env=env, timeout=60)
    return subprocess.run(
        [*GIT, "commit", "-m", message],
        cwd=repo,
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_pre_commit_refuses_a_commit_with_a_secret(
    hook_repo: tuple[Path, str], pre_commit_home: Path, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    hooks, sha = hook_repo
    env = _env(pre_commit_home)
    repo = tmp_path / "app"
    repo.mkdir()
    subprocess.run([*GIT, "init", "-q"], cwd=repo, check=True, env=env, timeout=60)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {sha}\n    hooks:\n"
        "      - id: gitrot-scan\n      - id: gitrot-validate\n"
    )
    subprocess.run([str(BIN / "pre-commit"), "install"], cwd=repo, check=True, env=env, timeout=60)

    (repo / "app.py").write_text('print("hello")\n')
    clean = _commit(repo, env, "clean")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    hook_output = clean.stdout + clean.stderr  # git shows the hook's output on stderr
    assert "gitrot scan" in hook_output and "Passed" in hook_output

    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    (repo / "deploy_key").write_bytes(key)
    refused = _commit(repo, env, "add a key")
    assert refused.returncode != 0
    hook_output = refused.stdout + refused.stderr
    finding = "deploy_key:1:1: error: [private-key] OPENSSH private key block (hmac:"
    assert finding in hook_output, hook_output
    assert key.decode().splitlines()[1] not in hook_output

    (repo / "deploy_key").unlink()
    (repo / "config.yaml").write_text("db:\n  user: app\n  password: hunter2\n")
    refused = _commit(repo, env, "add a config")
    assert refused.returncode != 0
    hook_output = refused.stdout + refused.stderr
    assert "config.yaml:3:13: error: [plaintext-password]" in hook_output, hook_output
    assert "hunter2" not in hook_output

    (repo / "config.yaml").write_text(
        "db:\n  user: app\n  password: ${DB_PASSWORD}\n"
        "  # gitrot: allow generated in CI, never reused\n"
    )
    ok = _commit(repo, env, "config from the environment")
    assert ok.returncode == 0, ok.stdout + ok.stderr


@pytest.mark.slow
def test_pre_commit_judges_rotations_in_a_policy_repository(
    hook_repo: tuple[Path, str], pre_commit_home: Path, tmp_path: Path
) -> None:
    """The hooks installed with repo: + rev: in a policy repository: a valid rotation
    commits; a ref left in clear, a second rotation the same day and a pasted private key
    are refused with their findings."""
    hooks, sha = hook_repo
    env = _env(pre_commit_home)
    gitrot = [str(BIN / "gitrot")]
    repo = tmp_path / "policy"
    subprocess.run([*gitrot, "init", str(repo)], check=True, env=env, capture_output=True)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {sha}\n    hooks:\n"
        "      - id: gitrot-validate\n      - id: gitrot-scan\n"
    )
    new = [*gitrot, "new", "payments/db-password", "--backend", "local", "--ref", "db/pw"]
    new += ["--owner", "team-payments", "--class", "database-password"]
    subprocess.run(new, cwd=repo, check=True, env=env, capture_output=True)
    subprocess.run([str(BIN / "pre-commit"), "install"], cwd=repo, check=True, env=env, timeout=60)
    month_ago = {**env, "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z"}
    month_ago["GIT_COMMITTER_DATE"] = "2026-01-01T00:00:00Z"
    first = _commit(repo, month_ago, "a policy repository with one secret")
    assert first.returncode == 0, first.stdout + first.stderr

    intent = repo / "secrets" / "payments" / "db-password.yaml"
    original = intent.read_text()
    intent.write_text(
        "\n".join(
            "        ref: db/pw" if line.strip().startswith("ref: ENC[") else line
            for line in original.splitlines()
        )
        + "\n"
    )
    refused = _commit(repo, env, "ref in clear")
    assert refused.returncode != 0
    assert "[schema] spec.target.ref is not encrypted" in refused.stdout + refused.stderr
    intent.write_text(original)

    rotate = [*gitrot, "rotate", "payments/db-password", "--reason", "Quarterly rotation CHG-1"]
    subprocess.run(rotate, cwd=repo, check=True, env=env, capture_output=True)
    ok = _commit(repo, env, "Rotate payments/db-password (CHG-1)")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "gitrot validate" in ok.stderr + ok.stdout

    rotate[-1] = "Another rotation CHG-2"
    subprocess.run(rotate, cwd=repo, check=True, env=env, capture_output=True)
    refused = _commit(repo, env, "rotate again")
    assert refused.returncode != 0
    output = refused.stdout + refused.stderr
    assert "error: [min-interval] the secret was rotated less than" in output, output
    subprocess.run([*GIT, "checkout", "-q", "--", "secrets"], cwd=repo, check=True, env=env)

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    (repo / "notes.txt").write_bytes(key)
    refused = _commit(repo, env, "keep a key around")
    assert refused.returncode != 0
    assert "notes.txt:1:1: error: [private-key]" in refused.stdout + refused.stderr
