"""OpenPGP commit signatures through ``gpg --verify --status-fd`` (docs/audit.md,
"Signatures").

One gpg process per signature (the payload on its standard input, the signature in a
temporary file: a signature is public), and one ``gpg --list-keys`` per signing key for its
user ids. The keyring is ``GNUPGHOME``'s (gpg's default without it). gpg's answers map to
statuses: ``GOODSIG`` by a trusted key whose user id carries the committer's email is
``good`` (another email: ``wrong-principal``; a key gpg does not trust: ``unknown-key``, as
git's ``%G?`` says ``U``), ``BADSIG`` and other errors ``bad``, ``ERRSIG`` for a missing key
``unknown-key``, ``EXPKEYSIG`` ``expired`` unless the key expired after the trusted time (else the
committer date),
``EXPSIG`` and ``REVKEYSIG`` ``expired``. Without gpg every one is ``unchecked``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

from gitrot.audit.allowed_signers import UNTRUSTED_TIME, utc
from gitrot.audit.model import (
    BAD,
    EXPIRED,
    GOOD,
    UNCHECKED,
    UNKNOWN_KEY,
    WRONG_PRINCIPAL,
    Signature,
)

_TIMEOUT = 60
_NO_PUBKEY = "9"  # ERRSIG's return code for a key not in the keyring
_UNTRUSTED = ("TRUST_UNDEFINED", "TRUST_NEVER")
_EMAIL = re.compile(r"<([^<>]*)>\s*$")


def find_gpg() -> str | None:
    """The ``gpg`` executable on ``PATH``, or None."""
    return shutil.which("gpg")


def uid_email(uid: str) -> str:
    """The email of a user id (``Name <email>``), or the whole id when it has no ``<>``."""
    match = _EMAIL.search(uid)
    return match.group(1) if match else uid.strip()


class Verifier:
    """Verifies OpenPGP signatures with one gpg; remembers each key's user ids."""

    def __init__(self, executable: str | None = None) -> None:
        self.gpg = executable if executable is not None else find_gpg()
        self.uids: dict[str, list[str]] = {}
        self.env = {**os.environ, "LC_ALL": "C"}

    def check(
        self,
        signature: bytes,
        payload: bytes,
        *,
        email: str,
        trusted_time: int | None,
        committer_time: int,
    ) -> Signature:
        if self.gpg is None:
            return Signature(UNCHECKED, kind="gpg", detail="gpg is not installed (not on PATH)")
        status = self.verify(signature, payload)
        if isinstance(status, Signature):
            return status
        return self.judge(status, email, trusted_time, committer_time)

    def verify(self, signature: bytes, payload: bytes) -> dict[str, list[str]] | Signature:
        """gpg's status lines by keyword (their arguments), or a :class:`Signature` when gpg
        could not run."""
        assert self.gpg is not None  # noqa: S101 - check() tested it
        with tempfile.NamedTemporaryFile(prefix="gitrot-sig-", suffix=".asc") as file:
            file.write(signature)
            file.flush()
            argv = [self.gpg, "--batch", "--no-tty", "--status-fd", "1",
                    "--keyid-format", "long", "--verify", file.name, "-"]  # fmt: skip
            try:
                done = subprocess.run(
                    argv,
                    input=payload,
                    capture_output=True,
                    env=self.env,
                    timeout=_TIMEOUT,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                return Signature(UNCHECKED, kind="gpg", detail=f"gpg did not run: {exc}")
        status: dict[str, list[str]] = {}
        for line in done.stdout.decode("utf-8", "replace").splitlines():
            if line.startswith("[GNUPG:] "):
                keyword, _, rest = line[9:].partition(" ")
                status.setdefault(keyword, rest.split(" "))
        return status

    def judge(
        self, status: dict[str, list[str]], email: str, trusted: int | None, committer_time: int
    ) -> Signature:
        if "ERRSIG" in status:
            fields = status["ERRSIG"]
            key = fields[0]
            if len(fields) > 5 and fields[5] == _NO_PUBKEY:
                return Signature(
                    UNKNOWN_KEY,
                    kind="gpg",
                    key=key,
                    detail="the key is not in the keyring (GNUPGHOME)",
                )
            return Signature(BAD, kind="gpg", key=key, detail="gpg cannot check the signature")
        if "BADSIG" in status:
            return Signature(
                BAD,
                kind="gpg",
                key=status["BADSIG"][0],
                detail="the signature does not match the commit",
            )
        found = next(
            (k for k in ("GOODSIG", "EXPKEYSIG", "REVKEYSIG", "EXPSIG") if k in status), None
        )
        if found is None:
            return Signature(BAD, kind="gpg", detail="gpg found no signature")
        valid = status.get("VALIDSIG", [])
        key = valid[9] if len(valid) > 9 else valid[0] if valid else status[found][0]
        if found == "REVKEYSIG":  # its user ids are revoked too
            signer = " ".join(status[found][1:])
            return Signature(EXPIRED, "gpg", signer, key, "the key is revoked")
        uids = self.key_uids(key)
        if not any(uid_email(uid) == email for uid in uids):
            who = ", ".join(uids) or " ".join(status[found][1:])
            return Signature(
                WRONG_PRINCIPAL,
                kind="gpg",
                signer=who,
                key=key,
                detail=f"the key is {who}, not the committer {email}",
            )
        signer = email
        if found == "EXPSIG":
            return Signature(
                EXPIRED, kind="gpg", signer=signer, key=key, detail="the signature has expired"
            )
        if found == "EXPKEYSIG":
            return _expired_key(status, signer, key, trusted, committer_time)
        if any(level in status for level in _UNTRUSTED):
            return Signature(
                UNKNOWN_KEY,
                kind="gpg",
                signer=signer,
                key=key,
                detail="the key is in the keyring but gpg does not trust it",
            )
        return Signature(GOOD, kind="gpg", signer=signer, key=key)

    def key_uids(self, key: str) -> list[str]:
        """The valid user ids of ``key`` (a fingerprint), from ``gpg --list-keys``."""
        if key in self.uids:
            return self.uids[key]
        assert self.gpg is not None  # noqa: S101 - check() tested it
        argv = [self.gpg, "--batch", "--no-tty", "--with-colons", "--fixed-list-mode",
                "--list-keys", key]  # fmt: skip
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                env=self.env,
                timeout=_TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
            text = done.stdout.decode("utf-8", "replace")
        except (OSError, subprocess.TimeoutExpired):
            text = ""
        uids = []
        for line in text.splitlines():
            fields = line.split(":")
            if fields[0] == "uid" and len(fields) > 9 and fields[1] != "r":
                uids.append(_unescape(fields[9]))
        self.uids[key] = uids
        return uids


def _expired_key(
    status: dict[str, list[str]], signer: str, key: str, trusted: int | None, committer_time: int
) -> Signature:
    """``EXPKEYSIG``: the key has expired by now; good if it was valid at the trusted time
    (else the committer date, which the signer sets: the detail says so)."""
    expired = status.get("KEYEXPIRED", ["0"])[0]
    until = int(expired) if expired.isdigit() else 0
    when = committer_time if trusted is None else trusted
    suffix = f"; {UNTRUSTED_TIME}" if trusted is None else ""
    if when > until:
        detail = f"the key expired at {utc(until)}, before {utc(when)}{suffix}"
        return Signature(EXPIRED, kind="gpg", signer=signer, key=key, detail=detail)
    detail = f"the key expired at {utc(until)}, after {utc(when)}{suffix}"
    return Signature(GOOD, kind="gpg", signer=signer, key=key, detail=detail)


def _unescape(text: str) -> str:
    """gpg's ``--with-colons`` escapes (``\\x3a``)."""
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text)
