"""The audit's records, pure (docs/audit.md): what ``gitrot audit`` reads from git alone.

One :class:`LedgerRow` per (secret, version): who asked for it (the author of the commit
that set the version), why (the intent's reason), whether it was an emergency, who approved
it (``Approved-by:``/``Reviewed-by:`` trailers and the merge commit that brought it into the
main branch: every occurrence, in order), when it merged (the first-parent commit of the
main branch that carries it), when and where it was applied (the reconciler's note), which
consumers were told, and the signature of each commit involved.

A :class:`Signature` is one commit's signature as gitrot judges it: git checks neither that
the signer is the committer nor a key's validity against a time the signer cannot set, so
the statuses say more than ``git log --format=%G?``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Signature statuses (Signature.status). GOOD: a valid signature by a key the allowed
# signers file allows for the committer's principal, inside the key's validity window at a
# trusted time. The others, each its own answer:
GOOD = "good"
UNSIGNED = "unsigned"  # no gpgsig header
UNKNOWN_KEY = "unknown-key"  # a valid signature by a key nobody allows
WRONG_PRINCIPAL = "wrong-principal"  # allowed, but for a principal other than the committer
BAD = "bad"  # does not verify (tampered, wrong namespace, malformed)
EXPIRED = "expired"  # the key is allowed only outside the trusted time (valid-after/before)
UNCHECKED = "unchecked"  # cannot be judged here (no allowed signers file, no gpg)
STATUSES = (GOOD, UNSIGNED, UNKNOWN_KEY, WRONG_PRINCIPAL, BAD, EXPIRED, UNCHECKED)


@dataclass(frozen=True)
class Signature:
    """One commit's signature: ``status`` (one of :data:`STATUSES`), ``kind`` ("ssh",
    "gpg" or "" when unsigned), ``signer`` (the principal or GPG uid that matched, else ""),
    ``key`` (the key's fingerprint, ``SHA256:...`` for SSH, the long id for GPG, else ""),
    ``detail`` (one line for a human: why it is not good)."""

    status: str
    kind: str = ""
    signer: str = ""
    key: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "status": self.status,
            "kind": self.kind,
            "signer": self.signer,
            "key": self.key,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Approval:
    """One approval: ``who`` (a name and email or a login, as written), ``how``
    ("Approved-by", "Reviewed-by" or "merge": the committer of the merge commit that brought
    the change in), ``commit`` (where it was found)."""

    who: str
    how: str
    commit: str

    def as_dict(self) -> dict[str, str]:
        return {"who": self.who, "how": self.how, "commit": self.commit}


@dataclass(frozen=True)
class Delivery:
    """A consumer told about a version (from the note): ``trigger``, ``ok``, ``at`` (epoch
    seconds), ``delivery_id``."""

    trigger: str
    ok: bool
    at: int
    delivery_id: str

    def as_dict(self) -> dict[str, object]:
        return {
            "trigger": self.trigger,
            "ok": self.ok,
            "at": self.at,
            "delivery_id": self.delivery_id,
        }


@dataclass
class LedgerRow:
    """One version of one secret, as git tells it (times in epoch seconds, UTC).

    ``commit`` set the version (on whatever branch it was made); ``merge_commit`` is the
    first-parent commit of the main branch that brought it in (the commit itself for a
    direct push or a squash merge), ``merged_at`` its committer time; ``applied_*`` come
    from the reconciler's note on a first-parent commit at or after the merge
    (``applied_commit`` is the commit the note is on), ``backend_id`` the backend's id of
    the version; ``signatures`` maps each commit id involved (``commit``, ``merge_commit``)
    to its :class:`Signature`.
    """

    secret: str
    version: int
    path: str
    commit: str
    author: str  # "Name <email>"
    authored_at: int
    reason: str
    emergency: bool
    environment: str | None = None
    rotation_class: str = ""
    approvals: list[Approval] = field(default_factory=list)
    merge_commit: str | None = None
    merged_at: int | None = None
    applied_at: int | None = None
    applied_commit: str | None = None
    backend: str | None = None
    backend_id: str | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    signatures: dict[str, Signature] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "secret": self.secret,
            "version": self.version,
            "path": self.path,
            "commit": self.commit,
            "author": self.author,
            "authored_at": self.authored_at,
            "reason": self.reason,
            "emergency": self.emergency,
            "environment": self.environment,
            "class": self.rotation_class,
            "approvals": [a.as_dict() for a in self.approvals],
            "merge_commit": self.merge_commit,
            "merged_at": self.merged_at,
            "applied_at": self.applied_at,
            "applied_commit": self.applied_commit,
            "backend": self.backend,
            "backend_id": self.backend_id,
            "deliveries": [d.as_dict() for d in self.deliveries],
            "signatures": {c: s.as_dict() for c, s in sorted(self.signatures.items())},
        }


@dataclass(frozen=True)
class Problem:
    """One thing ``gitrot audit --verify`` fails on: ``check`` (a stable id, e.g.
    ``applied-not-merged``, ``merged-not-applied``, ``note-unreachable``,
    ``reconciled-not-ancestor``, ``signature``, ``over-max-age``), ``secret`` (or ""),
    ``version`` (or 0), ``commit`` (or ""), ``message`` (one line)."""

    check: str
    message: str
    secret: str = ""
    version: int = 0
    commit: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "check": self.check,
            "secret": self.secret,
            "version": self.version,
            "commit": self.commit,
            "message": self.message,
        }
