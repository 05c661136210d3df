"""The pull request's facts, from the environment CI gives the check.

``GITROT_PR_AUTHOR`` (a login) and ``GITROT_PR_APPROVALS`` (comma-separated logins whose
reviews approve the change) are set by the gitrot GitHub Action and the GitLab template;
``GITROT_PR_NUMBER`` is optional. Unless both the author and the approvals are given (an
empty ``GITROT_PR_APPROVALS`` says "nobody approved"; an unset one "unknown"), the facts are
unknown (None): the PR check fails closed (rules that require them, policy changes and
waivers are errors saying how to provide them), never a pass decided on a guess.

Logins are compared case-insensitively (GitHub and GitLab logins are): they are lowercased
here, and :func:`approved_by` lowercases the names it is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


def pr_facts(environ: Mapping[str, str]) -> dict[str, object] | None:
    """``{"author", "approvals", "number"}`` from ``environ``; None when CI gave none."""
    author = environ.get("GITROT_PR_AUTHOR", "").strip().lower()
    if not author or "GITROT_PR_APPROVALS" not in environ:
        return None
    approvals = [
        login.strip().lower()
        for login in environ.get("GITROT_PR_APPROVALS", "").split(",")
        if login.strip()
    ]
    number_text = environ.get("GITROT_PR_NUMBER", "").strip()
    number = int(number_text) if number_text.isdigit() else None
    return {"author": author, "approvals": sorted(set(approvals)), "number": number}


#: how CI gives the facts, for the hints of findings that need them
MISSING_HINT = (
    "the PR check needs the pull request's author and approvals: set GITROT_PR_AUTHOR (a "
    "login) and GITROT_PR_APPROVALS (comma-separated logins whose reviews approve; empty for "
    "none); the gitrot GitHub Action and the GitLab template in docs/ci set them"
)


def approved_by(pr: Mapping[str, object] | None, logins: Iterable[str]) -> str | None:
    """The first of ``logins`` (case-insensitive) whose approval the pull request has and who
    is not its author; None when none (or the facts are unknown)."""
    if pr is None:
        return None
    author = str(pr.get("author") or "").lower()
    approvals = pr.get("approvals")
    given = {str(a).lower() for a in approvals} if isinstance(approvals, list | tuple) else set()
    for login in logins:
        low = login.lower()
        if low != author and low in given:
            return low
    return None
