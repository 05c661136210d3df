"""A policy repository in git for the ``gitrot check`` scenarios.

:class:`PolicyRepo` wraps a repository made by ``gitrot init``: gitrot's own commands write
the files, pygit2 commits them with backdated author and committer times (so history rules
are deterministic), branches, merges and detaches HEAD; :meth:`PolicyRepo.check` runs
``gitrot check --format json`` in process and returns the exit code and the findings.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2
import pytest

from tests.conftest import Result
from tests.gitrepo import checkout

NOW = int(time.time())
HOUR = 3600
DAY = 24 * HOUR
DB = "payments/db-password"  # a production database password (needs an approval)
API = "search/api-key"  # a development api key
REASON = "Quarterly rotation CHG-2291"
EMERGENCY = "INC-4711: the key was exposed in CI logs, rotate now"
DEV = ("Dev Eloper", "dev@example.com")
MAINTAINER = ("Alice Example", "alice@example.com")

#: a repository's own rule (policies/ticket.yaml): every rotation names its change ticket
TICKET_RULE = """\
apiVersion: gitrot/v1
kind: PolicyRules
rules:
  - id: reason-names-a-ticket
    severity: error
    description: Every rotation names its change ticket, so the audit can find it.
    field: spec.reason
    expr: intent.spec.reason.matches('[A-Z]+-[0-9]+')
    message: spec.reason names no ticket
    hint: "add the ticket, e.g. CHG-1234"
"""

Findings = list[dict[str, Any]]
Run = Callable[..., Result]  # the ``gitrot`` fixture


def intent_path(name: str) -> str:
    return f"secrets/{name}.yaml"


def ids(findings: Findings) -> list[str]:
    """The rule ids of ``findings``, sorted (a repeated id appears as often as it fires)."""
    return sorted(str(f["rule_id"]) for f in findings)


class PolicyRepo:
    """A policy repository in a git work tree at ``root``, edited and committed by a test."""

    def __init__(self, root: Path, run: Run, prefix: str = "") -> None:
        self.root = root  # the git work tree
        self.policy = root / prefix  # the policy repository in it
        self.run = run
        self.git = pygit2.Repository(str(root))

    # -- files --------------------------------------------------------------------------

    def gitrot(self, *args: str, stdin: str | None = None) -> Result:
        """Run gitrot in the policy folder; the command must succeed."""
        with pytest.MonkeyPatch.context() as patch:
            if stdin is not None:
                patch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
            result = self.run(*args)
        assert result.code == 0, (args, result.err)
        return result

    def new(
        self,
        name: str,
        *,
        environment: str = "prod",
        rotation_class: str = "database-password",
        backend: str = "local",
    ) -> None:
        self.gitrot(
            "new", name, "--backend", backend, "--ref", f"{name}#value", "--owner", "team-a",
            "--class", rotation_class, "--environment", environment,
        )  # fmt: skip

    def rotate(
        self, name: str, *flags: str, reason: str = REASON, value: str | None = None
    ) -> None:
        if value is None:
            self.gitrot("rotate", name, "--reason", reason, *flags)
        else:
            self.gitrot("rotate", name, "--reason", reason, "--value-stdin", *flags, stdin=value)

    def read(self, rel: str) -> str:
        return (self.policy / rel).read_text()

    def write(self, rel: str, text: str) -> None:
        path = self.policy / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def edit(self, rel: str, old: str, new: str) -> None:
        """Replace the one occurrence of ``old`` in ``rel`` with ``new``."""
        text = self.read(rel)
        assert text.count(old) == 1, f"{old!r} is not once in {rel}"
        self.write(rel, text.replace(old, new))

    def delete(self, rel: str) -> None:
        (self.policy / rel).unlink()

    def govern(self, owners: tuple[str, ...] = ("alice",), approvers: tuple[str, ...] = ()) -> None:
        """Name the policy owners (``policy.owners``) and the waiver approvers in gitrot.yaml
        (commit it on the base branch: the base's say who approves)."""
        self.edit("gitrot.yaml", "  owners: []\n", f"  owners: [{', '.join(owners)}]\n")
        if approvers:
            self.edit(
                "gitrot.yaml",
                "  waiver_approvers: []\n",
                f"  waiver_approvers: [{', '.join(approvers)}]\n",
            )

    # -- git ----------------------------------------------------------------------------

    def commit(self, message: str, *, ago: int = 0, author: tuple[str, str] = DEV) -> pygit2.Oid:
        """Commit every change of the work tree on HEAD, authored and committed ``ago``
        seconds before the test started."""
        index = self.git.index
        index.add_all()
        for path, flags in self.git.status().items():
            if flags & pygit2.enums.FileStatus.WT_DELETED:
                index.remove(path)
        index.write()
        signature = pygit2.Signature(*author, NOW - ago, 0)
        parents = [] if self.git.head_is_unborn else [self.git.head.target]
        return self.git.create_commit(
            "HEAD", signature, signature, message, index.write_tree(), parents
        )

    def branch(self, name: str = "pr") -> None:
        """A branch at HEAD, checked out."""
        self.git.branches.local.create(name, self.git.head.peel(pygit2.Commit))
        self.checkout(name)

    def checkout(self, name: str) -> None:
        checkout(self.git, name)

    def merge(self, branch: str, *, ago: int = 0) -> pygit2.Oid:
        """Merge ``branch`` into HEAD's branch with a merge commit."""
        other = self.git.branches.local[branch].peel(pygit2.Commit).id
        self.git.merge(other)
        assert self.git.index.conflicts is None, f"merging {branch} conflicts"
        signature = pygit2.Signature(*DEV, NOW - ago, 0)
        tree = self.git.index.write_tree()
        parents = [self.git.head.target, other]
        oid = self.git.create_commit("HEAD", signature, signature, f"Merge {branch}", tree, parents)
        self.git.state_cleanup()
        return oid

    # -- the check ------------------------------------------------------------------------

    def check_raw(self, *args: str, base: str = "main") -> Result:
        return self.run("check", "--base", base, *args)

    def check(self, *args: str, base: str = "main") -> tuple[int, Findings]:
        """``gitrot check --base BASE --format json ARGS``: (exit code, findings)."""
        result = self.check_raw("--format", "json", *args, base=base)
        assert result.code in (0, 1), result.err
        return result.code, json.loads(result.out)


def make_policy(run: Run, root: Path, monkeypatch: pytest.MonkeyPatch) -> PolicyRepo:
    """``gitrot init`` at ``root`` (also the current directory) with nothing committed."""
    assert run("init", str(root)).code == 0
    monkeypatch.chdir(root)
    return PolicyRepo(root, run)


@pytest.fixture
def pr_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI's facts: the pull request by ``dev`` is approved by ``alice``."""
    monkeypatch.setenv("GITROT_PR_AUTHOR", "dev")
    monkeypatch.setenv("GITROT_PR_APPROVALS", "alice")


@pytest.fixture
def policy(
    gitrot: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pr_facts: None
) -> PolicyRepo:
    """``main`` with the production database password at version 1, committed 30 days
    ago, and the PR facts of an approved pull request."""
    repo = make_policy(gitrot, tmp_path / "policy", monkeypatch)
    repo.new(DB)
    repo.commit("Add the payments database password", ago=30 * DAY, author=MAINTAINER)
    return repo
