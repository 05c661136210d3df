"""``gitrot audit`` (the real CLI, a child process) on generated policy histories whose
commits are signed every way people sign them, and some ways they should not: the statuses
of docs/audit.md ("Signatures"), checked against git's own ``%G?`` and ``verify-commit``
where git has an opinion.

One history (built once for the module, :func:`mixed`): ``--no-ff`` merges, a squash
merge, a rebased and fast-forwarded branch and a force-push that drops a merged rotation;
rotations made by ``gitrot rotate --commit`` with git's signing configuration (SSH
Ed25519 and ECDSA keys from ssh-keygen, an OpenPGP key in a throwaway ``GNUPGHOME``) or
none; a commit signed by a key the allowed-signers file allows for someone else; a commit
signed by a key allowed only until 2024-01-01, committed at a 2023 date (git judges the
key at that date, gitrot at the reconciler's note, written now); an RSA key retired before
the history began (expired for git too); a key nobody allowed; and
a signed commit whose message was changed afterwards (git stores it all the same).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.audit.histories import ALICE, BOB, CAROL, History, patched_env
from tests.audit.signing import SshKey, gpg_home, gpg_key, gpg_stop, ssh_key
from tests.conftest import require_tool
from tests.reconcile.helpers import environment, run

DB, KEY, MAIL = "payments/db", "search/key", "mail/smtp"
SECRETS = {DB: "prod", KEY: "dev", MAIL: "prod"}
#: the old key's window: the history's clock (2023-11) is inside it, the notes' time is not
OLD_WINDOW = 'valid-after="20230101Z",valid-before="20240101Z"'
#: a key retired before the history began: git too sees it expired at the commit's date
GONE_WINDOW = 'valid-before="20231101Z"'
#: what git's %G? says for each status of gitrot (docs/audit.md, "Signatures"): git does
#: not check the signer against the committer, and checks a key's window at the commit's
#: own date, where the backdated commit is inside it
GIT_LETTER = {
    "good": "G",
    "unsigned": "N",
    "bad": "B",
    "unknown-key": "U",
    "wrong-principal": "G",
    "expired": "G",
}


@dataclass
class Signed:
    """A history, the allowed-signers file and keyring to judge it, and what each commit of
    its ledger must be: ``expected[label] = (commit, status)``."""

    history: History
    allowed: Path
    gnupghome: Path
    keys: dict[str, SshKey]
    gpg: str
    expected: dict[str, tuple[str, str]]

    def env(self) -> dict[str, str]:
        return environment(GNUPGHOME=str(self.gnupghome))

    def audit(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run(self.history.root, "audit", *args, env=self.env())

    def document(self, *args: str) -> dict[str, Any]:
        done = self.audit("--format", "json", *args)
        assert done.returncode == 0, done.stderr
        document: dict[str, Any] = json.loads(done.stdout)
        return document

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        allowed = f"gpg.ssh.allowedSignersFile={self.allowed}"
        return subprocess.run(["git", "-c", allowed, *args], cwd=self.history.root,
                              env=self.env(), capture_output=True, text=True, check=check)  # fmt: skip


def signatures(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``{commit: signature}`` over every row of the json document (each commit once: a
    commit in two rows must be judged the same in both)."""
    found: dict[str, dict[str, str]] = {}
    for row in document["rows"]:
        assert set(row["signatures"]) == {row["commit"], row["merge_commit"]}
        for commit, signature in row["signatures"].items():
            assert found.setdefault(commit, signature) == signature
    return found


@contextlib.contextmanager
def signing(
    history: History, *, ssh: SshKey | None = None, gpg: str | None = None
) -> Iterator[None]:
    """git's own signing configuration in the repository while the block runs (``gitrot
    rotate --commit`` and ``git merge``/``commit`` sign with it)."""
    settings = {
        "gpg.format": "ssh" if ssh is not None else "openpgp",
        "user.signingkey": str(ssh.path) if ssh is not None else str(gpg),
        "commit.gpgsign": "true",
    }
    for name, value in settings.items():
        history.git("config", name, value, when=history.clock)
    try:
        yield
    finally:
        for name in settings:
            history.git("config", "--unset", name, when=history.clock)


