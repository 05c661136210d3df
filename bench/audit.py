"""Benchmark: ``gitrot audit`` on a generated policy history of 100,000 commits.

The repository (built once, cached under the system temp dir, keyed by the parameters):
a policy repository as ``gitrot init`` leaves it, 200 intents as ``gitrot new`` writes them
(``secrets/team-NN/secret-NN.yaml``), then --commits first-parent commits of which one in
ten rotates one intent (a version bump with a reason and the ``Gitrot-*`` trailers
``gitrot rotate --commit`` writes, some with ``Approved-by:``) and the others change a file
outside ``secrets/``; half of the rotations (5,000 of 10,000) are SSH-signed by their
author's Ed25519 key, in git's format (a ``gpgsig`` header holding an SSHSIG over the
commit, namespace ``git``), and an allowed-signers file lists the five authors' keys. The
objects are written straight into one pack (``git index-pack`` indexes it): git's own
commands would take minutes to make 100,000 commits.

Then, as whole processes in one run:
  * ``git log --name-only --format=%H%x00%an%x00%ct -- secrets/`` against
    ``gitrot audit --format json`` (target: at most 2 x git's time);
  * ``git log --format=%G? -- secrets/`` with ``gpg.ssh.allowedSignersFile`` (git runs
    ssh-keygen for each signed commit) against gitrot's verification of the same commits
    (``gitrot.audit.signatures.check_commits``, in this process, timed alone) (target: at
    least 20 x faster), and the two must agree on which commits are good.

Usage: python bench/audit.py [--commits 100000] [--every 10] [--repo DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.reconcile import git_env, tool

GENERATOR = 1  # bump when the repository changes shape: the cache key includes it
TEAMS, PER_TEAM = 20, 10  # 200 intents
SOURCES = 100  # files outside secrets/
AUTHORS = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov")
START = 1_704_067_200  # 2024-01-01T00:00:00Z
STEP_S = 300
TARGET_LOG_RATIO, TARGET_SIGNATURE_SPEEDUP = 2.0, 20.0
_TYPES = {b"commit": 1, b"tree": 2, b"blob": 3}


def email(author: str) -> str:
    return author.split(maxsplit=1)[0].lower() + "@example.com"


class Pack:
    """Objects written into one pack file: ``add`` returns the object id."""

    def __init__(self) -> None:
        self.entries: list[bytes] = []

    def add(self, kind: bytes, data: bytes) -> bytes:
        oid = hashlib.sha1(b"%s %d\0" % (kind, len(data)) + data).digest()  # noqa: S324 - git
        size = len(data)
        byte = (_TYPES[kind] << 4) | (size & 15)
        size >>= 4
        header = bytearray()
        while size:
            header.append(byte | 0x80)
            byte, size = size & 0x7F, size >> 7
        header.append(byte)
        self.entries.append(bytes(header) + zlib.compress(data, 1))
        return oid

    def write(self, folder: Path) -> Path:
        """The pack file (``pack-<checksum>.pack`` in ``folder``)."""
        body = b"PACK" + struct.pack(">II", 2, len(self.entries)) + b"".join(self.entries)
        checksum = hashlib.sha1(body).digest()  # noqa: S324 - git's pack format
        path = folder / f"pack-{checksum.hex()}.pack"
        path.write_bytes(body + checksum)
        return path


class Folder:
    """A directory of the working tree: files (name -> blob id) and folders; its tree id
    is cached until something below it changes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.folders: dict[str, Folder] = {}
        self.oid: bytes | None = None

    def put(self, path: str, blob: bytes) -> None:
        self.oid = None
        head, _, rest = path.partition("/")
        if rest:
            self.folders.setdefault(head, Folder()).put(rest, blob)
        else:
            self.files[head] = blob

    def tree(self, pack: Pack) -> bytes:
        if self.oid is None:
            entries = [(name, b"100644", oid) for name, oid in self.files.items()]
            entries += [(name + "/", b"40000", f.tree(pack)) for name, f in self.folders.items()]
            entries.sort(key=lambda entry: entry[0].encode())  # git: folders sort as "name/"
            data = b"".join(
                mode + b" " + name.rstrip("/").encode() + b"\0" + oid for name, mode, oid in entries
            )
            self.oid = pack.add(b"tree", data)
        return self.oid


