"""Generated policy histories for the audit tests, built the way people build them.

A policy repository made by ``gitrot init``; intents made by ``gitrot new`` and rotated by
``gitrot rotate --commit`` (in process) on branches, brought into ``main`` by ``--no-ff``
merges, squash merges, or rebased and fast-forwarded; a force-push that drops a merged
rotation; notes written by a real ``gitrot reconcile`` (a child process). Every commit has
a fixed author, committer and time (``History.clock``), so the ledger can be asserted.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.reconcile.helpers import CLASS, PolicyRepo, cli, environment, logger_trigger, run

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
ALICE = ("Alice Example", "alice@example.com")
BOB = ("Bob Builder", "bob@example.com")
CAROL = ("Carol Lead", "carol@example.com")


def who_env(author: tuple[str, str], committer: tuple[str, str], when: int) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": committer[0],
        "GIT_COMMITTER_EMAIL": committer[1],
        "GIT_AUTHOR_DATE": f"@{when} +0000",
        "GIT_COMMITTER_DATE": f"@{when} +0000",
    }


@contextlib.contextmanager
def patched_env(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class History:
    """One policy repository and its clock; the methods each make one step of history."""

    def __init__(self, root: Path, deliveries: Path) -> None:
        self.root = root
        self.deliveries = deliveries
        self.clock = T0

    @classmethod
    def create(
        cls,
        tmp_path: Path,
        secrets: dict[str, str] | None = None,
        *,
        who: tuple[str, str] = ALICE,
    ) -> History:
        """``gitrot init`` and ``gitrot new`` for each secret (name -> environment),
        committed on ``main`` by ``who`` at :data:`T0`."""
        deliveries = tmp_path / "deliveries.log"
        policy = PolicyRepo.create(
            tmp_path / "policy", triggers={"api": logger_trigger(deliveries)}
        )
        history = cls(policy.root, deliveries)
        history.git("config", "user.name", who[0])
        history.git("config", "user.email", who[1])
        wanted = secrets if secrets is not None else {"payments/db": "prod", "search/key": "dev"}
        for name, env in wanted.items():
            args = ["new", name, "--backend", "local", "--ref", name, "--owner", "team-a"]
            args += ["--class", CLASS, "--consumer", "api", "--environment", env]
            assert cli(history.root, *args) == 0
        history.git("add", "-A")
        history.git("commit", "-q", "--no-verify", "-m", "Policy repository", who=who, when=T0)
        return history

    def tick(self, seconds: int = 3600) -> int:
        self.clock += seconds
        return self.clock

    def git(
        self,
        *args: str,
        who: tuple[str, str] = ALICE,
        committer: tuple[str, str] | None = None,
        when: int | None = None,
        check: bool = True,
    ) -> str:
        env = environment(**who_env(who, committer or who, when or self.tick()))
        done = subprocess.run(
            ["git", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout.strip()

    def gitrot(
        self,
        *args: str,
        who: tuple[str, str] = ALICE,
        when: int | None = None,
        stdin: str | None = None,
    ) -> int:
        """``gitrot ARGS`` in process, as ``who`` at ``when`` (for the commits it makes)."""
        with patched_env(who_env(who, who, when or self.tick())):
            return cli(self.root, *args, stdin=stdin)

    def head(self, rev: str = "HEAD") -> str:
        return self.git("rev-parse", rev, when=self.clock)

    def rotate(
        self,
        name: str,
        reason: str = "Scheduled rotation CHG-1",
        *,
        emergency: bool = False,
        who: tuple[str, str] = ALICE,
    ) -> str:
        """``gitrot rotate NAME --commit`` as ``who``; the commit id."""
        args = ["rotate", name, "--reason", reason, "--commit"]
        if emergency:
            args.append("--emergency")
        assert self.gitrot(*args, who=who) == 0
        return self.head()

    def branch(self, name: str, start: str = "main") -> None:
        self.git("checkout", "-q", "-b", name, start, when=self.clock)

    def checkout(self, name: str) -> None:
        self.git("checkout", "-q", name, when=self.clock)

    def merge(self, branch: str, message: str, *, who: tuple[str, str] = CAROL) -> str:
        """``git merge --no-ff`` of ``branch`` into main, committed by ``who``."""
        self.checkout("main")
        self.git("merge", "-q", "--no-ff", "--no-edit", "-m", message, branch, who=who)
        return self.head()

    def squash(self, branch: str, message: str, *, who: tuple[str, str] = CAROL) -> str:
        """``git merge --squash`` of ``branch``, committed on main by ``who``."""
        self.checkout("main")
        self.git("merge", "-q", "--squash", branch, when=self.clock)
        self.git("commit", "-q", "--no-verify", "-m", message, who=who)
        return self.head()

    def rebase_ff(self, branch: str, *, who: tuple[str, str] = CAROL) -> str:
        """``branch`` rebased onto main (``who`` commits the copies), main fast-forwarded."""
        self.git("rebase", "-q", "main", branch, who=who)
        self.checkout("main")
        self.git("merge", "-q", "--ff-only", branch, when=self.clock)
        return self.head()

    def force_back(self, rev: str) -> None:
        """main moved back to ``rev``, as a force-push does (the later commits unreachable)."""
        self.git("checkout", "-q", "main", when=self.clock)
        self.git("reset", "-q", "--hard", rev, when=self.clock)

    def reconcile(self) -> str:
        """A real ``gitrot reconcile`` (child process) at HEAD; its standard output."""
        done = run(self.root, "reconcile")
        assert done.returncode == 0, done.stderr
        return done.stdout

    def audit(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``gitrot audit ARGS`` as a child process."""
        return run(self.root, "audit", *args)
