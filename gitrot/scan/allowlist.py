"""``.gitrot-scan-allow.yaml``: findings accepted by fingerprint, each with a reason.

    # findings of `gitrot scan` that are not secrets; never write the secret itself here
    allow:
      - fingerprint: sha256:0123456789abcdef   # from the scan output
        reason: the RSA key of the test fixtures, never deployed
        path: tests/fixtures/*                  # optional fnmatch glob ('*' crosses '/')

Every entry needs a fingerprint of the scan's form and a reason; anything else is an input
error (exit 2) with its line, so a typo cannot silently allow a real secret.
"""

from __future__ import annotations

import re

from gitrot.errors import InputError

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from gitrot.scan.detectors import Hit

DEFAULT_FILE = ".gitrot-scan-allow.yaml"
_FINGERPRINT = re.compile(r"sha256:[0-9a-f]{16}")
_HINT = (
    "each entry of 'allow' is a map with 'fingerprint' (sha256:<16 hex> from the scan output), "
    "'reason' and an optional 'path' glob"
)


class AllowEntry:
    __slots__ = ("fingerprint", "path", "reason")

    def __init__(self, fingerprint: str, reason: str, path: str | None = None) -> None:
        self.fingerprint = fingerprint
        self.reason = reason
        self.path = path

    def allows(self, hit: Hit) -> bool:
        if hit.fingerprint != self.fingerprint:
            return False
        if self.path is None:
            return True
        from fnmatch import fnmatchcase

        return fnmatchcase(hit.path.replace("\\", "/").removeprefix("./"), self.path)


def parse(text: str, *, where: str) -> list[AllowEntry]:
    from gitrot.sops.tree import Comment, Map, Seq
    from gitrot.sops.yaml_parse import parse as parse_yaml

    docs = parse_yaml(text, filename=where, strict=True)
    if not docs:
        return []
    if len(docs) != 1:
        raise InputError("the allowlist must be one YAML document", where=where, hint=_HINT)
    root = docs[0]
    unknown = [e for e in root.entries() if e.key != "allow"]
    if unknown:
        raise InputError(
            f"unknown key '{unknown[0].key}' (only 'allow')",
            where=where,
            line=unknown[0].line,
            column=unknown[0].column,
            hint=_HINT,
        )
    entry = root.entry("allow")
    if entry is None or entry.value is None:
        return []
    if not isinstance(entry.value, Seq):
        raise InputError("'allow' must be a list", where=where, line=entry.line, hint=_HINT)
    entries: list[AllowEntry] = []
    for item in entry.value.items:
        if isinstance(item, Comment):
            continue
        if not isinstance(item, Map):
            raise InputError(
                "each 'allow' item must be a map", where=where, line=entry.line, hint=_HINT
            )
        fields = {e.key: e for e in item.entries()}
        line = item.line or entry.line
        extra = sorted(set(fields) - {"fingerprint", "reason", "path"})
        if extra:
            raise InputError(f"unknown key '{extra[0]}'", where=where, line=line, hint=_HINT)
        fp = fields.get("fingerprint")
        if fp is None or not isinstance(fp.value, str) or not _FINGERPRINT.fullmatch(fp.value):
            raise InputError(
                "'fingerprint' must be sha256:<16 hex digits>, as the scan prints it",
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
        entries.append(
            AllowEntry(fp.value, reason.value.strip(), glob.value if glob is not None else None)  # type: ignore[arg-type]
        )
    return entries


def load(path: str, *, required: bool) -> list[AllowEntry]:
    """The entries of the allowlist at ``path``; a missing default file allows nothing."""
    import os

    from gitrot.fsutil import read_text

    if not required and not os.path.exists(path):
        return []
    return parse(read_text(path, limit=1024 * 1024), where=path)


def apply(hits: list[Hit], entries: list[AllowEntry]) -> list[Hit]:
    """The hits no entry allows."""
    if not entries:
        return hits
    return [hit for hit in hits if not any(entry.allows(hit) for entry in entries)]