def templates(root: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    """``gitrot init``'s tracked files and one intent text per secret (version 1)."""
    from gitrot.commands import init
    from gitrot.files import intents

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        init.init(str(root), break_glass=None)
    env = git_env()
    subprocess.run([tool("git"), "add", "-A"], cwd=root, env=env, check=True)
    listed = subprocess.run(
        [tool("git"), "ls-files", "-z"], cwd=root, env=env, capture_output=True, check=True
    ).stdout.decode()
    files = {path: (root / path).read_bytes() for path in listed.split("\0") if path}
    options = intents.creation_options(str(root), "secrets/team-00/secret-00.yaml")
    texts = {}
    for index in range(TEAMS * PER_TEAM):
        name = f"team-{index // PER_TEAM:02d}/secret-{index % PER_TEAM:02d}"
        texts[name] = intents.new_intent_text(
            name, owner=f"team-{index // PER_TEAM:02d}", rotation_class="database-password",
            backend="local", ref=name, environment=None, consumers=[], length=32,
            alphabet="A-Za-z0-9", options=options, now=datetime_at(START),
        )  # fmt: skip
    return files, texts


def datetime_at(epoch: int):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)


def signed(raw: bytes, key: object) -> bytes:
    """``raw`` (a commit object) with the SSH signature git would add (``gpgsig``)."""
    from gitrot.git import sshsig

    armored = sshsig.sign(key, raw)  # type: ignore[arg-type]
    header, _, message = raw.partition(b"\n\n")
    folded = armored.rstrip("\n").replace("\n", "\n ")
    return header + b"\ngpgsig " + folded.encode() + b"\n\n" + message


def generate(repo: Path, commits: int, every: int) -> None:
    """The repository the module docstring describes, with ``allowed_signers`` beside it."""
    from gitrot.git import sshsig

    work = repo.parent / "template"
    files, texts = templates(work)
    shutil.rmtree(work)
    keys, allowed = {}, []
    for author in AUTHORS:
        private, public = sshsig.generate()
        keys[author] = sshsig.load_private(private)
        allowed.append(f'{email(author)} namespaces="git" {" ".join(public.split()[:2])}')
    (repo.parent / "allowed_signers").write_text("\n".join(allowed) + "\n")
    subprocess.run([tool("git"), "init", "-q", "-b", "main", str(repo)], check=True)
    pack, top = Pack(), Folder()
    for path, data in files.items():
        top.put(path, pack.add(b"blob", data))
    versions = dict.fromkeys(texts, 1)
    for name, text in texts.items():
        top.put(f"secrets/{name}.yaml", pack.add(b"blob", text.encode()))
    parent: bytes | None = None
    rotation = 0
    for number in range(commits + 1):
        when = START + number * STEP_S
        author = AUTHORS[number % len(AUTHORS)]
        if number == 0:
            message = "gitrot init and 200 intents\n"
        elif number % every == 0:
            rotation += 1
            name = list(texts)[rotation % len(texts)]
            versions[name] += 1
            version = versions[name]
            text = texts[name].replace("    version: 1\n", f"    version: {version}\n", 1)
            text = text.replace(
                "reason: Initial version", f"reason: Scheduled rotation CHG-{rotation}"
            )
            top.put(f"secrets/{name}.yaml", pack.add(b"blob", text.encode()))
            approver = AUTHORS[(number + 1) % len(AUTHORS)]
            message = (
                f"Rotate {name} to version {version}\n\nScheduled rotation CHG-{rotation}\n\n"
                f"Gitrot-Secret: {name}\nGitrot-Version: {version}\nGitrot-Emergency: false\n"
            ) + (f"Approved-by: {approver}\n" if rotation % 3 == 0 else "")
        else:
            path = f"src/mod-{number % 10}/file-{number % SOURCES:03d}.txt"
            top.put(path, pack.add(b"blob", f"change {number}\n".encode()))
            message = f"Change {path}\n"
        who = f"{author} <{email(author)}> {when} +0000".encode()
        raw = b"tree " + top.tree(pack).hex().encode() + b"\n"
        if parent is not None:
            raw += b"parent " + parent.hex().encode() + b"\n"
        raw += b"author " + who + b"\ncommitter " + who + b"\n\n" + message.encode()
        if number and number % every == 0 and rotation % 2 == 0:
            raw = signed(raw, keys[author])
        parent = pack.add(b"commit", raw)
    packfile = pack.write(repo / ".git" / "objects" / "pack")
    subprocess.run([tool("git"), "index-pack", str(packfile)], check=True, capture_output=True)
    assert parent is not None
    subprocess.run(
        [tool("git"), "update-ref", "refs/heads/main", parent.hex()], cwd=repo, check=True
    )
    (repo / ".gitrot").mkdir(exist_ok=True)
    subprocess.run([tool("git"), "checkout", "-q", "-f", "main"], cwd=repo, check=True)


