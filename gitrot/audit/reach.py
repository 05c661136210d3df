"""What the repository says about the reconciler's records (docs/audit.md, "--verify"):
which gitrot notes sit on commits the main branch no longer reaches, and whether
``refs/gitrot/reconciled`` is an ancestor of it. Three git commands whatever the history's
size: ``git notes list``, ``git rev-parse`` and one ``git rev-list`` of the main branch.
:func:`gitrot.audit.verify.problems` judges the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitrot.errors import GitError
from gitrot.git.process import run_git
from gitrot.git.state import NOTES_REF, RECONCILED_REF


@dataclass(frozen=True)
class Reach:
    """``notes_unreachable``: the commits (sorted) with a gitrot note that the main branch
    does not reach; ``reconciled``: the commit ``refs/gitrot/reconciled`` names (None
    without one); ``reconciled_ok``: it is None, the main branch's tip or an ancestor."""

    reconciled: str | None
    reconciled_ok: bool
    notes_unreachable: list[str] = field(default_factory=list)


def reach(main: str, *, git_dir: str | None = None, cwd: str | None = None) -> Reach:
    """Where the notes and ``refs/gitrot/reconciled`` stand against the branch ``main``
    (a ref or branch name). :class:`GitError` (exit 3) when git fails, e.g. no such branch."""
    noted = [
        line.split()[1]
        for line in _out(["notes", f"--ref={NOTES_REF}", "list"], git_dir, cwd).splitlines()
        if len(line.split()) == 2
    ]
    done = run_git(
        ["rev-parse", "--verify", "--quiet", f"{RECONCILED_REF}^{{commit}}"],
        git_dir=git_dir,
        cwd=cwd,
    )
    reconciled = (done.stdout.decode().strip() or None) if done.returncode == 0 else None
    reachable = set(_out(["rev-list", main, "--"], git_dir, cwd).split())
    return Reach(
        reconciled=reconciled,
        reconciled_ok=reconciled is None or reconciled in reachable,
        notes_unreachable=sorted(commit for commit in noted if commit not in reachable),
    )


def _out(args: list[str], git_dir: str | None, cwd: str | None) -> str:
    done = run_git(args, git_dir=git_dir, cwd=cwd)
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(
            f"git {args[0]} failed: {error[-1] if error else f'exit {done.returncode}'}",
            where=git_dir or cwd or "",
        )
    return done.stdout.decode()
