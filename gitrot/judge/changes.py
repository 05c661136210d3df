"""The checks only a change can be judged by: what happened to files between two commits.

Pure: each function takes the files of the change and the texts of both sides (already read
from git objects by :mod:`gitrot.judge.judge`) and returns findings. The per-intent rules
of the policy engine see ``base`` too (``version-step``); these are about files:

- ``sealed-immutable``: a committed sealed value document is never modified, renamed or
  deleted (its version may already be applied); re-encrypting the same value for other
  recipients is not a modification (:func:`sealed_kept`);
- ``sealed-missing``: an intent whose value is sealed points at a document the head has;
- ``intent-deleted``: an intent is deleted only after a version that says ``retired: true``;
- ``version-reused``: a re-created intent continues above the versions it had before;
- ``target-changed``: a new backend or ref is flagged for review (a warning); a ref whose
  ciphertext changed (``sops rotate``, ``gitrot rekey``) is compared decrypted when a key is
  at hand (:class:`Keys`), else reported as ``ref-reencrypted`` (it may or may not move);
- ``recipients-removed``: a recipient dropped from a SOPS document is flagged (a warning);
- ``version-start``: a new intent starts at version 1 (above its old versions when the path
  had an intent before), unless a policy owner approves;
- ``environment-changed`` / ``class-changed``: a move to another environment or rotation
  class is an error unless a policy owner approves (the rules judge the intent with both
  sides either way, so a move never skips the stricter side's rules).
"""

from __future__ import annotations

import contextlib
import os
import stat
from typing import TYPE_CHECKING

from gitrot.codec.tree import Map
from gitrot.core.findings import Finding, Severity
from gitrot.core.layout import RECONCILER_KEY, is_encrypted, is_sealed_path
from gitrot.core.models import SealedValue
from gitrot.errors import GitrotError, NoKeyError
from gitrot.files import repo
from gitrot.judge.pr import MISSING_HINT
from gitrot.keys import age
from gitrot.keys.identities import load_identities

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from gitrot.codec.document import SopsFile
    from gitrot.core.models import RotationIntent
    from gitrot.judge.inputs import FileChange

