"""A second red team on the trust model (issue 10, after the four workstreams): what still
got through on a repository made by ``gitrot init --owner lead --waiver-approver alice``.

(a) A sealed value the reconciler cannot use (decrypting to an int: ``type:int`` is visible
in its ``ENC[...]``; sealed for another recipient; a changed MAC): the PR check and
whole-repository ``validate`` refuse what they can see without a key, and ``reconcile``
refuses that secret alone, applying and recording the rest.
(b) A committed symbolic link as gitrot.yaml, waivers.yaml, a rule file or an intent: git
holds the link's path, not the file; the PR check never reads that path as the file's
content, and the hook refuses the link too.
(c) A failing consumer that prints the value split across lines or in parts (plain, or
base64 wrapped): no piece of it reaches the note or the output.

Every test: a PR branch, ``gitrot check`` with the PR facts CI gives, a merge and ``gitrot
reconcile`` where it applies, asserting the refusal and that no value leaked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.reconcile.conftest import intent_name
from tests.reconcile.helpers import cli, environment, git, read_log, run

if TYPE_CHECKING:
    from pathlib import Path

    from tests.reconcile.conftest import MakeRepo
    from tests.reconcile.helpers import PolicyRepo

#: CI's facts: ``dev`` wrote the pull request, ``alice`` approved it
FACTS = {"GITROT_PR_AUTHOR": "dev", "GITROT_PR_APPROVALS": "alice"}
GOOD, BAD = intent_name(0), intent_name(1)


def check(repo: PolicyRepo, **facts: str) -> subprocess.CompletedProcess[str]:
    """``gitrot check --base main`` on the checked-out branch, with CI's facts."""
    done = run(repo.root, "check", "--base", "main", env=environment(**(FACTS | facts)))
    assert "Traceback" not in done.stderr and "unexpected" not in done.stderr, done.stderr
    return done


def merge(repo: PolicyRepo, branch: str = "pr") -> None:
    git(repo.root, "checkout", "--quiet", "main")
    git(repo.root, "merge", "--quiet", "--no-ff", "--no-edit", branch)


def reconcile(repo: PolicyRepo) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    done = run(repo.root, "reconcile", "--format", "json")
    assert "Traceback" not in done.stderr and "unexpected" not in done.stderr, done.stderr
    return done, json.loads(done.stdout)


