"""The reconciler's signed state in the audit (docs/audit.md, "--verify"): every commit of
``refs/gitrot/state`` must be signed by the key gitrot.yaml names
(``reconciler.signing_key``), as the reconciler itself requires before it trusts one. A
state commit that is unsigned or signed otherwise is a ``state-signature`` problem: the
reconciler ignored it, and an auditor should know it was there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitrot.audit.model import Problem
from gitrot.git import sshsig
from gitrot.git.state import STATE_REF, state_head

if TYPE_CHECKING:
    from gitrot.git.repository import Repo

CHECK = "state-signature"
MAX_COMMITS = 100_000  # a bound on the walk: one state commit per reconcile run


def state_problems(repo: Repo, signing_key: str | None) -> list[Problem]:
    """One Problem per commit of the state's first-parent history that is not signed by
    ``signing_key``; one Problem when there is a state but no key to check it with."""
    import pygit2

    head = state_head(repo)
    if head is None:
        return []
    if signing_key is None:
        return [
            Problem(
                CHECK,
                f"{STATE_REF} exists but gitrot.yaml names no reconciler.signing_key to check it",
                commit=head,
            )
        ]
    problems: list[Problem] = []
    commit = repo[head]
    for _ in range(MAX_COMMITS):
        if not isinstance(commit, pygit2.Commit):
            break
        signature, payload = commit.gpg_signature
        why = ""
        if signature is None:
            why = "not signed"
        else:
            try:
                sshsig.verify(signature, payload, signing_key)
            except sshsig.BadSignature as exc:
                why = str(exc)
        if why:
            problems.append(
                Problem(
                    CHECK, f"{STATE_REF} commit {str(commit.id)[:12]}: {why}", commit=str(commit.id)
                )
            )
        if not commit.parents:
            break
        commit = commit.parents[0]
    return problems
