"""``.gitrot-scan-allow.yaml``: findings accepted by fingerprint, each with a reason.

    # findings of `gitrot scan` that are not secrets; never write the secret itself here
    salt: 5f0c...                               # made by `gitrot scan --init`; keys the
                                                # fingerprints to this repository
    allow:
      - fingerprint: hmac:0123456789abcdef     # from the scan output
        reason: the RSA key of the test fixtures, never deployed
        path: tests/fixtures/*                  # optional fnmatch glob ('*' crosses '/')

Every entry needs a fingerprint of the scan's form and a reason, and the file a salt when
it has entries; anything else is an input error (exit 2) with its line, so a typo cannot
silently allow a real secret. An unsalted ``sha256:`` fingerprint (gitrot before the keyed
fingerprints) is refused with how to migrate: it lets anyone confirm a guessed secret.
"""

from __future__ import annotations

import os
import re
from fnmatch import fnmatchcase

from gitrot.codec.tree import Comment, Map, Seq, kind_of
from gitrot.codec.yaml_parse import parse as parse_yaml
from gitrot.core.layout import SCAN_ALLOWLIST
from gitrot.errors import InputError
from gitrot.files.fsutil import read_text
from gitrot.scan.detectors import Hit

DEFAULT_FILE = SCAN_ALLOWLIST
_FINGERPRINT = re.compile(r"hmac:[0-9a-f]{16}")
_OLD_FINGERPRINT = re.compile(r"sha256:[0-9a-f]{16}")
_SALT = re.compile(r"[0-9a-f]{32,128}")
_HINT = (
    "each entry of 'allow' is a map with 'fingerprint' (hmac:<16 hex> from the scan output), "
    "'reason' and an optional 'path' glob"
)
_MIGRATE_HINT = (
    "run `gitrot scan --init` (it adds a salt), then `gitrot scan`: replace each old "
    "entry with the hmac: fingerprint it prints for the same finding"
)


class Allowlist(list["AllowEntry"]):
    """The entries of an allowlist file, and its ``salt`` (None when it has none)."""

    salt: str | None = None


class AllowEntry:
    __slots__ = ("fingerprint", "path", "reason", "salt")

    def __init__(
        self, fingerprint: str, reason: str, path: str | None = None, *, salt: str = ""
    ) -> None:
        self.fingerprint = fingerprint
        self.reason = reason
        self.path = path
        self.salt = salt

    def allows(self, hit: Hit) -> bool:
        """Whether this entry accepts ``hit``: its fingerprint under this file's salt."""
        mark = hit.keyed(self.salt) if self.salt else hit.fingerprint
        if mark != self.fingerprint:
            return False
        if self.path is None:
            return True

        return fnmatchcase(hit.path.replace("\\", "/").removeprefix("./"), self.path)


def parse(text: str, *, where: str) -> Allowlist:
    docs = parse_yaml(text, filename=where, strict=True)
    entries = Allowlist()
    if len(docs) != 1:  # an empty text is one empty document
        raise InputError("the allowlist must be one YAML document", where=where, hint=_HINT)
    root = docs[0]
    unknown = [e for e in root.entries() if e.key not in ("allow", "salt")]
    if unknown:
        raise InputError(
            f"unknown key '{unknown[0].key}' (only 'salt' and 'allow')",
            where=where,
            line=unknown[0].line,
            column=unknown[0].column,
            hint=_HINT,
        )
    salt = root.entry("salt")
    if salt is not None:
        if not isinstance(salt.value, str) or not _SALT.fullmatch(salt.value):
            raise InputError(
                "'salt' must be 32 to 128 lower-case hex digits",
                where=where,
                line=salt.line,
                hint="let `gitrot scan --init` make it; changing it changes every fingerprint",
            )
        entries.salt = salt.value
    entry = root.entry("allow")
    if entry is None or entry.value is None:
        return entries
    if not isinstance(entry.value, Seq):
        raise InputError("'allow' must be a list", where=where, line=entry.line, hint=_HINT)
    items = [item for item in entry.value.items if not isinstance(item, Comment)]
    for number, item in enumerate(items, 1):
        if not isinstance(item, Map):
            raise InputError(
                f"each 'allow' item must be a map (item {number} is {kind_of(item)})",
                where=where,
                line=entry.line,
                hint=_HINT,
            )
        fields = {e.key: e for e in item.entries()}
        line = item.line or entry.line
        extra = sorted(set(fields) - {"fingerprint", "reason", "path"})
        if extra:
            raise InputError(f"unknown key '{extra[0]}'", where=where, line=line, hint=_HINT)
        fp = fields.get("fingerprint")
        if fp is not None and isinstance(fp.value, str) and _OLD_FINGERPRINT.fullmatch(fp.value):
            raise InputError(
                "an unsalted sha256: fingerprint (from gitrot before keyed fingerprints): it "
                "lets anyone who reads this file confirm a guessed secret",
                where=where,
                line=fp.line,
                hint=_MIGRATE_HINT,
            )
        if fp is None or not isinstance(fp.value, str) or not _FINGERPRINT.fullmatch(fp.value):
            raise InputError(
                "'fingerprint' must be hmac:<16 hex digits>, as the scan prints it",
                where=where,
                line=fp.line if fp else line,
                hint=_HINT,
            )
        reason = fields.get("reason")
        if reason is None or not isinstance(reason.value, str) or not reason.value.strip():
            raise InputError(
                "every allowed fingerprint needs a 'reason'",
                where=where,
                line=reason.line if reason else fp.line,
                hint=_HINT,
            )
        glob = fields.get("path")
        if glob is not None and (not isinstance(glob.value, str) or not glob.value):
            raise InputError("'path' must be a glob string", where=where, line=glob.line)
        if entries.salt is None:
            raise InputError(
                "the allowlist has entries but no 'salt': its fingerprints match nothing",
                where=where,
                line=fp.line,
                hint="add the salt the fingerprints were made with; " + _MIGRATE_HINT,
            )
        entries.append(
            AllowEntry(
                fp.value,
                reason.value.strip(),
                glob.value if glob is not None else None,  # type: ignore[arg-type]
                salt=entries.salt,
            )
        )
    return entries


def load(path: str, *, required: bool) -> Allowlist:
    """The entries of the allowlist at ``path``; a missing default file allows nothing."""
    if not required and not os.path.lexists(path):
        return Allowlist()
    return parse(read_text(path, limit=1024 * 1024), where=path)


def new_text(salt: str) -> str:
    """A new allowlist file with ``salt`` and no entries (``gitrot scan --init``)."""
    return (
        "# findings of `gitrot scan` that are not secrets; never write the secret itself here\n"
        "# salt keys the fingerprints to this repository: changing it changes every one\n"
        f"salt: {salt}\n"
        "allow: []\n"
    )


def apply(hits: list[Hit], entries: list[AllowEntry]) -> list[Hit]:
    """The hits no entry allows."""
    if not entries:
        return hits
    return [hit for hit in hits if not any(entry.allows(hit) for entry in entries)]
