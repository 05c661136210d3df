"""gitrot validate as pre-commit runs it: from the top of the git work tree, with the paths
of the files a commit touches. It finds each file's policy repository from the path, passes
quietly in a repository that is not a policy repository, and names files from the top of
the git tree in every report format. gitrot init writes the hook where pre-commit reads it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent
INTENT = "secrets/payments/db-password.yaml"
FORMATS = ["text", "json", "sarif", "github", "junit", "markdown"]
NEW = ["--backend", "local", "--ref", "r", "--owner", "o", "--class", "api-key"]
# a sops file as applications keep them (not a gitrot intent)
SOPS_FILE = """\
password: ENC[AES256_GCM,data:3q2+7w==,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]
sops:
    age: []
    lastmodified: "2026-01-01T00:00:00Z"
    mac: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]
    version: 3.11.0
"""


def git_init(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """gitrot (and pre-commit) on PATH, as after pip install: init writes the hook."""
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An application's repository keeping sops files in secrets/; the current directory."""
    top = tmp_path / "app"
    git_init(top)
    (top / "secrets").mkdir()
    (top / "secrets" / "db.yaml").write_text(SOPS_FILE)
    (top / "policies").mkdir()
    (top / "policies" / "network.yaml").write_text("deny: all\n")
    monkeypatch.chdir(top)
    return top


@pytest.fixture
def monorepo(gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_path: None) -> Path:
    """A bigger repository with the policy in infra/policy (an intent whose version is 0)
    and an application's sops file in app/secrets/; the current directory is its top."""
    top = tmp_path / "mono"
    git_init(top)
    policy = top / "infra" / "policy"
    assert gitrot("init", str(policy)).code == 0
    monkeypatch.chdir(policy)
    assert gitrot("new", "payments/db-password", *NEW).code == 0
    intent = policy / INTENT
    intent.write_text(intent.read_text().replace("version: 1", "version: 0"))
    (top / "app" / "secrets").mkdir(parents=True)
    (top / "app" / "secrets" / "db.yaml").write_text(SOPS_FILE)
    monkeypatch.chdir(top)
    return top


def test_outside_a_policy_repository_the_hook_passes_quietly(gitrot, app: Path) -> None:
    """The files pre-commit passes in an application's repository: not gitrot's."""
    for fmt in FORMATS:
        result = gitrot("validate", "--format", fmt, "secrets/db.yaml", "policies/network.yaml")
        assert result.code == 0, (fmt, result.err)
        assert result.err == ""
        if fmt == "text":
            assert result.out == ""


def test_without_files_outside_a_policy_repository_is_still_an_error(gitrot, app: Path) -> None:
    """Run by hand (no FILE), the user asked about the repository here: there is none."""
    result = gitrot("validate")
    assert result.code == 2 and "not in a gitrot repository" in result.err


