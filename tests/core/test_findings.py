"""Findings: plain data, ordered for reports, built from the loader's errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gitrot.core.findings import (
    Finding,
    Severity,
    count_by_severity,
    has_errors,
    sort_findings,
    summary,
)
from gitrot.errors import InputError
from tests.conftest import child_env


def test_fields_equality_hash_and_repr() -> None:
    a = Finding("schema", Severity.ERROR, "gitrot.yaml", 3, 5, "bad", hint="fix it")
    b = Finding("schema", "error", "gitrot.yaml", 3, 5, "bad", "fix it")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Finding("schema", "error", "gitrot.yaml", 3, 5, "bad")
    assert a != ("schema", "error")
    assert repr(a) == "Finding('schema', 'error', 'gitrot.yaml', 3, 5, 'bad', hint='fix it')"
    c = Finding("secret-string", "warning", "x", 0, 0, "m", fingerprint="ab12")
    assert repr(c).endswith("fingerprint='ab12')")
    assert not hasattr(a, "__dict__")


def test_invalid_findings_are_refused() -> None:
    with pytest.raises(ValueError, match="severity"):
        Finding("schema", "fatal", "f", 1, 1, "m")
    with pytest.raises(ValueError, match="rule id"):
        Finding("", "error", "f", 1, 1, "m")
    with pytest.raises(ValueError, match="1-based"):
        Finding("r", "error", "f", -1, 0, "m")


def test_a_column_without_a_line_is_dropped() -> None:
    assert Finding("r", "info", "f", 0, 7, "m").column == 0


def test_from_error_keeps_place_message_and_hint() -> None:
    exc = InputError("spec.version must be >= 1", where="secrets/a.yaml", line=9, column=5)
    exc.hint = "bump it"
    finding = Finding.from_error(exc)
    assert finding == Finding(
        "schema", "error", "secrets/a.yaml", 9, 5, "spec.version must be >= 1", hint="bump it"
    )
    assert Finding.from_error(InputError("x"), rule_id="other").rule_id == "other"


def test_location() -> None:
    assert Finding("r", "error", "f", 2, 3, "m").location() == "f:2:3"
    assert Finding("r", "error", "f", 2, 0, "m").location() == "f:2"
    assert Finding("r", "error", "f", 0, 0, "m").location() == "f"
    assert Finding("r", "error", "", 0, 0, "m").location() == ""


def test_sort_order_and_duplicates() -> None:
    w = Finding("b", "warning", "a.yaml", 2, 1, "w")
    e = Finding("z", "error", "a.yaml", 2, 1, "e")
    early = Finding("a", "info", "a.yaml", 1, 9, "i")
    other = Finding("a", "error", "b.yaml", 1, 1, "e")
    assert sort_findings([other, w, e, early, w]) == [early, e, w, other]


def test_counts_and_summary() -> None:
    findings = [
        Finding("a", "error", "f", 1, 1, "m"),
        Finding("b", "error", "f", 2, 1, "m"),
        Finding("c", "warning", "f", 3, 1, "m"),
    ]
    assert count_by_severity(findings) == {"error": 2, "warning": 1, "info": 0, "waived": 0}
    assert summary(findings, 1) == "2 errors, 1 warning in 1 file"
    assert summary([], 3) == "no findings in 3 files"
    assert has_errors(findings) and not has_errors(findings[2:])


def test_as_dict_keys_are_stable() -> None:
    row = Finding("r", "info", "f", 1, 2, "m").as_dict()
    assert list(row) == [
        "rule_id",
        "severity",
        "file",
        "line",
        "column",
        "message",
        "hint",
        "fingerprint",
        "waived",
    ]


def test_the_text_report_loads_no_other_format() -> None:
    code = (
        "import sys, gitrot.core.findings, gitrot.report, gitrot.report.text; "
        "print(','.join(m for m in ('xml', 'gitrot.report.sarif', 'gitrot.report.junit')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=child_env()
    )
    assert out.stdout.strip() == ""


def test_a_waived_finding_is_kept_but_does_not_fail_the_run() -> None:
    error = Finding("max-age", "error", "secrets/a.yaml", 3, 1, "too old", hint="rotate")
    note = "waived by alice@example.com until 2027-01-31 (waivers.yaml:7)"
    waived = error.waive(note)
    assert waived.waived == note and error.waived == ""
    assert waived != error and len({waived, error}) == 2
    assert waived == Finding(
        "max-age", "error", "secrets/a.yaml", 3, 1, "too old", "rotate", waived=note
    )
    assert repr(waived).endswith(f"hint='rotate', waived={note!r})")
    assert waived.as_dict()["waived"] == note
    assert has_errors([error]) and not has_errors([waived])
    warning = Finding("w", "warning", "f", 1, 1, "m")
    assert count_by_severity([waived, warning]) == {
        "error": 0,
        "warning": 1,
        "info": 0,
        "waived": 1,
    }
    assert summary([waived, warning, error], 2) == "1 error, 1 warning, 1 waived in 2 files"
    assert summary([waived], 1) == "1 waived in 1 file"
    with pytest.raises(ValueError, match="note"):
        error.waive("")
