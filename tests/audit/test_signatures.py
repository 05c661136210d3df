"""gitrot.audit.signatures on SSH-signed commits made by git and ssh-keygen: each commit's
status, and agreement with ``git log --format=%G?`` and ``git verify-commit`` wherever git
has an opinion (git checks neither the committer nor a trusted time: docs/audit.md)."""

from __future__ import annotations

import base64
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest

from gitrot.audit.model import (
    BAD,
    EXPIRED,
    GOOD,
    UNCHECKED,
    UNKNOWN_KEY,
    UNSIGNED,
    WRONG_PRINCIPAL,
    Signature,
)
from gitrot.audit.signatures import check_commits
from gitrot.errors import EXIT_INPUT, InputError
from tests.audit.signing import (
    ALICE,
    BOB,
    SSH_KINDS,
    T0,
    SignedRepo,
    SshKey,
    signed_history,
    ssh_key,
    ssh_sign,
    with_signature,
)
from tests.conftest import require_tool

DAY = 86_400
MALLORY = ("Mallory", "mallory@example.com")
CAROL = ("Carol", "carol@example.com")


@dataclass
class Scene:
    repo: SignedRepo
    allowed: Path
    text: str
    commits: dict[str, str]  # scenario -> commit id
    expected: dict[str, tuple[str, str]]  # scenario -> (gitrot status, git's %G?)
    trusted: dict[str, int]
    keys: dict[str, SshKey]

    def check(self, **kwargs: object) -> dict[str, Signature]:
        options: dict[str, object] = {"allowed_signers": self.text, "trusted_times": {}}
        options.update(kwargs)
        repo = pygit2.Repository(str(self.repo.path))
        return check_commits(repo, list(self.commits.values()), **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    base = tmp_path_factory.mktemp("signatures")
    keys = {kind: ssh_key(base, kind, kind) for kind in SSH_KINDS}
    for name in ("bob", "stranger", "expiring", "later", "files", "team"):
        keys[name] = ssh_key(base, name)
    repo = SignedRepo(base / "repo")
    commits: dict[str, str] = {}
    expected: dict[str, tuple[str, str]] = {}

    def add(name: str, commit: str, status: str, letter: str) -> None:
        commits[name], expected[name] = commit, (status, letter)

    add("unsigned", repo.commit("unsigned"), UNSIGNED, "N")
    for kind in SSH_KINDS:
        add(kind, repo.commit(kind, ssh=keys[kind]), GOOD, "G")
    # a key allowed for bob signs alice's commit: git says good
    add("wrong-principal", repo.commit("bob's key", ssh=keys["bob"]), WRONG_PRINCIPAL, "G")
    add("unknown", repo.commit("a stranger", ssh=keys["stranger"]), UNKNOWN_KEY, "U")
    # valid-before has passed at T0; a commit dated before it looks good to git
    add("expired", repo.commit("late", ssh=keys["expiring"]), EXPIRED, "U")
    backdated = repo.commit("backdated", ssh=keys["expiring"], when=T0 - 30 * DAY)
    add("backdated", backdated, EXPIRED, "G")
    add("not-yet", repo.commit("early", ssh=keys["later"]), EXPIRED, "U")
    add("namespace-file", repo.commit("files only", ssh=keys["files"]), BAD, "B")
    add("team-carol", repo.commit("carol", ssh=keys["team"], who=CAROL), GOOD, "G")
    add("team-mallory", repo.commit("mallory", ssh=keys["team"], who=MALLORY),
        WRONG_PRINCIPAL, "G")  # fmt: skip
    payload = repo.payload("tampered")
    tampered = with_signature(payload, ssh_sign(keys["ed25519"], payload))
    add("tampered", repo.forge(tampered.replace(b"tampered", b"tampereD")), BAD, "B")
    payload = repo.payload("other namespace")
    signed = with_signature(payload, ssh_sign(keys["ed25519"], payload, "file"))
    add("namespace", repo.forge(signed), BAD, "B")
    add("bob-himself", repo.commit("bob", ssh=keys["bob"], who=BOB), GOOD, "G")
    lines = [
        "# allowed signers of the test",
        "",
        *(keys[kind].line(ALICE[1]) for kind in SSH_KINDS),
        keys["bob"].line(BOB[1]),
        keys["expiring"].line(ALICE[1], 'valid-after="20230101Z",valid-before="20231101Z"'),
        keys["later"].line(ALICE[1], 'valid-after="20240101000000Z"'),
        keys["files"].line(ALICE[1], 'namespaces="file"'),
        keys["team"].line('"*@example.com,!mallory@example.com"', 'namespaces="git,file"'),
    ]
    text = "\n".join(lines) + "\n"
    allowed = base / "allowed_signers"
    allowed.write_text(text)
    trusted = {commits["backdated"]: T0}
    yield Scene(repo, allowed, text, commits, expected, trusted, keys)


def test_each_commit_gets_its_own_status(scene: Scene) -> None:
    results = scene.check(trusted_times=scene.trusted)
    got = {name: results[commit].status for name, commit in scene.commits.items()}
    assert got == {name: status for name, (status, _) in scene.expected.items()}
    assert list(results) == list(scene.commits.values())


def test_git_agrees_wherever_it_has_an_opinion(scene: Scene) -> None:
    """G: good, or a difference git cannot see (the committer, a trusted time); U: a key
    git does not accept at the commit's date; B: bad; N: unsigned."""
    letters = scene.repo.letters(scene.allowed)
    got = {name: letters[commit] for name, commit in scene.commits.items()}
    assert got == {name: letter for name, (_, letter) in scene.expected.items()}
    for name in ("ed25519", "rsa", "tampered", "unknown", "unsigned"):
        accepted = scene.repo.verify_commit(scene.commits[name], scene.allowed)
        assert accepted == (scene.expected[name][1] == "G"), name


def test_the_details_say_why(scene: Scene) -> None:
    results = scene.check(trusted_times=scene.trusted)
    by_name = {name: results[commit] for name, commit in scene.commits.items()}
    wrong = by_name["wrong-principal"]
    assert (wrong.kind, wrong.signer) == ("ssh", BOB[1])
    assert (
        wrong.detail
        == "the key is allowed for bob@example.com, not the committer alice@example.com"
    )
    backdated = by_name["backdated"]
    assert backdated.detail == (
        "the key is not valid at 2023-11-14 22:13:20Z "
        "(line 9: valid-after 2023-01-01 00:00:00Z, valid-before 2023-11-01 00:00:00Z)"
    )
    assert by_name["expired"].detail.endswith(
        "; validity checked at the committer date, which the signer sets"
    )
    assert (
        by_name["namespace-file"].detail == "the key is allowed only for other namespaces than git"
    )
    assert by_name["unknown"].detail == "the key is on no line of the allowed signers file"
    assert by_name["namespace"].detail == "signed for the namespace 'file', not 'git'"
    assert by_name["tampered"].detail == "the signature does not match the commit"
    good = by_name["ed25519"]
    assert good.signer == ALICE[1]
    assert good.detail == "validity checked at the committer date, which the signer sets"
    assert by_name["unsigned"] == Signature(UNSIGNED, detail="no signature")
    keygen = subprocess.run(["ssh-keygen", "-l", "-f", str(scene.keys["ed25519"].path)],
                            capture_output=True, check=True, text=True)  # fmt: skip
    assert keygen.stdout.split()[1] == good.key


def test_a_trusted_time_replaces_the_committer_date(scene: Scene) -> None:
    """Without a trusted time the backdated commit passes, as in git; with one inside the
    window, the late commit passes and the detail no longer warns."""
    backdated, late = scene.commits["backdated"], scene.commits["expired"]
    plain = scene.check()
    assert plain[backdated].status == GOOD
    assert "which the signer sets" in plain[backdated].detail
    trusted = scene.check(trusted_times={late: T0 - 20 * DAY})
    assert trusted[late] == Signature(GOOD, "ssh", ALICE[1], trusted[late].key, "")


def test_without_an_allowed_signers_file_ssh_signers_are_unchecked(scene: Scene) -> None:
    results = scene.check(allowed_signers=None)
    by_name = {name: results[commit] for name, commit in scene.commits.items()}
    assert by_name["ed25519"].status == UNCHECKED
    assert by_name["ed25519"].detail == (
        "a valid signature, but no allowed-signers file to judge the signer"
    )
    assert by_name["tampered"].status == BAD
    assert by_name["unsigned"].status == UNSIGNED


def test_ssh_needs_no_child_process(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a child process")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    results = scene.check(trusted_times=scene.trusted)
    assert results[scene.commits["rsa"]].status == GOOD


def test_each_commit_once_in_the_order_asked(scene: Scene) -> None:
    repo = pygit2.Repository(str(scene.repo.path))
    ids = [scene.commits["rsa"], scene.commits["unsigned"], scene.commits["rsa"]]
    results = check_commits(repo, ids, allowed_signers=scene.text, trusted_times={})
    assert list(results) == ids[:2]


def test_a_malformed_allowed_signers_file_names_the_file_and_line(scene: Scene) -> None:
    repo = pygit2.Repository(str(scene.repo.path))
    text = scene.text + "alice@example.com ssh-ed25519 !!!\n"
    with pytest.raises(InputError) as caught:
        check_commits(repo, [], allowed_signers=text, trusted_times={},
                      allowed_signers_path="policy/allowed_signers")  # fmt: skip
    error = caught.value
    assert error.exit_code == EXIT_INPUT
    assert error.render() == (
        "gitrot: error: allowed signers: the ssh-ed25519 key is not base64 "
        f"(policy/allowed_signers:{text.count(chr(10))})"
    )


def test_a_commit_that_is_not_there_is_bad_input(scene: Scene) -> None:
    repo = pygit2.Repository(str(scene.repo.path))
    with pytest.raises(InputError, match=r"no commit 0{40} in the repository"):
        check_commits(repo, ["0" * 40], allowed_signers=None, trusted_times={})
    tree = str(repo.revparse_single("HEAD^{tree}").id)
    with pytest.raises(InputError, match=f"{tree} is not a commit"):
        check_commits(repo, [tree], allowed_signers=None, trusted_times={})


def pack(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def armor(blob: bytes) -> bytes:
    text = base64.b64encode(blob).decode()
    return f"-----BEGIN SSH SIGNATURE-----\n{text}\n-----END SSH SIGNATURE-----\n".encode()


def _forged(scene: Scene, signature: bytes, message: str) -> dict[str, Signature]:
    payload = scene.repo.payload(message)
    commit = scene.repo.forge(with_signature(payload, signature))
    repo = pygit2.Repository(str(scene.repo.path))
    return check_commits(repo, [commit], allowed_signers=scene.text, trusted_times={})[commit]


def test_signatures_gitrot_does_not_judge_are_unchecked_or_bad(scene: Scene) -> None:
    x509 = _forged(
        scene, b"-----BEGIN SIGNED MESSAGE-----\nAAAA\n-----END SIGNED MESSAGE-----\n", "x509"
    )
    assert x509 == Signature(UNCHECKED, "x509", detail="X.509 (gpgsm) signatures are not checked")
    broken = _forged(
        scene, b"-----BEGIN SSH SIGNATURE-----\n!!\n-----END SSH SIGNATURE-----\n", "broken"
    )
    assert (broken.status, broken.detail) == (BAD, "the signature is not base64")
    kind = b"sk-ssh-ed25519@openssh.com"
    key = pack(kind) + pack(b"k" * 32) + pack(b"ssh:")
    fields = [key, b"git", b"", b"sha512", pack(kind) + pack(b"s" * 64)]
    security_key = _forged(scene, armor(b"SSHSIG\0\0\0\1" + b"".join(map(pack, fields))), "sk")
    assert security_key.status == UNCHECKED
    assert security_key.detail == "sk-ssh-ed25519@openssh.com keys are not checked"


def test_a_history_signed_in_python_is_good_for_gitrot_and_git(tmp_path: Path) -> None:
    """The helper the benchmark uses: commits signed without ssh-keygen, which git accepts."""
    public, ids = signed_history(tmp_path / "repo.git", 30)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"{ALICE[1]} {public}\n")
    repo = pygit2.Repository(str(tmp_path / "repo.git"))
    results = check_commits(repo, ids, allowed_signers=allowed.read_text(), trusted_times={})
    assert {s.status for s in results.values()} == {GOOD}
    assert len({s.key for s in results.values()}) == 1
    git = require_tool("git")
    done = subprocess.run([git, "--git-dir", str(tmp_path / "repo.git"),
                           "-c", f"gpg.ssh.allowedSignersFile={allowed}",
                           "log", "--format=%H %G?", "main"],
                          capture_output=True, check=True, text=True)  # fmt: skip
    assert sorted(done.stdout.split()[1::2]) == ["G"] * 30
    assert sorted(done.stdout.split()[::2]) == sorted(ids)
