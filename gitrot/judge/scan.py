"""The secret scan of a change: every added or modified file and every commit message."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitrot.core.findings import Finding, Severity
from gitrot.core.layout import SCAN_ALLOWLIST
from gitrot.git.repository import LINK_MODE
from gitrot.judge.sides import MAX_FILE_BYTES
from gitrot.scan.detectors import scan_text

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gitrot.git.change import Change
    from gitrot.scan.allowlist import AllowEntry
    from gitrot.scan.detectors import Hit

MAX_SCAN_BYTES = MAX_FILE_BYTES


def scan_change(change: Change, allowlists: Sequence[Sequence[AllowEntry]]) -> list[Finding]:
    """Secret-looking strings in every added, modified or renamed file of the change (any
    folder; binary and huge files skipped) and in its commit messages. A hit is accepted
    only when every one of ``allowlists`` (the base's and the head's
    ``.gitrot-scan-allow.yaml``) accepts it: an entry the change adds hides nothing in it.
    Findings carry fingerprints, never the string."""
    # fingerprints keyed with the base's salt (the first allowlist's): what the allowlist takes
    salt = next((getattr(a, "salt", None) for a in allowlists if getattr(a, "salt", None)), None)
    hits: list[Hit] = []
    for item in change.files:
        if item.status == "deleted" or (item.new_size or 0) > MAX_SCAN_BYTES:
            continue
        if item.new_mode == LINK_MODE:
            continue  # a symbolic link: its blob is a path (gitrot refuses links it reads)
        data = change.read_new(item.path)
        if data is None or b"\0" in data:
            continue
        hits.extend(scan_text(data.decode("utf-8", "replace"), path=item.path, salt=salt))
    found = [
        Finding(
            hit.rule,
            Severity.ERROR,
            hit.path,
            hit.line,
            hit.column,
            hit.description,
            hint="remove it (and rotate it if it was real), or allow its fingerprint in "
            f"{SCAN_ALLOWLIST} with a reason (merged before the change that needs it)",
            fingerprint=hit.fingerprint,
        )
        for hit in not_allowed(hits, allowlists)
    ]
    for commit in change.commits:
        short = commit.id[:12]
        message_hits = scan_text(commit.message, path=f"commit {short}", salt=salt)
        for hit in not_allowed(message_hits, allowlists):
            found.append(
                Finding(
                    hit.rule,
                    Severity.ERROR,
                    "",
                    0,
                    0,
                    f"commit {short} message, line {hit.line}: {hit.description}",
                    hint="rewrite the branch's history without it (git rebase -i), and "
                    "rotate the secret if it was real",
                    fingerprint=hit.fingerprint,
                )
            )
    return found


def not_allowed(hits: list[Hit], allowlists: Sequence[Sequence[AllowEntry]]) -> list[Hit]:
    """The hits that some allowlist does not accept (all of them with no allowlist)."""
    if not allowlists:
        return hits
    return [
        hit
        for hit in hits
        if not all(any(entry.allows(hit) for entry in entries) for entries in allowlists)
    ]