def test_the_policy_folder_is_found_from_the_paths(gitrot, monorepo: Path) -> None:
    """From the top of the git tree, with pre-commit's paths: the policy's file is judged,
    the application's sops file is skipped."""
    result = gitrot("validate", f"infra/policy/{INTENT}", "app/secrets/db.yaml")
    assert result.code == 1
    (line,) = [line for line in result.out.splitlines() if not line.startswith(" ")]
    assert line.startswith(f"infra/policy/{INTENT}:9:5: error: [schema]"), result.out
    assert result.err.strip() == "gitrot: 1 error in 1 file"
    alone = gitrot("validate", "app/secrets/db.yaml")
    assert (alone.code, alone.out, alone.err) == (0, "", "")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_names_files_from_the_top_of_the_git_tree(
    gitrot, monorepo: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """One rule for every format, as gitrot check: from the top, whether run there with
    the paths or in the policy folder without any."""
    for where, args in ((monorepo, [f"infra/policy/{INTENT}"]), (monorepo / "infra/policy", [])):
        monkeypatch.chdir(where)
        result = gitrot("validate", "--format", fmt, *args)
        assert result.code == 1, result.err
        assert f"infra/policy/{INTENT}" in result.out, result.out
        # no path from the policy folder: every mention of the intent has the prefix
        assert not re.search(rf"(?<!infra/policy/){re.escape(INTENT)}", result.out), result.out
        if fmt == "json":
            assert {row["file"] for row in json.loads(result.out)} <= {
                f"infra/policy/{INTENT}",
                "infra/policy/gitrot.yaml",
            }


def test_an_intent_named_gitrot_yaml_is_not_a_policy_root(
    gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """secrets/team/gitrot.yaml is the intent of the secret team/gitrot: judged with the
    repository's policy, not taken for a policy repository of its own."""
    root = tmp_path / "policy"
    assert gitrot("init", str(root)).code == 0
    monkeypatch.chdir(root)
    assert gitrot("new", "team/gitrot", *NEW).code == 0
    intent = root / "secrets" / "team" / "gitrot.yaml"
    intent.write_text(intent.read_text().replace("version: 1", "version: 0"))
    monkeypatch.chdir(tmp_path)  # not in the policy: the root comes from the path
    result = gitrot("validate", "--format", "json", str(intent))
    assert result.code == 1, result.err
    (row,) = json.loads(result.out)
    assert row["file"] == "secrets/team/gitrot.yaml" and row["rule_id"] == "schema"


def test_in_a_policy_repository_a_file_outside_it_is_an_input_error(
    gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "policy"
    assert gitrot("init", str(root)).code == 0
    monkeypatch.chdir(root)
    (tmp_path / "x.yaml").write_text("a: 1\n")
    result = gitrot("validate", str(tmp_path / "x.yaml"))
    assert result.code == 2 and "outside the policy repository" in result.err


# -- gitrot init and the hook's configuration -------------------------------------------------


def hook(config: Path) -> dict[str, object]:
    document = yaml.safe_load(config.read_text())
    ((repo,),) = [document["repos"]]
    (found,) = repo["hooks"]
    assert isinstance(found, dict)
    return found


def test_init_in_a_subfolder_writes_the_hook_at_the_top(
    gitrot, tmp_path: Path, on_path: None
) -> None:
    top = tmp_path / "mono"
    git_init(top)
    result = gitrot("init", str(top / "infra" / "policy"))
    assert result.code == 0, result.err
    assert not (top / "infra" / "policy" / ".pre-commit-config.yaml").exists()
    config = top / ".pre-commit-config.yaml"
    spec = hook(config)
    assert spec["entry"] == "gitrot validate" and spec["require_serial"] is True
    files = re.compile(str(spec["files"]))
    assert files.search(f"infra/policy/{INTENT}") and files.search("infra/policy/gitrot.yaml")
    assert not files.search(INTENT) and not files.search(f"app/{INTENT}")
    assert "created ../../.pre-commit-config.yaml" in result.err
    assert "run 'pre-commit install'" in result.err
    checked = subprocess.run(
        [str(BIN / "pre-commit"), "validate-config", str(config)], capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    before = config.read_text()
    again = gitrot("init", str(top / "infra" / "policy"))
    assert again.code == 0 and "nothing changed" in again.err
    assert config.read_text() == before


def test_init_never_edits_an_existing_top_level_config(
    gitrot, tmp_path: Path, on_path: None
) -> None:
    top = tmp_path / "mono"
    git_init(top)
    mine = "repos:\n  - repo: local\n    hooks: []\n"
    (top / ".pre-commit-config.yaml").write_text(mine)
    result = gitrot("init", str(top / "infra" / "policy"))
    assert result.code == 0, result.err
    assert (top / ".pre-commit-config.yaml").read_text() == mine
    assert "has no gitrot-validate hook; add it under repos:" in result.err
    assert "files: '^infra/policy/(gitrot" in result.err
    assert not (top / "infra" / "policy" / ".pre-commit-config.yaml").exists()


def test_init_at_the_top_anchors_the_hook_there(gitrot, tmp_path: Path, on_path: None) -> None:
    result = gitrot("init", str(tmp_path / "policy"))
    assert result.code == 0
    spec = hook(tmp_path / "policy" / ".pre-commit-config.yaml")
    assert spec["language"] == "system" and spec["require_serial"] is True
    files = re.compile(str(spec["files"]))
    assert files.search(INTENT) and not files.search(f"app/{INTENT}")
    assert "run 'pre-commit install' in " in result.err


def test_init_writes_no_system_hook_without_gitrot_on_path(
    gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A language: system hook runs gitrot from PATH: without it, every commit would fail."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr("shutil.which", lambda *_args, **_kw: None)
    result = gitrot("init", str(tmp_path / "policy"))
    assert result.code == 0, result.err
    assert not (tmp_path / "policy" / ".pre-commit-config.yaml").exists()
    assert "gitrot is not on PATH, so no .pre-commit-config.yaml was written" in result.err
    assert "published hooks" in result.err