def tamper(history: History, branch: str, old: bytes, new: bytes) -> str:
    """``branch``'s tip rewritten with ``old`` replaced by ``new`` in its message, its
    signature kept (git writes the object without checking it); the new commit id."""
    env = environment()
    raw = subprocess.run(["git", "cat-file", "commit", branch], cwd=history.root, env=env,
                         capture_output=True, check=True).stdout  # fmt: skip
    assert raw.count(old) == 1 and b"-----BEGIN SSH SIGNATURE-----" in raw
    written = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin"],
                             input=raw.replace(old, new), cwd=history.root, env=env,
                             capture_output=True, check=True)  # fmt: skip
    commit = written.stdout.decode().strip()
    history.git("update-ref", f"refs/heads/{branch}", commit, when=history.clock)
    return commit


def keys_and_signers(base: Path) -> tuple[dict[str, SshKey], Path, Path, str]:
    """The SSH keys, the allowed-signers file (outside the repository), a ``GNUPGHOME`` with
    Alice's OpenPGP key (ultimately trusted, as its maker's) and its fingerprint."""
    keys_dir = base / "keys"
    keys_dir.mkdir()
    keys = {
        "alice": ssh_key(keys_dir, "alice"),
        "bob": ssh_key(keys_dir, "bob", "ecdsa-256"),
        "carol": ssh_key(keys_dir, "carol"),
        "alice-old": ssh_key(keys_dir, "alice-old"),
        "alice-gone": ssh_key(keys_dir, "alice-gone", "rsa"),
        "stranger": ssh_key(keys_dir, "stranger"),
    }
    allowed = base / "allowed_signers"
    allowed.write_text(
        "\n".join(
            [
                "# who may sign the policy repository",
                keys["alice"].line(ALICE[1]),
                keys["bob"].line(BOB[1]),
                keys["carol"].line(CAROL[1]),
                keys["alice-old"].line(ALICE[1], OLD_WINDOW),
                keys["alice-gone"].line(ALICE[1], GONE_WINDOW),
            ]
        )
        + "\n"
    )
    home = gpg_home(base)
    fingerprint = gpg_key(home, f"{ALICE[0]} <{ALICE[1]}>")
    return keys, allowed, home, fingerprint


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    require_tool("ssh-keygen")
    require_tool("gpg")
    base = tmp_path_factory.mktemp("signed")
    keys, allowed, home, fingerprint = keys_and_signers(base)
    with patched_env({"GNUPGHOME": str(home)}):
        h = History.create(base, SECRETS)
        ex: dict[str, tuple[str, str]] = {"init": (h.head(), "unsigned")}
        h.reconcile()
        # a --no-ff merge: Alice's Ed25519-signed rotation, merged by Carol (signed)
        h.branch("f-merge")
        with signing(h, ssh=keys["alice"]):
            ex["ed25519"] = (h.rotate(DB, "CHG-1 quarterly"), "good")
        with signing(h, ssh=keys["carol"]):
            ex["merge"] = (h.merge("f-merge", "Merge f-merge\n\nApproved-by: Frank"), "good")
        # a squash merge of Bob's unsigned rotation, committed and signed with GPG by Alice
        h.branch("f-squash")
        h.rotate(KEY, "CHG-2 key rotation", who=BOB)
        with signing(h, gpg=fingerprint):
            ex["gpg-squash"] = (h.squash("f-squash", "Rotate the key (#2)", who=ALICE), "good")
        # Bob's ECDSA-signed rotation, merged --no-ff by Carol without signing
        h.branch("f-ecdsa")
        with signing(h, ssh=keys["bob"]):
            ex["ecdsa"] = (h.rotate(MAIL, "CHG-3 smtp password", who=BOB), "good")
        ex["unsigned-merge"] = (h.merge("f-ecdsa", "Merge f-ecdsa"), "unsigned")
        # a branch rebased by Carol (the copy is hers, unsigned) and fast-forwarded; meanwhile
        # Alice pushed a rotation signed with Bob's key (allowed for bob@, not alice@)
        h.branch("f-rebase")
        with signing(h, ssh=keys["alice"]):
            h.rotate(DB, "CHG-4 replica set")
        h.checkout("main")
        with signing(h, ssh=keys["bob"]):
            ex["wrong-principal"] = (
                h.rotate(KEY, "CHG-5 signed with Bob's key"),
                "wrong-principal",
            )
        ex["rebased"] = (h.rebase_ff("f-rebase"), "unsigned")
        h.reconcile()
        # backdated: committed in 2023, inside the old key's window, applied (noted) now
        with signing(h, ssh=keys["alice-old"]):
            ex["expired"] = (h.rotate(DB, "CHG-7 signed with the retired key"), "expired")
        with signing(h, ssh=keys["stranger"]):
            ex["unknown-key"] = (h.rotate(KEY, "CHG-8 signed by nobody we know"), "unknown-key")
        with signing(h, ssh=keys["alice-gone"]):
            ex["expired-at-commit"] = (h.rotate(KEY, "CHG-11 retired RSA key"), "expired")
        # a signed rotation whose message was changed afterwards, merged by Carol (signed)
        h.branch("f-bad")
        with signing(h, ssh=keys["alice"]):
            h.rotate(MAIL, "CHG-9 rotated by Alice")
        ex["bad"] = (
            tamper(h, "f-bad", b"CHG-9 rotated by Alice", b"CHG-9 rotated by Mallory"),
            "bad",
        )
        with signing(h, ssh=keys["carol"]):
            ex["bad-merge"] = (h.merge("f-bad", "Merge f-bad"), "good")
        h.reconcile()
        # a merged rotation, reconciled, then dropped by a force-push (the reconciler would
        # now refuse to go from version 4 back to 3: nothing reconciles after it)
        kept = h.head()
        h.branch("f-dropped")
        with signing(h, ssh=keys["alice"]):
            h.rotate(MAIL, "CHG-10 later dropped")
        dropped = h.merge("f-dropped", "Merge f-dropped")
        h.reconcile()
        h.force_back(kept)
    assert dropped not in h.git("rev-list", "main", when=h.clock).split()
    signed = Signed(h, allowed, home, keys, fingerprint, ex)
    try:
        yield signed
    finally:
        gpg_stop(home)


