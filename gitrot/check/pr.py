"""The pull request's facts, from the environment CI gives the check.

``GITROT_PR_AUTHOR`` (a login) and ``GITROT_PR_APPROVALS`` (comma-separated logins whose
reviews approve the change) are set by the gitrot GitHub Action and the GitLab template;
``GITROT_PR_NUMBER`` is optional. Unless both the author and the approvals are given (an
empty ``GITROT_PR_APPROVALS`` says "nobody approved"; an unset one "unknown"), the facts are
unknown (None): rules that require them report "not evaluated", never a pass or a failure
decided on a guess.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Mapping


def pr_facts(environ: Mapping[str, str]) -> dict[str, object] | None:
    """``{"author", "approvals", "number"}`` from ``environ``; None when CI gave none."""
    author = environ.get("GITROT_PR_AUTHOR", "").strip()
    if not author or "GITROT_PR_APPROVALS" not in environ:
        return None
    approvals = [
        login.strip()
        for login in environ.get("GITROT_PR_APPROVALS", "").split(",")
        if login.strip()
    ]
    number_text = environ.get("GITROT_PR_NUMBER", "").strip()
    number = int(number_text) if number_text.isdigit() else None
    return {"author": author, "approvals": sorted(set(approvals)), "number": number}
