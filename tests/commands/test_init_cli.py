"""gitrot init on what is already there: an older gitrot.yaml gets the signing key appended
(nothing else touched), a foreign signing key is warned about, damaged key files and a bad
--break-glass are one-line refusals (exit 2), and the pre-commit notes say what to do."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from gitrot.files import repo

BREAK_GLASS = "age1wzr0ecuqtrxy5nap4ucjpl8a56pr0dmtvv3w90ecka0q98fdrassl8f0sw"


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """gitrot on PATH (as after pip install): init writes the pre-commit hook."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def _made(gitrot, root: Path) -> str:  # type: ignore[no-untyped-def]
    result = gitrot("init", str(root))
    assert result.code == 0, result.err
    return str(result.out)


def test_a_bad_break_glass_recipient_is_refused_before_anything_is_written(
    gitrot, tmp_path: Path
) -> None:
    result = gitrot("init", str(tmp_path / "r"), "--break-glass", "ssh-ed25519 AAAA")
    assert result.code == 2
    assert result.err.splitlines() == [
        "gitrot: error: --break-glass 'ssh-ed25519 AAAA' is not an age recipient (age1...)"
    ]
    assert not (tmp_path / "r").exists()


def test_break_glass_is_a_second_recipient(gitrot, tmp_path: Path) -> None:
    root = tmp_path / "r"
    result = gitrot("init", str(root), "--break-glass", BREAK_GLASS)
    assert result.code == 0, result.err
    recipient = result.out.strip()
    assert repo.load_config(root).recipients == {
        "reconciler": recipient,
        "break-glass": BREAK_GLASS,
    }
    assert BREAK_GLASS in (root / ".sops.yaml").read_text()


@pytest.mark.parametrize("ending", ["\n", ""])
def test_an_older_config_gets_the_signing_key_appended(gitrot, tmp_path: Path, ending: str) -> None:
    root = tmp_path / "r"
    _made(gitrot, root)
    config = root / "gitrot.yaml"
    text = config.read_text()
    start = text.index("reconciler:\n  signing_key:")
    older = text[:start] + text[start:].split("\n", 2)[2]  # as gitrot init wrote it before
    config.write_text(older.rstrip("\n") + ending)
    os.chmod(config, 0o640)
    result = gitrot("init", str(root))
    assert result.code == 0, result.err
    assert "gitrot: added reconciler.signing_key to gitrot.yaml; commit it" in result.err
    assert "gitrot: created gitrot.yaml (reconciler.signing_key)" in result.err
    public = repo.load_config(root).signing_key
    assert public is not None and public.startswith("ssh-ed25519 ")
    assert config.read_text() == older.rstrip("\n") + f"\nreconciler:\n  signing_key: {public}\n"
    assert config.stat().st_mode & 0o777 == 0o640
    again = gitrot("init", str(root))
    assert "nothing changed" in again.err


def test_another_signing_key_in_the_config_is_warned_about(gitrot, tmp_path: Path) -> None:
    root = tmp_path / "r"
    _made(gitrot, root)
    config = root / "gitrot.yaml"
    theirs = repo.load_config(root).signing_key
    assert theirs is not None
    (root / ".gitrot" / "signing.key").unlink()  # a new key is made: it differs
    before = config.read_text()
    result = gitrot("init", str(root))
    assert result.code == 0, result.err
    assert (
        "gitrot: warning: gitrot.yaml names another reconciler.signing_key than "
        ".gitrot/signing.key; the state this reconciler signs will not verify" in result.err
    )
    assert config.read_text() == before


@pytest.mark.parametrize(
    ("name", "content", "message", "hint"),
    [
        (
            "reconciler.key",
            "# no identity here\n",
            "holds no age identity",
            "remove it to make a new one",
        ),
        (
            "signing.key",
            "not a key\n",
            "is not an unencrypted Ed25519 OpenSSH private key",
            "remove it to make a new one (then commit the new reconciler.signing_key)",
        ),
    ],
)
def test_a_damaged_key_file_is_refused(
    gitrot, tmp_path: Path, name: str, content: str, message: str, hint: str
) -> None:
    root = tmp_path / "r"
    (root / ".gitrot").mkdir(parents=True)
    (root / ".gitrot" / name).write_text(content)
    result = gitrot("init", str(root))
    assert result.code == 2
    assert result.err.splitlines() == [
        f"gitrot: error: {message} ({root}/.gitrot/{name})",
        f"hint: {hint}",
    ]
    assert (root / ".gitrot" / name).read_text() == content
    assert not (root / "gitrot.yaml").exists()


def test_a_folder_named_gitrot_yaml_is_refused(gitrot, tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "gitrot.yaml").mkdir(parents=True)
    result = gitrot("init", str(root))
    assert result.code == 2
    assert result.err.splitlines()[-2:] == [
        f"gitrot: error: is a directory, not a file ({root}/gitrot.yaml)",
        "hint: name a file",
    ]


def test_a_policy_folder_in_an_application_repository_gets_pre_commit_notes(
    gitrot, tmp_path: Path, on_path: None
) -> None:
    """pre-commit reads only the top's .pre-commit-config.yaml: an existing one without the
    hook is left as it is and the hook to add is printed; one in the subfolder is warned
    about."""
    app = tmp_path / "app"
    _made(gitrot, app)  # a git repository with its own hook file
    top_config = app / ".pre-commit-config.yaml"
    top_config.write_text("repos: []\n")
    policy = app / "infra" / "policy"
    policy.mkdir(parents=True)
    (policy / ".pre-commit-config.yaml").write_text("repos: []\n")
    result = gitrot("init", str(policy))
    assert result.code == 0, result.err
    assert top_config.read_text() == "repos: []\n"
    assert (
        "gitrot: warning: pre-commit never reads .pre-commit-config.yaml in a subfolder, only "
        "../../.pre-commit-config.yaml at the top of the git repository: move its hooks there"
        in result.err
    )
    note = result.err[result.err.index("gitrot: ../../.pre-commit-config.yaml has no") :]
    assert note.startswith(
        "gitrot: ../../.pre-commit-config.yaml has no gitrot-validate hook; add it under repos:"
    )
    assert "  - repo: local\n    hooks:\n      - id: gitrot-validate" in note
    assert "files: '^infra/policy/" in note


def test_without_gitrot_on_path_no_hook_file_is_written(
    gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git = shutil.which("git")
    assert git is not None
    monkeypatch.setenv("PATH", os.path.dirname(git))
    if shutil.which("gitrot"):
        pytest.fail("gitrot is installed next to git; this test needs it off PATH")
    root = tmp_path / "r"
    result = gitrot("init", str(root))
    assert result.code == 0, result.err
    assert "gitrot: gitrot is not on PATH, so no .pre-commit-config.yaml was written" in result.err
    assert not (root / ".pre-commit-config.yaml").exists()