def test_each_ledger_commit_has_its_status(mixed: Signed) -> None:
    document = mixed.document("--allowed-signers", str(mixed.allowed))
    rows = [(row["secret"], row["version"]) for row in document["rows"]]
    assert rows == [(MAIL, 1), (DB, 1), (KEY, 1), (DB, 2), (KEY, 2), (MAIL, 2), (KEY, 3),
                    (DB, 3), (DB, 4), (KEY, 4), (KEY, 5), (MAIL, 3)]  # fmt: skip
    found = signatures(document)
    expected = {commit: status for commit, status in mixed.expected.values()}
    assert {commit: s["status"] for commit, s in found.items()} == expected
    every = {label: found[commit] for label, (commit, _) in mixed.expected.items()}
    assert all(every[label]["kind"] == "ssh" for label in
               ("ed25519", "merge", "ecdsa", "wrong-principal", "expired", "unknown-key", "bad"))  # fmt: skip
    assert every["gpg-squash"]["kind"] == "gpg" and every["gpg-squash"]["key"] == mixed.gpg
    assert every["gpg-squash"]["signer"] == ALICE[1]
    for label, key in (("ed25519", "alice"), ("ecdsa", "bob"), ("wrong-principal", "bob"),
                       ("expired", "alice-old"), ("unknown-key", "stranger"),
                       ("expired-at-commit", "alice-gone")):  # fmt: skip
        assert every[label]["key"] == fingerprint(mixed.keys[key]), label
    assert every["ed25519"]["signer"] == ALICE[1] and every["ecdsa"]["signer"] == BOB[1]
    assert every["wrong-principal"]["signer"] == BOB[1]
    assert f"not the committer {ALICE[1]}" in every["wrong-principal"]["detail"]
    assert "line 5: " in every["expired"]["detail"] and "2024-01-01" in every["expired"]["detail"]
    assert every["init"]["kind"] == "" and every["rebased"]["detail"] == "no signature"


def test_the_expired_key_is_judged_at_the_note_not_the_committer_date(mixed: Signed) -> None:
    document = mixed.document("--allowed-signers", str(mixed.allowed))
    commit = mixed.expected["expired"][0]
    (row,) = [row for row in document["rows"] if row["commit"] == commit]
    committed = int(
        mixed.history.git("log", "-1", "--format=%ct", commit, when=mixed.history.clock)
    )
    # the commit's own date is inside the window (git's view), the note's time is past it
    assert committed < 1_704_067_200 <= row["applied_at"]  # 2024-01-01T00:00:00Z
    assert row["merge_commit"] == commit and row["applied_commit"] is not None


def test_git_agrees_wherever_it_has_an_opinion(mixed: Signed) -> None:
    letters = dict(
        line.split(" ") for line in mixed.git("log", "--format=%H %G?", "main").stdout.splitlines()
    )
    for label, (commit, status) in mixed.expected.items():
        # expired at its own date too: git's U (the key is on no line valid then)
        letter = "U" if label == "expired-at-commit" else GIT_LETTER[status]
        assert letters[commit] == letter, (label, status, letters[commit])
        verified = mixed.git("verify-commit", commit, check=False).returncode == 0
        assert verified == (letter == "G"), (label, status)


