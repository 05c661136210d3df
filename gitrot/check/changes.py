"""The checks only a change can be judged by: what happened to files between two commits.

Pure: each function takes the files of the change and the texts of both sides (already read
from git objects by :mod:`gitrot.check.judge`) and returns findings. The per-intent rules
of the policy engine see ``base`` too (``version-step``); these are about files:

- ``sealed-immutable``: a committed sealed value document is never modified, renamed or
  deleted (its version may already be applied);
- ``sealed-missing``: an intent whose value is sealed points at a document the head has;
- ``intent-deleted``: an intent is deleted only after a version that says ``retired: true``;
- ``version-reused``: a re-created intent continues above the versions it had before;
- ``target-changed``: a new backend or ref is flagged for review (a warning);
- ``recipients-removed``: a recipient dropped from a SOPS document is flagged (a warning);
- ``version-start``: a new intent starts at version 1 (above its old versions when the path
  had an intent before), unless a policy owner approves;
- ``environment-changed`` / ``class-changed``: a move to another environment or rotation
  class is an error unless a policy owner approves (the rules judge the intent with both
  sides either way, so a move never skips the stricter side's rules).
"""

from __future__ import annotations

from gitrot.core.findings import Finding, Severity
from gitrot.core.models import SEALED_SUFFIX, SECRETS_DIR

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gitrot.core.models import RotationIntent
    from gitrot.git.change import ChangedFile

#: descriptions of the change checks, for SARIF and the reports
RULES: dict[str, tuple[str, str]] = {
    "sealed-missing": (
        "An intent's sealed value document exists",
        "An intent whose spec.value is sealed names secrets/<name>.v<N>.sealed.yaml; the "
        "change must add it, or the reconciler has no value to apply.",
    ),
    "intent-deleted": (
        "An intent is retired before it is deleted",
        "Deleting secrets/<name>.yaml stops managing a live credential. Retire it first: a "
        "version with spec.retired: true, merged and reconciled; then delete the file.",
    ),
    "version-reused": (
        "A re-created intent does not reuse a version number",
        "Every version number names one value for ever (DESIGN.md 1.1): an intent created "
        "again at a path that had one continues above the highest version it had.",
    ),
    "target-changed": (
        "A change of where a secret lives is reviewed",
        "A new spec.target.backend or spec.target.ref moves the secret; consumers reading "
        "the old place keep the old value. Review that the move is intended.",
    ),
    "recipients-removed": (
        "A recipient removed from a SOPS document is reviewed",
        "Removing an age recipient from an encrypted document takes access away (the "
        "reconciler, break-glass). Review that it is intended.",
    ),
    "version-start": (
        "A new intent starts at version 1",
        "A secret gitrot never managed starts at version 1 (or one above the versions its "
        "path had before); any other start needs the approval of a policy owner.",
    ),
    "environment-changed": (
        "A move to another environment is approved by a policy owner",
        "metadata.environment selects rules (approvals, freezes): a move is judged with both "
        "environments and needs the approval of a policy owner.",
    ),
    "class-changed": (
        "A move to another rotation class is approved by a policy owner",
        "metadata.class sets the limits of max-age and min-interval: a move is judged with "
        "both classes and needs the approval of a policy owner.",
    ),
    "policy-changed": (
        "A change to the policy is reviewed by its owners",
        "A change to gitrot.yaml, the rule files, the waivers, the scan allowlist or "
        ".sops.yaml is named finding by finding and needs the approval of one of the base's "
        "policy.owners (not the author).",
    ),
    "waiver-unapproved": (
        "A waiver a pull request adds is approved",
        "Its approver is one of the base's policy.waiver_approvers, is not the pull "
        "request's author, and approved the pull request.",
    ),
    "waiver-too-long": (
        "A waiver a pull request adds is short-lived",
        "It expires at most policy.max_waiver_days (default 90) from the day it is checked.",
    ),
}


def is_intent_path(path: str) -> bool:
    return (
        path.startswith(SECRETS_DIR + "/")
        and path.endswith(".yaml")
        and not path.endswith(SEALED_SUFFIX)
    )


def is_sealed_path(path: str) -> bool:
    return path.startswith(SECRETS_DIR + "/") and path.endswith(SEALED_SUFFIX)


def sealed_changes(files: list[ChangedFile]) -> list[Finding]:
    """``sealed-immutable`` for each committed sealed document the change modifies, renames
    or deletes."""
    found = []
    for changed in files:
        old = changed.old_path or changed.path
        if changed.status == "added" or not is_sealed_path(old):
            continue
        verb = {"modified": "modifies", "renamed": "renames", "deleted": "deletes"}
        found.append(
            Finding(
                "sealed-immutable",
                Severity.ERROR,
                changed.path,
                1 if changed.status != "deleted" else 0,
                1 if changed.status != "deleted" else 0,
                f"the change {verb[changed.status]} {old}, a committed sealed value: its "
                "version may already be applied",
                hint="leave it as it is; supply a new value for a new version: "
                "gitrot rotate NAME --value-stdin",
            )
        )
    return found