def cached(commits: int, every: int, where: Path | None) -> Path:
    base = (
        where or Path(tempfile.gettempdir()) / f"gitrot-bench-audit-g{GENERATOR}-{commits}-{every}"
    )
    repo = base / "policy"
    if not (base / "done").exists():
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        began = time.perf_counter()
        generate(repo, commits, every)
        (base / "done").write_text("ok\n")
        print(f"  generated {commits:,} commits in {time.perf_counter() - began:.1f} s: {repo}",
              file=sys.stderr)  # fmt: skip
    return repo


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    began = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    spent = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"bench: {' '.join(argv)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return spent, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=10, help="one commit in N rotates")
    parser.add_argument("--repo", type=Path, default=None, help="where to build (cached)")
    args = parser.parse_args()
    repo = cached(args.commits, args.every, args.repo)
    allowed = repo.parent / "allowed_signers"
    env = git_env()
    git = tool("git")

    log_s, listing = timed(
        [git, "log", "--name-only", "--format=%H%x00%an%x00%ct", "--", "secrets/"], repo, env
    )
    touching = sum(1 for line in listing.splitlines() if "\0" in line)
    audit_s, report = timed([tool("gitrot"), "audit", "--format", "json"], repo, env)
    rows = len(json.loads(report)["rows"])
    ratio = audit_s / log_s
    verdict = "OK" if ratio <= TARGET_LOG_RATIO else "MISSED"
    print(
        f"audit, {args.commits:,} commits ({touching:,} touching secrets/, {rows:,} ledger "
        f"rows): gitrot audit --format json {audit_s:.2f} s, git log --name-only {log_s:.2f} "
        f"s, {ratio:.2f} x git's time (target <= {TARGET_LOG_RATIO:g} x) {verdict}",
        flush=True,
    )

    ssh = [git, "-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={allowed}"]
    git_s, statuses = timed([*ssh, "log", "--format=%H %G?", "--", "secrets/"], repo, env)
    by_git = dict(line.split() for line in statuses.splitlines())
    ids = list(by_git)
    from gitrot.audit.signatures import check_commits
    from gitrot.git.repository import open_repo

    opened = open_repo(str(repo))
    began = time.perf_counter()
    found = check_commits(opened, ids, allowed_signers=allowed.read_text(), trusted_times={})
    ours_s = time.perf_counter() - began
    good_git = {c for c, s in by_git.items() if s == "G"}
    good_ours = {c for c, s in found.items() if s.status == "good"}
    agree = "agree" if good_git == good_ours else f"DISAGREE on {len(good_git ^ good_ours)}"
    speedup = git_s / ours_s
    verdict = "OK" if speedup >= TARGET_SIGNATURE_SPEEDUP else "MISSED"
    print(
        f"signatures, {len(ids):,} commits ({len(good_git):,} signed good by git): gitrot "
        f"{ours_s:.2f} s, git log --format=%G? {git_s:.2f} s, {speedup:.1f} x faster (target "
        f">= {TARGET_SIGNATURE_SPEEDUP:g} x) {verdict}; verdicts {agree}",
        flush=True,
    )


if __name__ == "__main__":
    main()
