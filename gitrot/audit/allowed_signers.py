"""The allowed-signers file of git and ssh-keygen (ssh-keygen(1), "ALLOWED SIGNERS").

One line per allowed key: ``principals [options] keytype base64 [comment]``. Principals
are comma-separated patterns (``*`` and ``?`` wildcards, ``!`` negation), quoted when they
contain spaces; options are ``namespaces="git,..."``, ``valid-after="YYYYMMDD[HHMM[SS]][Z]"``,
``valid-before=...`` (local time unless ``Z``, as ssh-keygen reads them) and
``cert-authority``; ``#`` starts a comment line. :func:`parse` reads the text (no I/O) and
:class:`AllowedSigners` answers which lines name a key. docs/audit.md, "Signatures".
"""

from __future__ import annotations

import base64
import calendar
import re
import struct
import time
from dataclasses import dataclass
from functools import lru_cache

from gitrot.errors import InputError

HINT = (
    "each line is: principals [options] keytype base64-key [comment] "
    "(ssh-keygen(1), ALLOWED SIGNERS)"
)
_KEY_TYPE = re.compile(r"^(ssh-|ecdsa-|sk-|rsa-)[A-Za-z0-9@.\-]+$")
_TIME = re.compile(r"^(\d{8})(\d{4}(\d{2})?)?([Zz])?$")
#: the detail of a validity window checked at the committer date (no trusted time given)
UNTRUSTED_TIME = "validity checked at the committer date, which the signer sets"
_OPTIONS = ("cert-authority", "namespaces", "valid-after", "valid-before")


@dataclass(frozen=True)
class AllowedSigner:
    """One line: its ``line`` number, ``principals`` (the pattern list, as written), the
    key (``key_type``, ``key`` blob), ``namespaces`` (a pattern list, or None for any),
    ``valid_after``/``valid_before`` (epoch seconds or None), ``cert_authority``."""

    line: int
    principals: str
    key_type: str
    key: bytes
    namespaces: str | None = None
    valid_after: int | None = None
    valid_before: int | None = None
    cert_authority: bool = False

    def allows_principal(self, principal: str) -> bool:
        return match_list(principal, self.principals)

    def allows_namespace(self, namespace: str) -> bool:
        return self.namespaces is None or match_list(namespace, self.namespaces)

    def valid_at(self, when: int) -> bool:
        """Inside the validity window at ``when`` (ssh-keygen's bounds: after is inclusive,
        before is inclusive)."""
        if self.valid_after is not None and when < self.valid_after:
            return False
        return self.valid_before is None or when <= self.valid_before

    def window(self) -> str:
        """The validity window for a human: ``valid-after=... valid-before=...``."""
        parts = []
        if self.valid_after is not None:
            parts.append(f"valid-after {utc(self.valid_after)}")
        if self.valid_before is not None:
            parts.append(f"valid-before {utc(self.valid_before)}")
        return ", ".join(parts) or "always"


class AllowedSigners:
    """The parsed file: :meth:`for_key` lists the lines (not ``cert-authority``) of a key."""

    def __init__(self, entries: list[AllowedSigner]) -> None:
        self.entries = entries
        self.by_key: dict[bytes, list[AllowedSigner]] = {}
        for entry in entries:
            if not entry.cert_authority:
                self.by_key.setdefault(entry.key, []).append(entry)
        self.has_authorities = any(entry.cert_authority for entry in entries)

    def for_key(self, blob: bytes) -> list[AllowedSigner]:
        return self.by_key.get(blob, [])


def parse(text: str, where: str = "allowed signers file") -> AllowedSigners:
    """The lines of an allowed-signers file; :class:`InputError` naming ``where`` and the
    line for a malformed one."""
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip(" \t\r")
        if not line or line.startswith("#"):
            continue
        entries.append(_parse_line(line, number, where))
    return AllowedSigners(entries)


def _error(message: str, where: str, line: int) -> InputError:
    return InputError(f"allowed signers: {message}", where=where, line=line, hint=HINT)