def missing_sealed(intent: RotationIntent, exists: bool) -> list[Finding]:
    """``sealed-missing`` when the intent's sealed document is not in the head."""
    from gitrot.core.models import SealedValue

    if not isinstance(intent.value, SealedValue) or exists:
        return []
    line, column = intent.position("spec.value.sealed")
    return [
        Finding(
            "sealed-missing",
            Severity.ERROR,
            intent.path,
            line,
            column,
            f"spec.value.sealed names {intent.value.path}, which the change does not have",
            hint="seal the value with the rotation: gitrot rotate NAME --value-stdin, and "
            "commit the .sealed.yaml file",
        )
    ]


def deleted_intent(
    path: str, before: RotationIntent | None, renamed_to: str | None = None
) -> list[Finding]:
    """``intent-deleted`` when an intent is deleted (or renamed: a rename deletes the old
    name) without a retired last version."""
    if before is not None and before.retired:
        return []
    how = f"renames {path} to {renamed_to}, which deletes" if renamed_to else "deletes"
    return [
        Finding(
            "intent-deleted",
            Severity.ERROR,
            path,
            0,
            0,
            f"the change {how} an intent that was not retired: its secret would be left unmanaged",
            hint="first merge a version with spec.retired: true (gitrot reconciles it), "
            "then delete the file",
        )
    ]


def reused_version(intent: RotationIntent, highest_before: int | None) -> list[Finding]:
    """``version-reused`` when a re-created intent starts at or below a version it had."""
    if highest_before is None or intent.version > highest_before:
        return []
    line, column = intent.position("spec.version")
    return [
        Finding(
            "version-reused",
            Severity.ERROR,
            intent.path,
            line,
            column,
            f"spec.version {intent.version} was already used by this secret (it reached "
            f"version {highest_before} before it was deleted)",
            hint=f"continue at version {highest_before + 1}",
        )
    ]


def target_changes(intent: RotationIntent, before: RotationIntent | None) -> list[Finding]:
    """``target-changed`` (a warning) when the backend or the encrypted ref changed."""
    if before is None:
        return []
    found = []
    for field, old, new in (
        ("spec.target.backend", before.backend, intent.backend),
        ("spec.target.ref", before.ref, intent.ref),
    ):
        if old != new:
            line, column = intent.position(field)
            found.append(
                Finding(
                    "target-changed",
                    Severity.WARNING,
                    intent.path,
                    line,
                    column,
                    f"{field} changed: the secret moves"
                    + (f" from backend {old!r} to {new!r}" if field.endswith("backend") else ""),
                    hint="check that every consumer reads the new place before merging",
                )
            )
    return found


def removed_recipients(
    path: str, before: Mapping[str, int], after: Mapping[str, int], line: int
) -> list[Finding]:
    """``recipients-removed`` (a warning) for the age recipients a document lost.

    ``before``/``after`` map each recipient to its line in the document (0 unknown)."""
    gone = [recipient for recipient in before if recipient not in after]
    if not gone:
        return []
    shown = ", ".join(r[:12] + "..." for r in gone)
    return [
        Finding(
            "recipients-removed",
            Severity.WARNING,
            path,
            line,
            1 if line else 0,
            f"the change removes {len(gone)} age recipient(s) from the document: {shown}",
            hint="check that those keys should lose access (gitrot.yaml recipients)",
        )
    ]


def approved(rule_id: str, finding: Finding, approver: str | None, pr_known: bool) -> Finding:
    """A finding that a policy owner may approve: an error, or with ``approver`` a warning
    that says who approved. ``pr_known`` False: the hint says how to give the PR facts."""
    if approver is not None:
        return Finding(
            rule_id,
            Severity.WARNING,
            finding.path,
            finding.line,
            finding.column,
            f"{finding.message} (approved by policy owner {approver})",
            hint="review that it is intended",
        )
    if not pr_known:
        from gitrot.check.pr import MISSING_HINT

        return Finding(
            rule_id,
            Severity.ERROR,
            finding.path,
            finding.line,
            finding.column,
            finding.message,
            hint=MISSING_HINT,
        )
    return finding


def version_start(intent: RotationIntent, highest_before: int | None) -> list[Finding]:
    """``version-start`` when an intent the change adds starts above where it should: 1, or
    one above the highest version its path had (lower is ``version-reused``)."""
    expected = (highest_before or 0) + 1
    if intent.version <= expected:
        return []
    line, column = intent.position("spec.version")
    return [
        Finding(
            "version-start",
            Severity.ERROR,
            intent.path,
            line,
            column,
            f"a new intent starts at spec.version {expected}, not {intent.version}",
            hint=f"set spec.version: {expected}, or ask a policy owner to approve the start "
            f"at {intent.version}",
        )
    ]


def moved(intent: RotationIntent, before: RotationIntent | None) -> list[Finding]:
    """``environment-changed`` / ``class-changed`` when the intent moved."""
    if before is None:
        return []
    found = []
    for rule_id, field, old, new in (
        ("environment-changed", "metadata.environment", before.environment, intent.environment),
        ("class-changed", "metadata.class", before.rotation_class, intent.rotation_class),
    ):
        if old != new:
            line, column = intent.position(field)
            found.append(
                Finding(
                    rule_id,
                    Severity.ERROR,
                    intent.path,
                    line,
                    column,
                    f"{field} changed from {old or 'none'} to {new or 'none'}: the intent is "
                    "judged by the rules of both",
                    hint="ask a policy owner to approve the move (and make it a change of "
                    "its own, not with a rotation)",
                )
            )
    return found
