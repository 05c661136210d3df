"""Policy repositories for the reconciler tests, built the way a user builds one.

``gitrot init``, ``gitrot new`` and ``gitrot rotate`` run in process through
:func:`gitrot.main.main`; commits are made by the real git; ``gitrot plan``, ``reconcile``
and ``status`` run as child processes (``python -m gitrot``), so they can be killed, run
four at once, and have their output and temporary files inspected.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from gitrot.backends.base import BackendContext, delivery_id, idempotency_key
from gitrot.backends.local import LocalBackend

GITROT = (sys.executable, "-m", "gitrot")
RECORD = re.compile(r"v([1-9][0-9]*)\.json")
#: a class without min_interval: the tests rotate every secret many times a minute
CLASS = "test-key"
WHO = {
    "GIT_AUTHOR_NAME": "Alice Example",
    "GIT_AUTHOR_EMAIL": "alice@example.com",
    "GIT_COMMITTER_NAME": "Alice Example",
    "GIT_COMMITTER_EMAIL": "alice@example.com",
}


def environment(**extra: str) -> dict[str, str]:
    """The environment of a child process: no inherited ``GIT_*``, ``GITROT_*`` or
    ``SOPS_*``, a fixed git identity, and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITROT_", "SOPS_"))}
    env.update(WHO, GIT_CONFIG_NOSYSTEM="1")
    env.update(extra)
    return env


def git(cwd: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}:\n{done.stderr}")
    return done.stdout


def cli(cwd: Path, *args: str, stdin: str | None = None) -> int:
    """``gitrot ARGS`` in process, in ``cwd``, with ``stdin`` as standard input."""
    from gitrot.main import main

    saved = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()))
    try:
        with contextlib.chdir(cwd):
            return main(list(args))
    finally:
        sys.stdin = saved


