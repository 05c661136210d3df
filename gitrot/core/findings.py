"""Findings are data (docs/architecture.md): what the validator, the PR check and the scanner
report, before any format turns them into text, JSON, SARIF, annotations, JUnit or Markdown.

Pure: no I/O. Plain classes with ``__slots__`` and string constants: this module is on the
pre-commit hook's start-up path.

A finding never holds a secret value. Its message names *where* and *what kind* of thing was
found (a key, a rule, a line), never the value; code that finds secret-looking strings passes
a ``fingerprint`` (a keyed or truncated hash that lets CI match a finding across runs), not
the string itself. Every format prints messages and hints verbatim, so this is the one place
the rule is enforced: by whoever builds the finding.

A finding a waiver covers (:mod:`gitrot.files.waivers`) stays in the report with its ``waived``
note ("waived by alice@example.com until 2027-01-31 (waivers.yaml:7)"): it no longer fails
the run, and every format shows it apart from the findings that do.
"""

from __future__ import annotations

from collections.abc import Iterable

from gitrot.errors import GitrotError


class Severity:
    """The three severities, as plain strings (they are what every format prints)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    ALL = (ERROR, WARNING, INFO)
    #: sort order: errors first
    RANK = {ERROR: 0, WARNING: 1, INFO: 2}  # noqa: RUF012 - a constant table


#: Short description and help of rules gitrot itself reports; SARIF and the reports use it.
#: Rules not listed here are described by their id (callers may pass their own table).
RULES: dict[str, tuple[str, str]] = {
    "schema": (
        "The file does not follow its format",
        "gitrot.yaml, intents (secrets/**/*.yaml) and sealed values (secrets/**/*.sealed.yaml) "
        "must follow their formats: the JSON schemas gitrot ships (gitrot/schemas/ in the "
        "installed package; editors that read the yaml-language-server line check them as "
        "you type), the names and paths gitrot allows, and SOPS encryption where the format "
        "asks for it. The message says what is wrong and where; gitrot validate FILE checks "
        "a file again.",
    ),
    "rotator-shared": (
        "A rotator's source belongs to one secret",
        "Two intents naming one rotator (spec.source.rotator) would set one credential at "
        "its source from two secrets: the second overwrites what the first's consumers use, "
        "and a change could point a rotator that serves another team's secret at its own. "
        "Give each secret its own rotator in gitrot.yaml rotators.",
    ),
    "sealed-immutable": (
        "A sealed value document never changes once committed",
        "secrets/<name>.v<N>.sealed.yaml holds the value of version N; the reconciler may "
        "already have applied it, so editing or deleting it would make git disagree with the "
        "secret manager. Supply a new value for a new version: gitrot rotate NAME "
        "--value-stdin.",
    ),
    "waiver-invalid": (
        "A waiver is malformed, or names a rule that cannot be waived",
        "An exception to a policy rule must be justified, approved and time-limited, or it is "
        "no control at all: each waiver in waivers.yaml names a known rule id, the secrets it "
        "covers (globs), a reason of at least 10 characters, an approver and a quoted expiry "
        "date (YYYY-MM-DD). The schema check and the waiver checks cannot be waived. A "
        "malformed waiver waives nothing; fix it (its format is waivers.schema.json, "
        "which gitrot ships in gitrot/schemas/).",
    ),
    "waiver-expired": (
        "A waiver has expired",
        "A waiver applies through its expiry date (UTC) and then waives nothing, so every "
        "exception is looked at again: renew it with a new approval and a new date, or fix "
        "the findings it covered and delete it.",
    ),
    "waiver-unused": (
        "A waiver waives no finding",
        "A waiver that covers no finding (the problem was fixed, or its rule id or globs name "
        "nothing that fails) is stale: delete it, so waivers.yaml lists only the exceptions "
        "in force. Reported only when the whole repository was checked.",
    ),
}

#: The key of waived findings in :func:`count_by_severity` (they count there, not as errors).
WAIVED = "waived"


class Finding:
    """One problem at one place. ``line``/``column`` are 1-based; 0 means unknown.

    ``path`` is relative to the repository root with ``/`` separators (empty when the
    finding is about no file). ``fingerprint`` is optional and never a secret value.
    ``waived`` is empty, or the note of the waiver that covers the finding (:meth:`waive`).
    """

    __slots__ = (
        "column",
        "fingerprint",
        "hint",
        "line",
        "message",
        "path",
        "rule_id",
        "severity",
        "waived",
    )

    def __init__(  # noqa: PLR0917 - the fields of a compiler diagnostic, in their usual order
        self,
        rule_id: str,
        severity: str,
        path: str,
        line: int,
        column: int,
        message: str,
        hint: str = "",
        fingerprint: str = "",
        waived: str = "",
    ) -> None:
        if severity not in Severity.RANK:
            raise ValueError(f"unknown severity {severity!r}; expected one of {Severity.ALL}")
        if not rule_id:
            raise ValueError("a finding needs a rule id")
        if line < 0 or column < 0:
            raise ValueError("line and column are 1-based, or 0 for unknown")
        self.rule_id = rule_id
        self.severity = severity
        self.path = path
        self.line = line
        self.column = column if line else 0
        self.message = message
        self.hint = hint
        self.fingerprint = fingerprint
        self.waived = waived

    @classmethod
    def from_error(cls, exc: GitrotError, *, rule_id: str = "schema") -> Finding:
        """The finding of a loader error (an error-severity finding at the error's place)."""
        return cls(
            rule_id,
            Severity.ERROR,
            exc.where,
            exc.line,
            exc.column,
            exc.message,
            hint=exc.hint,
        )

    def waive(self, note: str) -> Finding:
        """A copy of this finding, covered by the waiver that ``note`` describes."""
        if not note:
            raise ValueError("a waived finding needs the note of its waiver")
        return self._copy(self.path, note)

    def relocated(self, path: str) -> Finding:
        """A copy of this finding at another path (a report that names files otherwise)."""
        return self._copy(path, self.waived)

    def _copy(self, path: str, waived: str) -> Finding:
        rule_id, severity, _path, line, column, message, hint, fingerprint, _ = self._fields()
        return Finding(
            rule_id, severity, path, line, column, message, hint, fingerprint, waived=waived
        )

    def _fields(self) -> tuple[str, str, str, int, int, str, str, str, str]:
        return (
            self.rule_id,
            self.severity,
            self.path,
            self.line,
            self.column,
            self.message,
            self.hint,
            self.fingerprint,
            self.waived,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Finding):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        args = ", ".join(repr(value) for value in self._fields()[:6])
        if self.hint:
            args += f", hint={self.hint!r}"
        if self.fingerprint:
            args += f", fingerprint={self.fingerprint!r}"
        if self.waived:
            args += f", waived={self.waived!r}"
        return f"Finding({args})"

    def sort_key(self) -> tuple[str, int, int, int, str, str]:
        """File, then position, then severity (errors first), rule and message."""
        return (
            self.path,
            self.line,
            self.column,
            Severity.RANK[self.severity],
            self.rule_id,
            self.message,
        )

    def location(self) -> str:
        """``path``, ``path:line`` or ``path:line:col``: the prefix of the text format."""
        if self.path and self.line:
            if self.column:
                return f"{self.path}:{self.line}:{self.column}"
            return f"{self.path}:{self.line}"
        return self.path

    def as_dict(self) -> dict[str, str | int]:
        """The JSON object of a finding (keys are part of the ``--format json`` contract)."""
        return {
            "rule_id": self.rule_id,
            "severity": self.severity,
            "file": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "hint": self.hint,
            "fingerprint": self.fingerprint,
            "waived": self.waived,
        }


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in report order, duplicates (same fields) dropped."""
    return sorted(set(findings), key=Finding.sort_key)


def count_by_severity(findings: Iterable[Finding]) -> dict[str, int]:
    """``{"error": n, "warning": n, "info": n, "waived": n}`` (every key present, possibly
    0); a waived finding counts as waived only, whatever its severity."""
    counts = dict.fromkeys((*Severity.ALL, WAIVED), 0)
    for finding in findings:
        counts[WAIVED if finding.waived else finding.severity] += 1
    return counts


def has_errors(findings: Iterable[Finding]) -> bool:
    """Whether any finding fails the run (exit 1): errors do unless waived; warnings and
    infos do not."""
    return any(finding.severity == Severity.ERROR and not finding.waived for finding in findings)


def plural(count: int, noun: str) -> str:
    """``1 error``, ``2 errors``: the counts of summaries."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def summary(findings: Iterable[Finding], checked_files: int) -> str:
    """``2 errors, 1 warning, 1 waived in 5 files`` (``no findings in 5 files`` when clean)."""
    counts = count_by_severity(findings)
    parts = [plural(counts[s], s) for s in Severity.ALL if counts[s]]
    if counts[WAIVED]:
        parts.append(f"{counts[WAIVED]} {WAIVED}")
    what = ", ".join(parts) if parts else "no findings"
    return f"{what} in {plural(checked_files, 'file')}"
