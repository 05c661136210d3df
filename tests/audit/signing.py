"""Signed commits for the audit's tests: real keys (ssh-keygen, gpg), real signatures.

:class:`SignedRepo` is a repository driven by the git CLI in UTC: ``commit`` makes a commit
with ``git commit -S`` (SSH with ``gpg.format=ssh``, or OpenPGP), ``forge`` writes a commit
object whose signature the test made itself (another namespace, a backdated GPG signature,
a tampered payload), ``letters`` is what ``git log --format=%G?`` says with an
allowed-signers file. Keys: :func:`ssh_key` (ssh-keygen), :func:`gpg_key` (a throwaway
``GNUPGHOME``).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_tool

ALICE = ("Alice Example", "alice@example.com")
BOB = ("Bob Example", "bob@example.com")
T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC
#: ssh-keygen's -t and -b of each kind of key
SSH_KINDS = {
    "ed25519": ("ed25519", None),
    "ecdsa-256": ("ecdsa", "256"),
    "ecdsa-384": ("ecdsa", "384"),
    "ecdsa-521": ("ecdsa", "521"),
    "rsa": ("rsa", "2048"),
}


@dataclass(frozen=True)
class SshKey:
    path: Path
    public: str  # "keytype base64" (no comment)

    def line(self, principals: str, options: str = "") -> str:
        """An allowed-signers line for this key."""
        return " ".join(part for part in (principals, options, self.public) if part)


def ssh_key(directory: Path, name: str, kind: str = "ed25519") -> SshKey:
    """A new unencrypted key made by ssh-keygen."""
    keygen = require_tool("ssh-keygen")
    path = directory / name
    kind_arg, bits = SSH_KINDS[kind]
    argv = [keygen, "-q", "-t", kind_arg, "-N", "", "-C", name, "-f", str(path)]
    if bits:
        argv += ["-b", bits]
    subprocess.run(argv, check=True, capture_output=True)
    public = " ".join(path.with_suffix(".pub").read_text().split()[:2])
    return SshKey(path, public)


def ssh_sign(key: SshKey, data: bytes, namespace: str = "git") -> bytes:
    """``ssh-keygen -Y sign``'s armored signature of ``data``."""
    keygen = require_tool("ssh-keygen")
    done = subprocess.run([keygen, "-q", "-Y", "sign", "-f", str(key.path), "-n", namespace],
                          input=data, check=True, capture_output=True)  # fmt: skip
    return done.stdout


def gpg_env(home: Path) -> dict[str, str]:
    return {**os.environ, "GNUPGHOME": str(home), "LC_ALL": "C"}


def gpg_home(directory: Path) -> Path:
    home = directory / "gnupg"
    home.mkdir(mode=0o700, parents=True)
    return home


def gpg_key(home: Path, uid: str, *, expire: str = "1y", faked_time: str | None = None) -> str:
    """A new ed25519 signing key in ``home`` (no passphrase); its fingerprint."""
    gpg = require_tool("gpg")
    faked = ["--faked-system-time", faked_time] if faked_time else []
    argv = [gpg, "--batch", *faked, "--pinentry-mode", "loopback", "--passphrase", "",
            "--quick-gen-key", uid, "ed25519", "sign", expire]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, env=gpg_env(home))
    listed = subprocess.run([gpg, "--batch", "--with-colons", "--list-keys", uid],
                            check=True, capture_output=True, env=gpg_env(home))  # fmt: skip
    fprs = [line.split(":")[9] for line in listed.stdout.decode().splitlines()
            if line.startswith("fpr:")]  # fmt: skip
    return fprs[0]


def gpg_sign(home: Path, fingerprint: str, data: bytes, *, faked_time: str | None = None) -> bytes:
    gpg = require_tool("gpg")
    faked = ["--faked-system-time", faked_time] if faked_time else []
    argv = [gpg, "--batch", *faked, "--pinentry-mode", "loopback", "--passphrase", "",
            "-u", fingerprint, "--armor", "--detach-sign"]  # fmt: skip
    return subprocess.run(argv, input=data, check=True, capture_output=True,
                          env=gpg_env(home)).stdout  # fmt: skip


def gpg_stop(home: Path) -> None:
    """Stop the gpg-agent that signing started for ``home``."""
    gpgconf = require_tool("gpgconf")
    subprocess.run([gpgconf, "--kill", "all"], env=gpg_env(home), check=False,
                   capture_output=True)  # fmt: skip


def with_signature(payload: bytes, signature: bytes, header: bytes = b"gpgsig") -> bytes:
    """The commit ``payload`` with its signature header after the headers, as git puts it."""
    head, _, body = payload.partition(b"\n\n")
    lines = signature.rstrip(b"\n").split(b"\n")
    signed = header + b" " + b"\n ".join(lines)
    return head + b"\n" + signed + b"\n\n" + body