def run(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``gitrot ARGS`` as a child process in ``cwd``."""
    return subprocess.run(
        [*GITROT, *args],
        cwd=cwd,
        env=env if env is not None else environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def start(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``gitrot ARGS`` started in ``cwd`` (its output discarded), to be killed or waited for."""
    return subprocess.Popen(
        [*GITROT, *args],
        cwd=cwd,
        env=env if env is not None else environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def logger_trigger(log: Path, *, sleep: float = 0) -> dict[str, Any]:
    """A command trigger that appends ``name version delivery_id`` to ``log`` in one write,
    after ``sleep`` seconds: ``sh`` starts in 2 ms where Python takes 30, so a run's time
    goes to the reconciler, not to its consumers."""
    line = (
        'printf "%s %s %s\\n" "$GITROT_SECRET_NAME" "$GITROT_SECRET_VERSION" "$GITROT_DELIVERY_ID"'
    )
    script = (f"sleep {sleep:g}; " if sleep else "") + f'{line} >> "$1"'
    return {"type": "command", "argv": ["sh", "-c", script, "logger", str(log)]}


def share_store(root: Path, store: Path) -> None:
    """Make ``root``'s ``.gitrot/store`` a symbolic link to ``store``."""
    store.mkdir(mode=0o700, exist_ok=True)
    (root / ".gitrot").mkdir(mode=0o700, exist_ok=True)
    (root / ".gitrot" / "store").symlink_to(store, target_is_directory=True)


class PolicyRepo:
    """A policy repository made by ``gitrot init`` and the intents' expected state:
    ``desired`` (name -> version at the last commit), ``versions`` (name -> every version
    desired at a commit so far: what the backend must hold), ``sealed`` ((name, version)
    -> the value piped to ``gitrot rotate --value-stdin``)."""

    #: the backend of gitrot.yaml new intents go to, and the folder of their refs
    backend_name = "local"
    prefix = ""

    def __init__(self, root: Path, *, store: Path | None = None) -> None:
        self.root = root
        self.store = store
        self.refs: dict[str, str] = {}
        self.desired: dict[str, int] = {}
        self.versions: dict[str, set[int]] = {}
        self.sealed: dict[tuple[str, int], str] = {}
        self.pending: dict[str, int] = {}

    @classmethod
    def create(
        cls, root: Path, *, triggers: dict[str, dict[str, Any]], store: Path | None = None
    ) -> PolicyRepo:
        """``gitrot init ROOT``, then gitrot.yaml gets ``triggers``, the class
        :data:`CLASS`; with ``store``, ``.gitrot/store`` is a symbolic link to that folder
        (gitrot.yaml takes relative paths only: this is how reconcilers share one)."""
        root.parent.mkdir(parents=True, exist_ok=True)
        assert cli(root.parent, "init", root.name) == 0
        config = root / "gitrot.yaml"
        text = config.read_text()
        block = "".join(f"  {name}: {json.dumps(spec)}\n" for name, spec in triggers.items())
        text = text.replace("triggers: {}\n", f"triggers:\n{block}")
        text = text.replace("classes:\n", f"classes:\n  {CLASS}: {{max_age: 90d}}\n")
        config.write_text(text)
        if store is not None:
            share_store(root, store)
        return cls(root, store=store)

    # --- intents ------------------------------------------------------------------------

    def new(
        self,
        name: str,
        *,
        ref: str | None = None,
        consumers: tuple[str, ...] = ("api",),
        sealed: str | None = None,
    ) -> None:
        """``gitrot new NAME`` (version 1) on :attr:`backend_name`, at ``ref`` (default
        ``<prefix>/NAME``, or NAME); with ``sealed``, then rotated to version 2 with that
        value piped in."""
        ref = ref or (f"{self.prefix}/{name}" if self.prefix else name)
        args = ["new", name, "--backend", self.backend_name, "--ref", ref, "--owner", "team-a"]
        args += ["--class", CLASS]
        for consumer in consumers:
            args += ["--consumer", consumer]
        assert cli(self.root, *args) == 0
        self.refs[name] = ref
        self.pending[name] = 1
        if sealed is not None:
            self.rotate(name, value=sealed)

    def rotate(self, name: str, *, value: str | None = None) -> int:
        """``gitrot rotate NAME`` (``--value-stdin`` with ``value``); the new version."""
        version = self.pending.get(name, self.desired.get(name, 0)) + 1
        args = ["rotate", name, "--reason", f"Test rotation to version {version}, CHG-{version}"]
        if value is not None:
            args.append("--value-stdin")
        assert cli(self.root, *args, stdin=value) == 0
        self.pending[name] = version
        if value is not None:
            self.sealed[(name, version)] = value
        return version

    def commit(self, message: str = "Rotate") -> str:
        """Commit everything; the intents' versions become desired. The commit id."""
        git(self.root, "add", "-A")
        git(self.root, "commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m", message)
        for name, version in self.pending.items():
            self.desired[name] = version
            self.versions.setdefault(name, set()).add(version)
        self.pending.clear()
        return self.head()

    def head(self) -> str:
        return git(self.root, "rev-parse", "HEAD").strip()

    def blobs(self, rev: str = "HEAD") -> dict[str, str]:
        """``{intent name: blob id}`` at ``rev``."""
        found = {}
        for line in git(self.root, "ls-tree", "-r", rev, "--", "secrets").splitlines():
            info, path = line.split("\t")
            if path.endswith(".yaml") and not path.endswith(".sealed.yaml"):
                found[path.removeprefix("secrets/").removesuffix(".yaml")] = info.split()[2]
        return found

    # --- what the reconciler left ---------------------------------------------------------

    def reconciled(self) -> str | None:
        out = git(
            self.root, "rev-parse", "--verify", "--quiet", "refs/gitrot/reconciled", check=False
        )
        return out.strip() or None

    def note(self, rev: str = "HEAD") -> dict[str, Any] | None:
        done = subprocess.run(
            ["git", "notes", "--ref", "gitrot", "show", rev],
            cwd=self.root,
            env=environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        return json.loads(done.stdout) if done.returncode == 0 else None

    def state(self, ref: str = "refs/gitrot/state", cwd: Path | None = None) -> dict[str, Any]:
        """``{name: entry}`` of the reconciler's state (``secrets/<name>.json`` in the tree
        of ``refs/gitrot/state``); empty without one."""
        where = cwd or self.root
        if not git(where, "rev-parse", "--verify", "--quiet", ref, check=False).strip():
            return {}
        found = {}
        for line in git(where, "ls-tree", "-r", ref, "--", "secrets").splitlines():
            info, path = line.split("\t")
            entry = json.loads(git(where, "cat-file", "blob", info.split()[2]))
            found[path.removeprefix("secrets/").removesuffix(".json")] = entry
        return found

    @property
    def identity(self) -> str:
        return (self.root / ".gitrot" / "reconciler.key").read_text()

    def recipient(self) -> str:
        import pyrage

        lines = [line for line in self.identity.splitlines() if line.startswith("AGE-SECRET")]
        return str(pyrage.x25519.Identity.from_str(lines[0]).to_public())

    def backend(self) -> LocalBackend:
        """The local backend as the reconciler opens it, with the reconciler's identity."""
        context = BackendContext(
            root=str(self.root), recipients=(self.recipient(),), identities=self.identity
        )
        # with a shared store, .gitrot/store is a link to it (git does not track it)
        return LocalBackend("local", {"path": ".gitrot/store"}, context)


def repo_on_backend(root: Path, name: str, ref: str, backend: str, log: Path) -> PolicyRepo:
    """A policy repository whose gitrot.yaml has ``backend`` (``"NAME: {type: ...}"``), with
    one committed intent ``name`` at ``ref`` on it, told to the trigger ``api`` (``log``)."""
    repo = PolicyRepo.create(root, triggers={"api": logger_trigger(log)})
    config = root / "gitrot.yaml"
    config.write_text(config.read_text().replace("backends:\n", f"backends:\n  {backend}\n", 1))
    backend_name = backend.split(":", 1)[0]
    args = ["new", name, "--backend", backend_name, "--ref", ref, "--owner", "team-a"]
    assert cli(root, *args, "--class", CLASS, "--consumer", "api") == 0
    repo.refs[name] = ref
    repo.pending[name] = 1
    repo.commit(f"Add the intent on {backend_name}")
    return repo


def expected_delivery(name: str, version: int, trigger: str = "api") -> str:
    return delivery_id(idempotency_key(name, version), trigger)


def read_log(log: Path) -> dict[tuple[str, int], set[str]]:
    """``{(name, version): {delivery ids}}`` of a :func:`logger_trigger` log."""
    found: dict[tuple[str, int], set[str]] = {}
    if not log.exists():
        return found
    for line in log.read_text().splitlines():
        name, version, delivery = line.split(" ")
        found.setdefault((name, int(version)), set()).add(delivery)
    return found


class Store:
    """Every version the test has seen in the store: the SHA-256 of its ciphertext and its
    value, from the first time it appeared. A version whose bytes change later was written
    twice."""

    def __init__(self, repo: PolicyRepo) -> None:
        self.repo = repo
        self.backend = repo.backend()
        self.seen: dict[tuple[str, int], tuple[str, str]] = {}

    def observe(self) -> dict[str, set[int]]:
        """``{name: versions with a record}``; fails on a rewritten version (its value or
        record bytes changed) or a record that is not the intent's."""
        found: dict[str, set[int]] = {}
        for name, ref in self.repo.refs.items():
            folder = self.folder(ref)
            names = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
            for entry in names:
                match = RECORD.fullmatch(entry)
                if match is None:
                    continue
                version = int(match[1])
                digest = self.fingerprint(folder, version)
                if (name, version) in self.seen:
                    assert self.seen[(name, version)][0] == digest, (
                        f"{name} v{version} was written again (its files changed)"
                    )
                else:
                    record = self.backend.get(ref, version)
                    assert record is not None
                    assert (record.name, record.ref) == (name, ref)
                    assert record.key == idempotency_key(name, version)
                    value = self.backend.read(ref, version).reveal()
                    self.check_value(name, version, value)
                    self.seen[(name, version)] = (digest, value)
                found.setdefault(name, set()).add(version)
        return found

    def check_value(self, name: str, version: int, value: str) -> None:
        sealed = self.repo.sealed.get((name, version))
        if sealed is not None:
            assert value == sealed, f"{name} v{version} does not hold its sealed value"
        else:
            assert len(value) == 32 and value.isalnum(), f"{name} v{version}: not generated"

    def fingerprint(self, folder: Path, version: int) -> str:
        """The SHA-256 of version ``version``'s value and record files (``step`` aside: a
        rotation marks the record of its pending version)."""
        record = json.loads((folder / f"v{version}.json").read_bytes())
        record.pop("step", None)
        data = (folder / f"v{version}.age").read_bytes() + json.dumps(record).encode()
        return hashlib.sha256(data).hexdigest()

    def folder(self, ref: str) -> Path:
        return Path(self.backend.store, *ref.split("/"))

    def check_exact(self) -> None:
        """The store holds exactly the versions desired at some commit, each as one value
        file and one record, with nothing a crash left behind; no version's files changed
        since first seen, and no two versions hold the same value."""
        assert self.observe() == self.repo.versions
        for name, ref in self.repo.refs.items():
            versions = sorted(self.repo.versions[name])
            files = {f"v{n}.{ext}" for n in versions for ext in ("age", "json")}
            listing = {p.name for p in self.folder(ref).iterdir()}
            assert listing == files | {".lock"}, f"{name}: {sorted(listing - files)}"
        values = [value for _, value in self.seen.values()]
        assert len(values) == len(set(values)), "two versions got the same value"

    def reread_all(self) -> None:
        """Every version decrypted again holds the value first seen."""
        for (name, version), (_, value) in self.seen.items():
            assert self.backend.read(self.repo.refs[name], version).reveal() == value
