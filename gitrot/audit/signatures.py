"""Commit signatures as gitrot judges them (docs/audit.md, "Signatures").

:func:`check_commits` reads each commit's raw object once, splits off its ``gpgsig``
header the way git does (the payload is the commit without it) and judges the signature:

- SSH ones in Python (:mod:`gitrot.git.sshsig`), against an allowed-signers file
  (:mod:`gitrot.audit.allowed_signers`), with each key parsed and looked up once;
- OpenPGP ones through ``gpg --verify`` (:mod:`gitrot.audit.gpg`), the keyring being
  ``GNUPGHOME``'s.

Unlike git, the signer must be allowed for the committer's email (else
``wrong-principal``), and a key's validity window is checked at a trusted time (the
caller's, e.g. the reconciler's note on the commit) rather than the committer date, which
the signer sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from gitrot.audit import gpg
from gitrot.audit.allowed_signers import UNTRUSTED_TIME, AllowedSigners, utc
from gitrot.audit.allowed_signers import parse as parse_allowed
from gitrot.audit.model import (
    BAD,
    EXPIRED,
    GOOD,
    UNCHECKED,
    UNKNOWN_KEY,
    UNSIGNED,
    WRONG_PRINCIPAL,
    Signature,
)
from gitrot.errors import InputError
from gitrot.git import sshsig

if TYPE_CHECKING:
    from gitrot.git.repository import Repo
    from gitrot.git.sshsig import PublicKey

_SSH = b"-----BEGIN SSH SIGNATURE-----"
_PGP = (b"-----BEGIN PGP SIGNATURE-----", b"-----BEGIN PGP MESSAGE-----")


class SignedCommit:
    """A raw commit split as git splits it: ``payload`` (the commit without its signature
    headers), ``signature`` (the ``gpgsig`` header's text, b"" when unsigned), the
    committer's ``email`` and ``time``."""

    __slots__ = ("email", "payload", "signature", "time")

    def __init__(self, raw: bytes, header: bytes = b"gpgsig") -> None:
        payload: list[bytes] = []
        signature: list[bytes] = []
        self.email, self.time = "", 0
        in_signature = other = False
        at, size = 0, len(raw)
        while at < size:  # git's parse_buffer_signed_by_header, line by line
            end = raw.find(b"\n", at)
            end = size if end < 0 else end + 1
            line = raw[at:end]
            if in_signature and line[:1] == b" ":
                signature.append(line[1:])
            elif line.startswith(header + b" "):
                signature.append(line[len(header) + 1 :])
                in_signature, other = True, False
            else:
                if line.startswith(b"gpgsig"):  # another hash's signature: not signed over
                    other = True
                elif other and line[:1] != b" ":
                    other = False
                if line[:1] == b"\n":  # the message: kept whole
                    end, line = size, raw[at:]
                if not other:
                    payload.append(line)
                    if line.startswith(b"committer "):
                        self._committer(line)
                in_signature = False
            at = end
        self.payload = b"".join(payload)
        self.signature = b"".join(signature)

    def _committer(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace")
        start, close = text.rfind("<"), text.rfind(">")
        if 0 <= start < close:
            self.email = text[start + 1 : close]
            stamp = text[close + 1 :].split()
            if stamp and stamp[0].isdigit():
                self.time = int(stamp[0])


def check_commits(
    repo: Repo,
    commit_ids: list[str],
    *,
    allowed_signers: str | None,
    trusted_times: Mapping[str, int],
    allowed_signers_path: str = "allowed signers file",
) -> dict[str, Signature]:
    """Each commit's :class:`Signature`. ``allowed_signers`` is the text of an
    allowed-signers file (None: SSH signatures are checked but their signers ``unchecked``;
    ``allowed_signers_path`` names it in errors: a malformed line is an :class:`InputError`);
    ``trusted_times[commit]`` is a time the signer cannot set (epoch seconds), else the
    committer date is used and the detail says so."""
    signers = None
    if allowed_signers is not None:
        signers = parse_allowed(allowed_signers, allowed_signers_path)
    checker = _Checker(signers)
    results: dict[str, Signature] = {}
    pending: list[tuple[str, SignedCommit, int | None]] = []
    for commit_id in commit_ids:
        if commit_id in results:
            continue
        commit = SignedCommit(_read_commit(repo, commit_id), signature_header(commit_id))
        trusted = trusted_times.get(commit_id)
        if not commit.signature:
            results[commit_id] = Signature(UNSIGNED, detail="no signature")
        elif commit.signature.startswith(_SSH):
            results[commit_id] = checker.ssh(commit, trusted)
        elif commit.signature.startswith(_PGP):
            pending.append((commit_id, commit, trusted))
        else:
            results[commit_id] = Signature(
                UNCHECKED, kind="x509", detail="X.509 (gpgsm) signatures are not checked"
            )
    if pending:
        verifier = gpg.Verifier()
        for commit_id, commit, trusted in pending:
            results[commit_id] = verifier.check(
                commit.signature,
                commit.payload,
                email=commit.email,
                trusted_time=trusted,
                committer_time=commit.time,
            )
    return {commit_id: results[commit_id] for commit_id in commit_ids}


def signature_header(commit_id: str) -> bytes:
    """The signature header of the repository's hash: SHA-256 repositories sign in
    ``gpgsig-sha256``."""
    return b"gpgsig-sha256" if len(commit_id) == 64 else b"gpgsig"


def _read_commit(repo: Repo, commit_id: str) -> bytes:
    try:
        kind, raw = repo.odb.read(commit_id)
    except (KeyError, ValueError):
        raise InputError(f"no commit {commit_id} in the repository") from None
    if kind != 1:  # GIT_OBJECT_COMMIT
        raise InputError(f"{commit_id} is not a commit")
    return bytes(raw)


class _Checker:
    """SSH signatures against one allowed-signers file, each key parsed and looked up once."""

    def __init__(self, signers: AllowedSigners | None) -> None:
        self.signers = signers
        self.keys: dict[bytes, PublicKey | sshsig.BadSignature] = {}

    def key(self, blob: bytes) -> PublicKey:
        found = self.keys.get(blob)
        if found is None:
            try:
                found = sshsig.load_public(blob)
            except sshsig.BadSignature as exc:
                found = exc
            self.keys[blob] = found
        if isinstance(found, sshsig.BadSignature):
            raise found
        return found

    def ssh(self, commit: SignedCommit, trusted: int | None) -> Signature:
        try:
            parsed = sshsig.parse(commit.signature)
        except sshsig.BadSignature as exc:
            return Signature(BAD, kind="ssh", detail=str(exc))
        fingerprint = sshsig.fingerprint(parsed.public)
        try:
            sshsig.verify_parsed(parsed, commit.payload, self.key(parsed.public))
        except sshsig.UnsupportedKey as exc:
            return Signature(UNCHECKED, kind="ssh", key=fingerprint, detail=str(exc))
        except sshsig.BadSignature as exc:
            return Signature(BAD, kind="ssh", key=fingerprint, detail=str(exc))
        if self.signers is None:
            return Signature(
                UNCHECKED,
                kind="ssh",
                key=fingerprint,
                detail="a valid signature, but no allowed-signers file to judge the signer",
            )
        return self.judge(commit, parsed.public, fingerprint, trusted)

    def judge(
        self, commit: SignedCommit, blob: bytes, fingerprint: str, trusted: int | None
    ) -> Signature:
        assert self.signers is not None  # noqa: S101 - ssh() checked
        lines = self.signers.for_key(blob)
        if not lines:
            return Signature(
                UNKNOWN_KEY,
                kind="ssh",
                key=fingerprint,
                detail="the key is on no line of the allowed signers file",
            )
        lines = [entry for entry in lines if entry.allows_namespace(sshsig.NAMESPACE)]
        if not lines:
            return Signature(  # as ssh-keygen -Y verify: bad (git's %G? says B)
                BAD,
                kind="ssh",
                key=fingerprint,
                detail="the key is allowed only for other namespaces than git",
            )
        mine = [entry for entry in lines if entry.allows_principal(commit.email)]
        if not mine:
            others = ", ".join(sorted({entry.principals for entry in lines}))
            return Signature(
                WRONG_PRINCIPAL,
                kind="ssh",
                signer=others,
                key=fingerprint,
                detail=f"the key is allowed for {others}, not the committer {commit.email}",
            )
        when = commit.time if trusted is None else trusted
        suffix = f"; {UNTRUSTED_TIME}" if trusted is None else ""
        if any(entry.valid_at(when) for entry in mine):
            return Signature(
                GOOD, kind="ssh", signer=commit.email, key=fingerprint, detail=suffix[2:]
            )
        windows = "; ".join(f"line {entry.line}: {entry.window()}" for entry in mine)
        return Signature(
            EXPIRED,
            kind="ssh",
            signer=commit.email,
            key=fingerprint,
            detail=f"the key is not valid at {utc(when)} ({windows}){suffix}",
        )