class SignedRepo:
    """A repository at ``path`` on branch main, committed to by the git CLI in UTC."""

    def __init__(self, path: Path, *, gnupghome: Path | None = None) -> None:
        self.path = path
        self.gnupghome = gnupghome
        self.git_bin = require_tool("git")
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.counter = 0

    def env(self, when: int = T0, who: tuple[str, str] = ALICE) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(TZ="UTC", LC_ALL="C", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
        env.update(GIT_AUTHOR_NAME=who[0], GIT_AUTHOR_EMAIL=who[1],
                   GIT_COMMITTER_NAME=who[0], GIT_COMMITTER_EMAIL=who[1],
                   GIT_AUTHOR_DATE=f"@{when} +0000", GIT_COMMITTER_DATE=f"@{when} +0000")  # fmt: skip
        if self.gnupghome is not None:
            env["GNUPGHOME"] = str(self.gnupghome)
        return env

    def git(self, *args: str, input: bytes | None = None, when: int = T0,
            who: tuple[str, str] = ALICE, check: bool = True) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
        return subprocess.run([self.git_bin, "-C", str(self.path), *args], input=input,
                              capture_output=True, env=self.env(when, who), check=check)  # fmt: skip

    def commit(
        self,
        message: str,
        *,
        ssh: SshKey | None = None,
        gpg: str | None = None,
        when: int = T0,
        who: tuple[str, str] = ALICE,
    ) -> str:
        """A commit of one more file, signed by ``git commit -S`` with ``ssh`` or ``gpg``."""
        self.counter += 1
        (self.path / f"file{self.counter}.txt").write_text(f"{message}\n")
        self.git("add", f"file{self.counter}.txt")
        sign: list[str] = []
        if ssh is not None:
            sign = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={ssh.path}"]
        elif gpg is not None:
            sign = ["-c", "gpg.format=openpgp", "-c", f"user.signingkey={gpg}"]
        flag = ["-S"] if sign else []
        self.git(*sign, "commit", "-q", *flag, "-m", message, when=when, who=who)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").stdout.decode().strip()

    def payload(self, message: str, *, when: int = T0, who: tuple[str, str] = ALICE) -> bytes:
        """An unsigned commit object on HEAD's tree and parent (not written)."""
        tree = self.git("rev-parse", "HEAD^{tree}").stdout.decode().strip()
        person = f"{who[0]} <{who[1]}> {when} +0000"
        return (f"tree {tree}\nparent {self.head()}\nauthor {person}\ncommitter {person}\n\n"
                f"{message}\n").encode()  # fmt: skip

    def forge(self, raw: bytes) -> str:
        """Write ``raw`` as a commit object and move main to it."""
        written = self.git("hash-object", "-t", "commit", "-w", "--stdin", input=raw)
        commit = written.stdout.decode().strip()
        self.git("update-ref", "refs/heads/main", commit)
        return commit

    def raw(self, commit: str) -> bytes:
        return self.git("cat-file", "commit", commit).stdout

    def letters(self, allowed_signers: Path) -> dict[str, str]:
        """``git log --format=%G?`` of every commit on main, with ``allowed_signers``."""
        done = self.git("-c", f"gpg.ssh.allowedSignersFile={allowed_signers}",
                        "log", "--format=%H %G?", "main")  # fmt: skip
        return dict(line.split(" ") for line in done.stdout.decode().splitlines())

    def verify_commit(self, commit: str, allowed_signers: Path) -> bool:
        done = self.git("-c", f"gpg.ssh.allowedSignersFile={allowed_signers}",
                        "verify-commit", commit, check=False)  # fmt: skip
        return done.returncode == 0


def signed_history(
    path: Path, count: int, *, who: tuple[str, str] = ALICE
) -> tuple[str, list[str]]:
    """A repository at ``path`` with ``count`` commits on main, each signed in Python with
    one new Ed25519 key (fast: no ssh-keygen per commit); (the key's public line, the
    commit ids, oldest first)."""
    import pygit2

    from gitrot.git import sshsig

    private, public = sshsig.generate()
    key = sshsig.load_private(private)
    repo = pygit2.init_repository(str(path), bare=True, initial_head="main")
    tree = repo.TreeBuilder().write()
    ids: list[str] = []
    for n in range(count):
        person = pygit2.Signature(who[0], who[1], T0 + n, 0)
        parents = [pygit2.Oid(hex=ids[-1])] if ids else []
        content = repo.create_commit_string(person, person, f"commit {n}\n", tree, parents)
        signature = sshsig.sign(key, content.encode())
        ids.append(str(repo.create_commit_with_signature(content, signature.rstrip("\n"))))
    repo.references.create("refs/heads/main", ids[-1])
    return " ".join(public.split()[:2]), ids
