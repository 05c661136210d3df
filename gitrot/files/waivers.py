"""Waivers (docs/architecture.md): time-limited, justified exceptions to policy rules.

``waivers.yaml`` (``policy.waivers`` in gitrot.yaml)::

    apiVersion: gitrot/v1
    kind: Waivers
    waivers:
      - rule: max-age              # a rule id (built-in or the repository's)
        secrets: payments/*        # fnmatchcase globs over secret names: a string or a list
        reason: "CHG-1234: the vendor cannot take a new key before the migration"
        approver: alice@example.com
        expires: "2027-01-31"      # quoted YYYY-MM-DD; applies through that day (UTC)

A waiver covers the findings of its rule in the files of the secrets its globs match (the
intent ``secrets/<name>.yaml`` and its sealed values ``secrets/<name>.v<N>.sealed.yaml``);
``*`` matches ``/`` too, as in rule selectors. Waived findings stay in the report, marked.
Problems with waivers are findings themselves, never exceptions: ``waiver-invalid`` (one
per bad entry, or one for a file that cannot be read at all), ``waiver-expired`` and
``waiver-unused``. The schema check and these three cannot be waived.

Pure except :func:`load_waivers`, which reads the file. Messages name keys, rules, globs
and dates; a waivers file holds no secret values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Sequence
from datetime import date
from fnmatch import fnmatchcase
from typing import NoReturn

from gitrot.codec.tree import Map, Seq, Timestamp, Value, kind_of
from gitrot.core.findings import Finding, Severity
from gitrot.core.layout import SEALED_PATH, name_of_path
from gitrot.core.models import API_VERSION
from gitrot.errors import InputError
from gitrot.files.fields import Fields, parse_root
from gitrot.files.fsutil import read_text
from gitrot.files.repo import LINK_HINT, LINK_MESSAGE

WAIVERS_KIND = "Waivers"
INVALID = "waiver-invalid"
EXPIRED = "waiver-expired"
UNUSED = "waiver-unused"
#: the rule ids of findings about waivers (every one has fixtures in gitrot/policies/tests)
RULE_IDS = (INVALID, EXPIRED, UNUSED)
MIN_REASON = 10
MAX_FILE_BYTES = 1024 * 1024
SCHEMA_URI = "schemas/waivers.schema.json"  # written by gitrot init
_KEYS = ("rule", "secrets", "reason", "approver", "expires")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_FORMAT_HINT = f"the format is described in {SCHEMA_URI}"


def is_waivable(rule_id: str) -> bool:
    """Whether a waiver may name ``rule_id``: not the schema check, not a ``waiver-*`` id."""
    return rule_id != "schema" and not rule_id.startswith("waiver-")


def is_date(text: str) -> bool:
    """Whether ``text`` is a calendar date written ``YYYY-MM-DD``."""
    if not _DATE.fullmatch(text):
        return False

    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def secret_name(path: str) -> str | None:
    """The secret a repo-relative path belongs to: ``secrets/<name>.yaml`` and
    ``secrets/<name>.v<N>.sealed.yaml`` give ``<name>``; other files give None."""
    name = name_of_path(path)
    if name is not None:
        return name
    match = SEALED_PATH.fullmatch(path)
    return match.group(1) if match else None


class Waiver:
    """One exception: the findings of ``rule`` on the secrets matching ``secrets`` (globs)
    are waived through ``expires`` (``YYYY-MM-DD``, UTC). ``where``/``line`` locate it."""

    __slots__ = ("approver", "expires", "line", "reason", "rule", "secrets", "where")

    def __init__(
        self,
        rule: str,
        secrets: Sequence[str],
        reason: str,
        approver: str,
        expires: str,
        *,
        where: str = "",
        line: int = 0,
    ) -> None:
        if not is_waivable(rule):
            raise ValueError(f"rule {rule!r} cannot be waived")
        if not secrets or not all(secrets):
            raise ValueError("a waiver needs at least one non-empty secret glob")
        if not is_date(expires):
            raise ValueError("expires must be a date written YYYY-MM-DD")
        if len(reason.strip()) < MIN_REASON or not approver.strip():
            raise ValueError(f"a waiver needs a reason of {MIN_REASON}+ characters and an approver")
        self.rule = rule
        self.secrets = tuple(secrets)
        self.reason = reason
        self.approver = approver
        self.expires = expires
        self.where = where
        self.line = line

    def covers(self, rule_id: str, name: str) -> bool:
        """Whether this waiver names ``rule_id`` and a glob matches the secret ``name``."""
        return rule_id == self.rule and any(fnmatchcase(name, glob) for glob in self.secrets)

    def location(self) -> str:
        return f"{self.where}:{self.line}" if self.line else self.where

    def note(self) -> str:
        """What a waived finding says: ``waived by A until D (waivers.yaml:7)``."""
        place = self.location()
        return f"waived by {self.approver} until {self.expires}" + (f" ({place})" if place else "")

    def describe(self) -> str:
        return f"the waiver of {self.rule!r} for {', '.join(self.secrets)}"

    def _fields(self) -> tuple[object, ...]:
        return (
            self.rule,
            self.secrets,
            self.reason,
            self.approver,
            self.expires,
            self.where,
            self.line,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Waiver):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return f"Waiver({self.rule!r}, {self.secrets!r}, {self.location()!r})"


# -- reading --------------------------------------------------------------------------------


class _Fields(Fields):
    """Fields whose errors point at the waivers format."""

    __slots__ = ()

    def fail(self, key: str, message: str, hint: str | None = None) -> NoReturn:
        super().fail(key, message, _FORMAT_HINT if hint is None else hint)


def parse_waivers(
    text: str, where: str, known_rules: Collection[str]
) -> tuple[list[Waiver], list[Finding]]:
    """The good waivers of a file's text, and a ``waiver-invalid`` finding per bad entry.

    A file that does not parse, or whose header or ``waivers`` list is wrong, is one
    finding and no waivers. ``known_rules`` are the ids a waiver may name.
    """
    try:
        root = parse_root(text, where, InputError)
        doc = _Fields(root, "", where, InputError)
        doc.header(WAIVERS_KIND, API_VERSION)
        doc.allow(("apiVersion", "kind", "waivers"))
        if "waivers" not in root:
            doc.fail("", "required key 'waivers' is missing", "write waivers: [] for none")
        items = doc.seq("waivers")
    except InputError as exc:
        return [], [invalid(exc)]
    return parse_entries(items, doc, "waivers", known_rules)


def parse_entries(
    items: Sequence[Value], parent: Fields, key: str, known_rules: Collection[str]
) -> tuple[list[Waiver], list[Finding]]:
    """The waivers of the list ``items`` found under ``parent``'s ``key`` (waivers.yaml, or
    a policy fixture), and one ``waiver-invalid`` finding per bad entry, at its place."""
    waivers: list[Waiver] = []
    findings: list[Finding] = []
    for index, item in enumerate(items):
        path = f"{parent.full(key)}[{index}]"
        try:
            if not isinstance(item, Map):
                # the parser keeps no position for scalar items: point at the list
                message = f"{path} must be a mapping (a waiver), got {kind_of(item)}"
                parent.fail(key, message, _FORMAT_HINT)
            first = item.entries()[0] if item.entries() else None
            at = (first.line, first.column) if first else (item.line or parent.pos(key)[0], 1)
            fields = _Fields(item, path, parent.where, InputError, at)
            waivers.append(_waiver(fields, known_rules))
        except InputError as exc:
            findings.append(invalid(exc))
    return waivers, findings


def invalid(exc: InputError) -> Finding:
    """The ``waiver-invalid`` finding of a loader error."""
    return Finding.from_error(exc, rule_id=INVALID)


def _waiver(fields: Fields, known_rules: Collection[str]) -> Waiver:
    fields.allow(_KEYS)
    rule = fields.text("rule")
    if not is_waivable(rule):
        fields.fail(
            "rule",
            f"{fields.full('rule')} names {rule!r}, which cannot be waived",
            "the schema check and the waiver checks must pass: fix the file they point at",
        )
    if rule not in known_rules:
        import difflib

        close = difflib.get_close_matches(rule, sorted(known_rules), n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        fields.fail(
            "rule",
            f"{fields.full('rule')} names no known rule: {rule!r}{guess}",
            "give the id of a built-in rule or of one of the repository's policies "
            "(findings print it in [brackets])",
        )
    secrets = _globs(fields)
    reason = fields.text("reason")
    if len(reason.strip()) < MIN_REASON:
        fields.fail(
            "reason",
            f"{fields.full('reason')} is too short: say why in at least {MIN_REASON} characters",
            'name the change or ticket and why the rule cannot be met yet, e.g. "CHG-1234: '
            'the vendor cannot take a new key before the migration"',
        )
    approver = fields.text("approver")
    return Waiver(
        rule,
        secrets,
        reason,
        approver,
        _expires(fields),
        where=fields.where,
        line=fields.at[0],
    )


def _globs(fields: Fields) -> tuple[str, ...]:
    value = fields.get("secrets")
    if isinstance(value, str):
        return (fields.text("secrets"),)
    if not isinstance(value, Seq):
        fields.fail(
            "secrets",
            f"{fields.full('secrets')} must be a glob or a list of globs, got {kind_of(value)}",
        )
    globs = fields.text_list("secrets", unique=True)
    if any(not glob.strip() for glob in globs):
        fields.fail("secrets", f"{fields.full('secrets')} lists a blank glob")
    if not globs:
        fields.fail(
            "secrets",
            f"{fields.full('secrets')} is an empty list",
            "name the secrets the waiver covers, e.g. secrets: payments/*",
        )
    return globs


def _expires(fields: Fields) -> str:
    value = fields.get("expires")
    full = fields.full("expires")
    if isinstance(value, Timestamp):
        fields.fail(
            "expires",
            f"{full} must be a quoted date, got an unquoted timestamp",
            'quote it, e.g. expires: "2027-01-31" (YAML reads an unquoted date as a timestamp)',
        )
    if not isinstance(value, str):
        fields.fail("expires", f"{full} must be a quoted date (YYYY-MM-DD), got {kind_of(value)}")
    if not is_date(value):
        fields.fail(
            "expires",
            f"{full} is not a date written YYYY-MM-DD",
            'give the last day the waiver applies, e.g. expires: "2027-01-31"',
        )
    return value


def load_waivers(
    root: str, path: str | None, known_rules: Collection[str]
) -> tuple[list[Waiver], list[Finding]]:
    """The waivers of the repo-relative file ``path`` (``config.waivers_path``) and the
    findings about them; none when ``path`` is None or the file does not exist."""
    if path is None:
        return [], []
    full = os.path.join(root, *path.split("/"))
    real_root = os.path.realpath(root)
    target = os.path.realpath(full)
    if target != real_root and not target.startswith(real_root.rstrip(os.sep) + os.sep):
        return [], [
            Finding(
                INVALID,
                Severity.ERROR,
                path,
                0,
                0,
                "the waivers file is outside the repository",
                hint="waivers are reviewed like every policy file: keep waivers.yaml in the "
                "repository (replace the link with the file)",
            )
        ]
    if not os.path.lexists(full):
        return [], []
    if os.path.islink(full):
        return [], [invalid(InputError(LINK_MESSAGE, where=path, hint=LINK_HINT))]
    try:
        text = read_text(full, limit=MAX_FILE_BYTES)
    except InputError as exc:
        return [], [invalid(InputError(exc.message, where=path, line=exc.line, hint=exc.hint))]
    return parse_waivers(text, path, known_rules)


# -- applying -------------------------------------------------------------------------------


def apply_waivers(
    findings: Sequence[Finding], waivers: Sequence[Waiver], *, today: str, judged_all: bool
) -> list[Finding]:
    """``findings`` with those a current waiver covers marked waived, followed by a
    ``waiver-expired`` finding per expired waiver and, when ``judged_all`` (the whole
    repository was judged), a ``waiver-unused`` finding per current waiver that covered
    nothing. ``today`` is the UTC date (``YYYY-MM-DD``); a waiver applies through its
    ``expires`` day. Every current waiver that covers a finding counts as used; the
    finding names the first of them (file order)."""
    if not is_date(today):
        raise ValueError("today must be a date written YYYY-MM-DD")
    current = [w for w in waivers if w.expires >= today]
    used: set[int] = set()
    names: dict[str, str | None] = {}
    result: list[Finding] = []
    for finding in findings:
        covering: list[int] = []
        if current and not finding.waived and is_waivable(finding.rule_id):
            if finding.path not in names:
                names[finding.path] = secret_name(finding.path)
            name = names[finding.path]
            if name is not None:
                covering = [i for i, w in enumerate(current) if w.covers(finding.rule_id, name)]
        if covering:
            used.update(covering)
            result.append(finding.waive(current[covering[0]].note()))
        else:
            result.append(finding)
    result.extend(_expired(w) for w in waivers if w.expires < today)
    if judged_all:
        result.extend(_unused(w) for i, w in enumerate(current) if i not in used)
    return result


def _expired(waiver: Waiver) -> Finding:
    return Finding(
        EXPIRED,
        Severity.ERROR,
        waiver.where,
        waiver.line,
        0,
        f"{waiver.describe()} expired on {waiver.expires}",
        hint="renew it with a new approval (approver, reason and a later expires), or fix "
        "the findings it covered and delete it",
    )


def _unused(waiver: Waiver) -> Finding:
    return Finding(
        UNUSED,
        Severity.WARNING,
        waiver.where,
        waiver.line,
        0,
        f"{waiver.describe()} waives no finding",
        hint="delete it if the findings it covered are fixed; otherwise correct its rule "
        "id or globs (globs match secret names such as payments/db-password)",
    )


def identity(waiver: Waiver) -> tuple[object, ...]:
    """What makes two waivers the same exception, wherever they sit in the file."""
    return (waiver.rule, waiver.secrets, waiver.reason, waiver.approver.lower(), waiver.expires)