def every_object(repo: PolicyRepo) -> str:
    """The text of every object in the repository (notes and state included)."""
    ids = git(repo.root, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    return "\n".join(git(repo.root, "cat-file", "-p", oid) for oid in ids.split())


# -- (a) a sealed value the reconciler cannot use ---------------------------------------------


def _reseal(repo: PolicyRepo, path: Path, how: str, value: str, tmp_path: Path) -> None:
    """Replace the sealed document at ``path`` (holding ``value``) the attacker's way."""
    if how == "bad-mac":
        text = path.read_text()
        mac = re.search(r"mac: ENC\[AES256_GCM,data:([A-Za-z0-9+/]{8})", text)
        assert mac is not None
        flipped = mac[1][:-1] + ("A" if mac[1][-1] != "A" else "B")
        path.write_text(text.replace(mac[0], mac[0][: -len(mac[1])] + flipped))
        return
    header = path.read_text().split("value:")[0]
    if how == "int":
        path.write_text(header + "value: 4242424242\n")
        assert cli(repo.root, "encrypt", "-i", os.path.relpath(path, repo.root)) == 0
        assert "type:int]" in path.read_text()  # what the PR check can see without a key
        return
    import pyrage

    other = str(pyrage.x25519.Identity.generate().to_public())
    plain = tmp_path / "plain.sealed.yaml"
    plain.write_text(header + f"value: {value}\n")
    path.unlink()
    args = ("encrypt", str(plain), "--age", other, "--encrypted-regex", "^value$")
    assert cli(repo.root, *args, "-o", str(path)) == 0
    plain.unlink()
    assert repo.recipient() not in path.read_text()


@pytest.mark.parametrize("how", ["int", "other-recipient", "bad-mac"])
def test_a_sealed_value_the_reconciler_cannot_open_is_refused_alone(
    make_repo: MakeRepo, trigger_log: Path, tmp_path: Path, how: str
) -> None:
    repo = make_repo(2)
    assert reconcile(repo)[0].returncode == 0
    git(repo.root, "checkout", "--quiet", "-b", "pr")
    repo.rotate(GOOD)
    value = "attacker-chosen-value-5f1c0e7d2b"
    version = repo.rotate(BAD, value=value)
    sealed = repo.root / "secrets" / f"{BAD}.v{version}.sealed.yaml"
    _reseal(repo, sealed, how, value, tmp_path)
    repo.commit("Rotate both (one sealed value tampered with)")
    relative = f"secrets/{BAD}.v{version}.sealed.yaml"

    done = check(repo)
    whole = run(repo.root, "validate")
    if how == "bad-mac":  # the MAC is encrypted: no key, no way to tell
        assert done.returncode == 0, done.stdout
    else:
        assert done.returncode == 1, done.stdout
        assert f"{relative}:" in done.stdout and "the reconciler would refuse it" in done.stdout
        assert whole.returncode == 1 and f"{relative}:" in whole.stdout

    merge(repo)
    first, report = reconcile(repo)
    assert first.returncode == 1, first.stderr
    assert [r["name"] for r in report["refused"]] == [BAD]  # type: ignore[index]
    assert [(a["name"], a["version"]) for a in report["applied"]] == [(GOOD, 2)]  # type: ignore[index]
    assert repo.state()[GOOD]["version"] == 2  # recorded
    again, report = reconcile(repo)
    assert again.returncode == 1 and report["deliveries"] == []
    assert len(read_log(trigger_log)[(GOOD, 2)]) == 1  # told once
    for text in (done.stdout, done.stderr, whole.stdout, first.stdout, first.stderr):
        assert value not in text and "4242424242" not in text
    assert value not in every_object(repo)


# -- (b) committed symbolic links ---------------------------------------------------------------


def _link(repo: PolicyRepo, relative: str, target: str) -> None:
    """Move ``relative`` to ``target`` (repo-relative) and put a symlink to it in its place."""
    path = repo.root / relative
    moved = repo.root / target
    moved.parent.mkdir(parents=True, exist_ok=True)
    path.rename(moved)
    path.symlink_to(os.path.relpath(moved, path.parent))


@pytest.mark.parametrize(
    "relative",
    ["gitrot.yaml", "waivers.yaml", "policies/extra.yaml", f"secrets/{GOOD}.yaml"],
)
def test_a_committed_symlink_is_never_read_as_the_file(make_repo: MakeRepo, relative: str) -> None:
    repo = make_repo(2)
    if relative == "policies/extra.yaml":
        (repo.root / relative).write_text(
            "apiVersion: gitrot/v1\nkind: PolicyRules\nrules:\n"
            "  - id: reason-long\n    severity: error\n    description: Say why.\n"
            "    expr: size(intent.spec.reason) > 5\n    message: say why\n"
        )
        repo.commit("A rule file")
    git(repo.root, "checkout", "--quiet", "-b", "pr")
    _link(repo, relative, f"elsewhere/{relative.replace('/', '-')}")
    repo.commit("The file moves; a link stays")
    assert git(repo.root, "ls-files", "-s", relative).startswith("120000")
    done = check(repo, GITROT_PR_APPROVALS="alice,lead")  # even with the owner's approval
    assert done.returncode in (1, 2)
    assert "is a symbolic link: gitrot reads its policy files as regular files only" in (
        done.stdout + done.stderr
    )
    hook = run(repo.root, "validate")
    assert hook.returncode in (1, 2) and "is a symbolic link" in hook.stdout + hook.stderr


# -- (c) a value printed in pieces --------------------------------------------------------------

PIECES = {
    # the middle of the value on the last line, its start and end on lines before
    "split": "import os, sys; v = os.environ['V']; print(v[:10]); "
    "print('retry with', v[10:22], 'failed'); sys.exit(1)",
    # base64 wrapped at 12 columns, then a line quoting one chunk from the middle
    "b64-wrapped": "import base64, os, sys; b = base64.b64encode(os.environ['V'].encode()).decode(); "
    "print('\\n'.join(b[i:i + 12] for i in range(0, len(b), 12))); "
    "print('bad chunk', b[12:24]); sys.exit(2)",
}


def test_a_consumer_printing_the_value_in_pieces_leaks_none_of_it(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    import base64

    root = tmp_path / "policy"
    exec_ = f'{sys.executable} -m gitrot exec --secret "$GITROT_SECRET_NAME=V" -- {sys.executable}'
    triggers = {
        name: {"type": "command", "argv": ["sh", "-c", f'cd {root} && {exec_} -c "$0"', code]}
        for name, code in PIECES.items()
    }
    repo = make_repo(0, triggers=triggers, commit=False)
    repo.new(GOOD, consumers=tuple(PIECES))
    repo.commit()
    first, _ = reconcile(repo)
    assert first.returncode == 1, first.stderr
    value = repo.backend().read(repo.refs[GOOD], 1).reveal()
    shown = first.stdout + first.stderr
    assert shown.count("[redacted]") >= 2
    encoded = base64.b64encode(value.encode()).decode()
    pieces = {value[i : i + 6] for i in range(len(value) - 5)}
    pieces |= {encoded[i : i + 8] for i in range(len(encoded) - 7)}
    notes = git(repo.root, "log", "--notes=gitrot", "--format=%N", "--all")
    for text in (shown, notes, every_object(repo)):
        assert not [p for p in pieces if p in text]
