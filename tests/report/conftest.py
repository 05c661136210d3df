"""Findings that exercise every format: all severities, unknown places, hostile text."""

from __future__ import annotations

import pytest

from gitrot.core.findings import Finding

CHECKED = ["gitrot.yaml", "secrets/a.yaml", "secrets/clean.yaml"]


@pytest.fixture
def findings() -> list[Finding]:
    return [
        Finding("schema", "error", "secrets/a.yaml", 9, 5, "spec.version must be >= 1", "bump"),
        Finding("schema", "error", "gitrot.yaml", 0, 0, "not a mapping"),
        Finding(
            "secret-string",
            "warning",
            "secrets/a.yaml",
            3,
            0,
            "looks like a key: 100% <b>|x|</b>, a:b\nnext",
            fingerprint="f00d",
        ),
        Finding("waiver-unused", "info", "gitrot.yaml", 4, 2, "unused waiver"),
    ]