def test_without_an_allowed_signers_file_ssh_signers_are_unchecked(mixed: Signed) -> None:
    found = signatures(mixed.document())
    status = {label: found[commit]["status"] for label, (commit, _) in mixed.expected.items()}
    assert status == {
        "init": "unsigned",
        "ed25519": "unchecked",
        "merge": "unchecked",
        "gpg-squash": "good",  # gpg judges it with the keyring, no allowed-signers file needed
        "ecdsa": "unchecked",
        "unsigned-merge": "unsigned",
        "wrong-principal": "unchecked",
        "rebased": "unsigned",
        "expired": "unchecked",
        "unknown-key": "unchecked",
        "expired-at-commit": "unchecked",
        "bad": "bad",  # a signature that does not verify is bad whoever signed it
        "bad-merge": "unchecked",
    }


@contextlib.contextmanager
def required(signed: Signed) -> Iterator[None]:
    """gitrot.yaml with ``audit: {allowed_signers: allowed_signers, require_signatures:
    true}`` and the file in the repository (uncommitted, restored after the block)."""
    root = signed.history.root
    config = root / "gitrot.yaml"
    saved = config.read_text()
    shutil.copyfile(signed.allowed, root / "allowed_signers")
    config.write_text(
        saved + "audit:\n  allowed_signers: allowed_signers\n  require_signatures: true\n"
    )
    try:
        yield
    finally:
        config.write_text(saved)
        (root / "allowed_signers").unlink()


def signature_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("gitrot: signature: ")]


def test_verify_names_every_commit_not_good_when_signatures_are_required(mixed: Signed) -> None:
    done = mixed.audit("--verify", "--allowed-signers", str(mixed.allowed))
    assert done.returncode == 1  # the force-pushed note, at least
    assert signature_lines(done.stderr) == []  # signatures not required
    with required(mixed):
        done = mixed.audit("--verify")
    assert done.returncode == 1, done.stderr
    lines = signature_lines(done.stderr)
    bad = {c: s for c, s in mixed.expected.values() if s != "good"}
    assert len(lines) == len(bad) == 8
    for commit, status in bad.items():
        (line,) = [line for line in lines if f"commit {commit[:12]} " in line]
        assert f" is {status}" in line
    assert any(line.startswith("gitrot: note-unreachable: ") for line in done.stderr.splitlines())


@pytest.fixture(scope="module")
def all_good(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    """Every ledger commit signed by its committer's allowed key: the first commit (amended
    to sign it), a --no-ff merge, a squash merge signed with GPG, a direct ECDSA push."""
    require_tool("ssh-keygen")
    require_tool("gpg")
    base = tmp_path_factory.mktemp("good")
    keys, allowed, home, fingerprint = keys_and_signers(base)
    with patched_env({"GNUPGHOME": str(home)}):
        h = History.create(base, {DB: "prod", KEY: "dev"})
        with signing(h, ssh=keys["alice"]):
            h.git("commit", "-q", "--amend", "--no-edit", "--no-verify", when=h.clock)
        h.reconcile()
        h.branch("f1")
        with signing(h, ssh=keys["alice"]):
            h.rotate(DB, "CHG-1 quarterly")
        with signing(h, ssh=keys["carol"]):
            h.merge("f1", "Merge f1")
        h.branch("f2")
        h.rotate(KEY, "CHG-2 squashed", who=BOB)
        with signing(h, gpg=fingerprint):
            h.squash("f2", "Rotate the key (#2)", who=ALICE)
        with signing(h, ssh=keys["bob"]):
            h.rotate(DB, "CHG-3 direct push", who=BOB)
        h.reconcile()
    signed = Signed(h, allowed, home, keys, fingerprint, {})
    try:
        yield signed
    finally:
        gpg_stop(home)


def test_verify_passes_when_every_ledger_commit_is_good(all_good: Signed) -> None:
    with required(all_good):
        done = all_good.audit("--verify", "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["problems"] == []
    found = signatures(document)
    assert len(found) == 5 and {s["status"] for s in found.values()} == {"good"}
    letters = all_good.git("log", "--first-parent", "--format=%G?", "main").stdout.split()
    assert set(letters) == {"G"}


def fingerprint(key: SshKey) -> str:
    keygen = require_tool("ssh-keygen")
    done = subprocess.run([keygen, "-l", "-E", "sha256", "-f", f"{key.path}.pub"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout.split()[1]