SEALED_IMMUTABLE = "sealed-immutable"

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
        "Every version number names one value for ever (consumers and audits rely on it): an "
        "intent created again at a path that had one continues above the highest version it had.",
    ),
    "target-changed": (
        "A change of where a secret lives is reviewed",
        "A new spec.target.backend or spec.target.ref moves the secret; consumers reading "
        "the old place keep the old value. Review that the move is intended.",
    ),
    "ref-reencrypted": (
        "A re-encrypted ref is reviewed when no key can compare it",
        "spec.target.ref has new ciphertext: a new data key (sops rotate, gitrot rekey) or a "
        "new place. Without a key that opens both sides the check cannot tell which; run it "
        "with the reconciler's identity (.gitrot/reconciler.key) or SOPS_AGE_KEY_FILE, or "
        "compare sops -d of both sides yourself.",
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


#: the ids of the checks besides the rules, which a waiver may name
CHECK_IDS = frozenset({*RULES, SEALED_IMMUTABLE})


def sealed_changes(
    files: Sequence[FileChange], kept: Callable[[FileChange], bool | None] | None = None
) -> list[Finding]:
    """``sealed-immutable`` for each committed sealed document the change modifies, renames
    or deletes. ``kept`` tells for a modified one whether it still holds the same value
    (:func:`sealed_kept`: True allows it; None, unknown without a key, refuses with a hint)."""
    found = []
    for changed in files:
        old = changed.old_path or changed.path
        if changed.status == "added" or not is_sealed_path(old):
            continue
        same = kept(changed) if kept is not None and changed.status == "modified" else False
        if same:
            continue
        verb = {"modified": "modifies", "renamed": "renames", "deleted": "deletes"}
        message = (
            f"the change {verb[changed.status]} {old}, a committed sealed value: its "
            "version may already be applied"
        )
        hint = "leave it as it is; supply a new value for a new version: " + ROTATE_HINT
        if same is None:
            message = (
                f"the change re-encrypts {old}, a committed sealed value, under a new data "
                "key, and no key at hand opens both sides to tell that its value is the same"
            )
            hint = REKEYED_HINT
        found.append(
            Finding(
                SEALED_IMMUTABLE,
                Severity.ERROR,
                changed.path,
                1 if changed.status != "deleted" else 0,
                1 if changed.status != "deleted" else 0,
                message,
                hint=hint,
            )
        )
    return found


ROTATE_HINT = "gitrot rotate NAME --value-stdin"
REKEYED_HINT = (
    "to give a sealed value other recipients keep its data key: gitrot updatekeys FILE (or "
    "sops updatekeys FILE) changes only the recipients, which the check allows; or run the "
    "check with a key that opens it (the reconciler's, SOPS_AGE_KEY_FILE)"
)


class Keys:
    """The age identities the checks may open encrypted fields with, loaded once, when
    first needed: the reconciler's (``.gitrot/reconciler.key`` of the policy folder
    ``root``, a regular file) and the user's, as sops finds them (``SOPS_AGE_KEY``,
    ``SOPS_AGE_KEY_FILE``, ``SOPS_AGE_KEY_CMD``, ``~/.config/sops/age/keys.txt``...).
    A key source that does not load counts as no key (the findings say so)."""

    __slots__ = ("_found", "root")

    def __init__(self, root: str | None) -> None:
        self.root = root
        self._found: list[object] | None = None

    def identities(self) -> list[object]:
        if self._found is None:
            self._found = _load_identities(self.root)
        return self._found


def _load_identities(root: str | None) -> list[object]:
    found: list[object] = []
    if root:
        path = os.path.join(root, RECONCILER_KEY)
        try:
            if stat.S_ISREG(os.lstat(path).st_mode):
                with open(path, encoding="utf-8") as stream:
                    found += age.parse_identities(stream.read(), source="reconciler identity")
        except (OSError, UnicodeDecodeError, GitrotError):
            pass
    with contextlib.suppress(GitrotError):
        found += load_identities(os.environ, home=os.path.expanduser("~"))
    return found


#: :func:`_opened` of a document that a key opens but that does not decrypt or verify
BROKEN = "broken"


def _opened(text: bytes, where: str, keys: Keys) -> object | None:
    """The decrypted documents of a SOPS YAML text (MAC checked); None when no key at hand
    opens its data key (or it is not SOPS YAML); :data:`BROKEN` when one does but a value
    or the MAC does not verify."""
    from gitrot.codec.document import SopsFile, decrypt  # SOPS decryption: ~5 ms the hook spares

    identities = keys.identities()
    if not identities:
        return None
    try:
        source = SopsFile.parse(text.decode("utf-8"), fmt="yaml", where=where)
    except (GitrotError, UnicodeDecodeError, ValueError):
        return None
    try:
        return decrypt(source, identities).docs
    except NoKeyError:
        return None
    except (GitrotError, ValueError):
        return BROKEN


def sealed_kept(old: bytes, new: bytes, where: str, keys: Keys) -> bool | None:
    """Whether a modified sealed document still holds the value it had (its version may
    already be applied, so nothing else may change).

    True when only its recipients changed: the documents without ``sops`` (the encrypted
    value byte for byte, name, version, comments) and the metadata other than the key
    stanzas, ``lastmodified`` and ``mac`` are equal. ``sops updatekeys`` and ``gitrot
    updatekeys`` keep the data key, so the value's ciphertext stays; another data key
    cannot decrypt it to another value, only break it (the reconciler refuses it), and a
    key at hand that opens the new data key checks that it does not. Else True when a key
    opens both sides to equal documents (a new data key: ``sops rotate``), False when they
    differ or the documents do not parse, None when the value's ciphertext changed and no
    key opens both sides."""
    from gitrot.codec.document import SopsFile  # see _opened

    try:
        before = SopsFile.parse(old.decode("utf-8"), fmt="yaml", where=where)
        after = SopsFile.parse(new.decode("utf-8"), fmt="yaml", where=where)
    except (GitrotError, UnicodeDecodeError, ValueError):
        return False
    if _frame(before) != _frame(after):
        return False
    if before.docs == after.docs:
        # a key at hand that opens the new data key must find the same value under it
        return _opened(new, where, keys) != BROKEN
    opened_before = _opened(old, where, keys)
    opened_after = _opened(new, where, keys) if opened_before is not None else None
    if opened_before is None or opened_after is None:
        return None
    return opened_before != BROKEN and bool(opened_before == opened_after)


def _frame(source: SopsFile) -> tuple[object, ...]:
    """What of a document's sops metadata must stay when only its recipients change."""
    meta = source.metadata
    return (meta.selector, meta.mac_only_encrypted, meta.version, meta.foreign)


def missing_sealed(intent: RotationIntent, exists: bool) -> list[Finding]:
    """``sealed-missing`` when the intent's sealed document is not in the head."""
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


def target_changes(
    intent: RotationIntent,
    before: RotationIntent | None,
    same_ref: Callable[[], bool | None] | None = None,
) -> list[Finding]:
    """``target-changed`` (a warning) when the backend or the ref changed.

    An encrypted ref has new ciphertext whenever it is re-encrypted (``sops rotate``,
    ``gitrot rekey``: a new data key, the same ref); ``same_ref`` then tells whether it
    decrypts to the same ref on both sides (:func:`same_ref`): True is no finding, None (no
    key opens both) a ``ref-reencrypted`` warning that says what is known."""
    if before is None:
        return []
    found = []
    for field, old, new in (
        ("spec.target.backend", before.backend, intent.backend),
        ("spec.target.ref", before.ref, intent.ref),
    ):
        if old == new:
            continue
        line, column = intent.position(field)
        same = same_ref() if field == "spec.target.ref" and same_ref is not None else False
        if same:
            continue
        if same is None:
            found.append(
                Finding(
                    "ref-reencrypted",
                    Severity.WARNING,
                    intent.path,
                    line,
                    column,
                    "spec.target.ref has new ciphertext (re-encrypted, or a new place); no "
                    "key at hand opens both sides, so the check cannot tell whether the "
                    "secret moves",
                    hint="run the check with a key that opens the intent (the reconciler's "
                    ".gitrot/reconciler.key, SOPS_AGE_KEY_FILE), or compare sops -d of both "
                    "sides",
                )
            )
            continue
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


def same_ref(old_text: bytes | None, new_text: bytes | None, where: str, keys: Keys) -> bool | None:
    """Whether ``spec.target.ref`` is the same once decrypted in both texts of an intent
    (a side whose ref is not encrypted is taken as it is); None when a side does not open
    with ``keys``. Nothing decrypted leaves this function but the answer."""
    refs = [_ref_of(text, where, keys) for text in (old_text, new_text)]
    if refs[0] is None or refs[1] is None:
        return None
    return refs[0] == refs[1]


def _ref_of(text: bytes | None, where: str, keys: Keys) -> str | None:
    if text is None:
        return None
    ref = repo.parse_intent(text, where).ref  # loaded before: the intent, or the facts' base
    if not is_encrypted(ref):
        return ref
    docs = _opened(text, where, keys)
    if not isinstance(docs, list) or not docs:
        return None
    spec = docs[0].get("spec") if isinstance(docs[0], Map) else None
    target = spec.get("target") if isinstance(spec, Map) else None
    value = target.get("ref") if isinstance(target, Map) else None
    return value if isinstance(value, str) else None


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