def _parse_line(line: str, number: int, where: str) -> AllowedSigner:
    principals, rest = _token(line, number, where)
    if not principals:
        raise _error("no principals", where, number)
    if not rest:
        raise _error("no key after the principals", where, number)
    options = ""
    first = rest.split(None, 1)[0]
    if not _KEY_TYPE.match(first) or "=" in first:
        options, rest = _options_token(rest, number, where)
    fields = rest.split(None, 2)
    if len(fields) < 2:
        raise _error("no key after the options" if options else "a key needs a type and base64",
                     where, number)  # fmt: skip
    kind, encoded = fields[0], fields[1]
    try:
        blob = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise _error(f"the {kind} key is not base64", where, number) from None
    if _blob_type(blob) != kind:
        raise _error(f"not a {kind} key", where, number)
    namespaces, after, before, authority = _parse_options(options, number, where)
    return AllowedSigner(number, principals, kind, blob, namespaces, after, before, authority)


def _token(line: str, number: int, where: str) -> tuple[str, str]:
    """The first word (or quoted words) of ``line`` and the rest, stripped."""
    if line.startswith('"'):
        end = line.find('"', 1)
        if end < 0:
            raise _error("an unterminated quote in the principals", where, number)
        return line[1:end], line[end + 1 :].strip()
    parts = line.split(None, 1)
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


def _options_token(rest: str, number: int, where: str) -> tuple[str, str]:
    """The options word (spaces allowed inside quotes) and what follows it."""
    quoted = False
    for at, char in enumerate(rest):
        if char == '"':
            quoted = not quoted
        elif char in " \t" and not quoted:
            return rest[:at], rest[at:].strip()
    if quoted:
        raise _error("an unterminated quote in the options", where, number)
    return rest, ""


def _parse_options(
    text: str, number: int, where: str
) -> tuple[str | None, int | None, int | None, bool]:
    """``namespaces``, ``valid-after``, ``valid-before`` and ``cert-authority``."""
    found: dict[str, str] = {}
    at = 0
    while at < len(text):
        name = next((o for o in _OPTIONS if text[at:].lower().startswith(o)), None)
        if name is None:
            word = text[at:].split(",", 1)[0]
            raise _error(f"unsupported option {word!r}", where, number)
        at += len(name)
        if name in found:
            raise _error(f"{name} given twice", where, number)
        if name == "cert-authority":
            found[name] = ""
        else:
            if text[at : at + 2] != '="':
                raise _error(f'{name} needs a quoted value: {name}="..."', where, number)
            end = text.index('"', at + 2)  # there is one: _options_token counted them
            value = text[at + 2 : end]
            at = end + 1
            found[name] = value
        if at < len(text):
            if text[at] != ",":
                raise _error(f"options are separated by commas (after {name})", where, number)
            at += 1
            if at == len(text):
                raise _error("an option list ends with a comma", where, number)
    after, before = (
        _parse_time(name, found[name], number, where) if name in found else None
        for name in ("valid-after", "valid-before")
    )
    if after is not None and before is not None and before <= after:
        raise _error("valid-before is not after valid-after", where, number)
    return found.get("namespaces"), after, before, "cert-authority" in found


def _parse_time(name: str, value: str, number: int, where: str) -> int:
    """ssh-keygen's absolute time: YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, then an
    optional ``Z`` for UTC (else local time)."""
    match = _TIME.match(value)
    if match is None:
        raise _error(f"{name}={value!r} is not YYYYMMDD[HHMM[SS]][Z]", where, number)
    digits = (match.group(1) + (match.group(2) or "")).ljust(14, "0")
    try:
        parsed = time.strptime(digits, "%Y%m%d%H%M%S")
    except ValueError:
        raise _error(f"{name}={value!r} is not a date", where, number) from None
    if match.group(4):
        return calendar.timegm(parsed)
    return int(time.mktime(parsed))


def _blob_type(blob: bytes) -> str:
    if len(blob) < 4:
        return ""
    (size,) = struct.unpack(">I", blob[:4])
    return blob[4 : 4 + size].decode("ascii", "replace") if 4 + size <= len(blob) else ""


def utc(when: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(when))


def match_list(value: str, patterns: str) -> bool:
    """OpenSSH's ``match_pattern_list``: ``value`` matches one of the comma-separated
    patterns and no negated one (``!pattern``); case-sensitive."""
    positive = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        if _compile(pattern[1:] if negated else pattern).fullmatch(value):
            if negated:
                return False
            positive = True
    return positive


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
        re.DOTALL,
    )
