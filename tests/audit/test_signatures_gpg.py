"""gitrot.audit.signatures on OpenPGP-signed commits (a throwaway GNUPGHOME, gpg's own
signatures): each status, and agreement with ``git log --format=%G?``."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest

from gitrot.audit import gpg
from gitrot.audit.model import (
    BAD,
    EXPIRED,
    GOOD,
    UNCHECKED,
    UNKNOWN_KEY,
    WRONG_PRINCIPAL,
    Signature,
)
from gitrot.audit.signatures import check_commits
from tests.audit.signing import (
    ALICE,
    T0,
    SignedRepo,
    gpg_env,
    gpg_home,
    gpg_key,
    gpg_sign,
    gpg_stop,
    with_signature,
)
from tests.conftest import require_tool

DAY = 86_400
WORK = ("Alice Example", "alice@work.example")


@dataclass
class Scene:
    repo: SignedRepo
    home: Path
    commits: dict[str, str]
    expected: dict[str, tuple[str, str]]  # scenario -> (gitrot status, git's %G?)
    keys: dict[str, str]

    def check(self, trusted: dict[str, int] | None = None) -> dict[str, Signature]:
        repo = pygit2.Repository(str(self.repo.path))
        ids = list(self.commits.values())
        results = check_commits(repo, ids, allowed_signers=None, trusted_times=trusted or {})
        return {name: results[commit] for name, commit in self.commits.items()}


def _gpg(home: Path, *args: str, input: bytes | None = None) -> bytes:
    argv = [require_tool("gpg"), "--batch", "--yes", *args]
    done = subprocess.run(argv, input=input, env=gpg_env(home), capture_output=True, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    base = tmp_path_factory.mktemp("gpg")
    home, elsewhere = gpg_home(base), gpg_home(base / "elsewhere")
    keys = {
        "alice": gpg_key(home, "Alice Example <alice@example.com>"),
        "bob": gpg_key(home, "Bob Example <bob@example.com>"),
        # valid for one day from 2023-11-01: expired at T0 (2023-11-14)
        "old": gpg_key(
            home, "Alice Old <alice@example.com>", expire="1d", faked_time="20231101T000000"
        ),
        "revoked": gpg_key(home, "Alice Revoked <alice@example.com>"),
        "stranger": gpg_key(elsewhere, "Stranger <alice@example.com>"),
        "untrusted": gpg_key(elsewhere, "Alice Untrusted <alice@example.com>"),
    }
    _gpg(home, "--quick-add-uid", keys["alice"], "Alice at work <alice@work.example>")
    _gpg(home, "--import", input=_gpg(elsewhere, "--export", keys["untrusted"]))
    repo = SignedRepo(base / "repo", gnupghome=home)
    commits: dict[str, str] = {}
    expected: dict[str, tuple[str, str]] = {}

    def add(name: str, commit: str, status: str, letter: str) -> None:
        commits[name], expected[name] = commit, (status, letter)

    add("good", repo.commit("good", gpg=keys["alice"]), GOOD, "G")
    add("second-uid", repo.commit("work", gpg=keys["alice"], who=WORK), GOOD, "G")
    add("wrong-principal", repo.commit("bob's key", gpg=keys["bob"]), WRONG_PRINCIPAL, "G")
    payload = repo.payload("backdated", when=T0 - 13 * DAY)  # 2023-11-01 22:13 UTC
    signed = gpg_sign(home, keys["old"], payload, faked_time="20231101T221400")
    add("backdated", repo.forge(with_signature(payload, signed)), EXPIRED, "Y")
    payload = repo.payload("tampered")
    signed = with_signature(payload, gpg_sign(home, keys["alice"], payload))
    add("tampered", repo.forge(signed.replace(b"tampered", b"tampereD")), BAD, "B")
    payload = repo.payload("stranger")
    signed = with_signature(payload, gpg_sign(elsewhere, keys["stranger"], payload))
    add("unknown", repo.forge(signed), UNKNOWN_KEY, "E")
    payload = repo.payload("untrusted")
    signed = with_signature(payload, gpg_sign(elsewhere, keys["untrusted"], payload))
    add("untrusted", repo.forge(signed), UNKNOWN_KEY, "U")
    revoked = repo.commit("revoked", gpg=keys["revoked"])
    certificate = (home / "openpgp-revocs.d" / f"{keys['revoked']}.rev").read_bytes()
    _gpg(home, "--import", input=certificate.replace(b":-----BEGIN", b"-----BEGIN"))
    add("revoked", revoked, EXPIRED, "R")
    yield Scene(repo, home, commits, expected, keys)
    gpg_stop(home)
    gpg_stop(elsewhere)


@pytest.fixture
def home(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GNUPGHOME", str(scene.home))
    return scene.home


@pytest.mark.usefixtures("home")
def test_each_gpg_commit_gets_its_status_and_git_agrees(scene: Scene) -> None:
    """G: good, or the committer's difference git cannot see; Y: an expired key (gitrot:
    expired at the trusted time); R: revoked; E: no key; U: an untrusted key; B: bad."""
    backdated = scene.commits["backdated"]
    results = scene.check({backdated: T0})
    assert {name: s.status for name, s in results.items()} == {
        name: status for name, (status, _) in scene.expected.items()
    }
    letters = scene.repo.letters(scene.repo.path / "no-allowed-signers")
    assert {name: letters[commit] for name, commit in scene.commits.items()} == {
        name: letter for name, (_, letter) in scene.expected.items()
    }
    assert all(s.kind == "gpg" for s in results.values())


@pytest.mark.usefixtures("home")
def test_the_gpg_details_say_why(scene: Scene) -> None:
    backdated = scene.commits["backdated"]
    results = scene.check({backdated: T0})
    good = results["good"]
    assert (good.signer, good.key, good.detail) == (ALICE[1], scene.keys["alice"], "")
    assert results["second-uid"].signer == WORK[1]
    wrong = results["wrong-principal"]
    assert wrong.signer == "Bob Example <bob@example.com>"
    assert (
        wrong.detail
        == "the key is Bob Example <bob@example.com>, not the committer alice@example.com"
    )
    assert results["backdated"].detail == (
        "the key expired at 2023-11-02 00:00:00Z, before 2023-11-14 22:13:20Z"
    )
    assert results["revoked"].detail == "the key is revoked"
    assert results["unknown"].detail == "the key is not in the keyring (GNUPGHOME)"
    assert results["untrusted"].detail == "the key is in the keyring but gpg does not trust it"
    assert results["tampered"].detail == "the signature does not match the commit"


@pytest.mark.usefixtures("home")
def test_an_expired_key_is_judged_at_the_trusted_time(scene: Scene) -> None:
    """The backdated commit looks valid at its own date (as gitrot says without a trusted
    time, warning that the signer sets it) and at a trusted time before the expiry."""
    backdated = scene.commits["backdated"]
    plain = scene.check()["backdated"]
    assert plain.status == GOOD
    assert plain.detail == (
        "the key expired at 2023-11-02 00:00:00Z, after 2023-11-01 22:13:20Z; "
        "validity checked at the committer date, which the signer sets"
    )
    early = scene.check({backdated: T0 - 13 * DAY + 60})["backdated"]
    assert early.status == GOOD
    assert early.detail == "the key expired at 2023-11-02 00:00:00Z, after 2023-11-01 22:14:20Z"


def test_without_gpg_gpg_signatures_are_unchecked(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    results = scene.check()
    assert set(results.values()) == {
        Signature(UNCHECKED, kind="gpg", detail="gpg is not installed (not on PATH)")
    }


def test_gpg_answers_without_a_verdict_are_bad() -> None:
    verifier = gpg.Verifier("gpg")
    judge = verifier.judge
    assert judge({}, ALICE[1], None, T0) == Signature(BAD, "gpg", detail="gpg found no signature")
    errsig = {"ERRSIG": ["0123456789ABCDEF", "22", "8", "00", str(T0), "4"]}
    assert judge(errsig, ALICE[1], None, T0) == Signature(
        BAD, "gpg", key="0123456789ABCDEF", detail="gpg cannot check the signature"
    )
    verifier.uids["ABCD"] = ["Alice <alice@example.com>"]
    expired = judge({"EXPSIG": ["ABCD", "Alice"]}, ALICE[1], None, T0)
    assert (expired.status, expired.detail) == (EXPIRED, "the signature has expired")


def test_a_gpg_that_does_not_run_is_unchecked(tmp_path: Path) -> None:
    missing = gpg.Verifier(str(tmp_path / "no-gpg"))
    result = missing.check(b"sig", b"payload", email=ALICE[1], trusted_time=None,
                           committer_time=T0)  # fmt: skip
    assert result.status == UNCHECKED
    assert re.match(r"gpg did not run: \[Errno 2\]", result.detail)
    assert missing.key_uids("ABCD") == []


def test_uid_emails() -> None:
    assert gpg.uid_email("Alice Example <alice@example.com>") == "alice@example.com"
    assert gpg.uid_email(" alice@example.com ") == "alice@example.com"
