"""The installed wheel carries schemas/ and policies/ (a pre-commit hook runs from it)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_schemas_and_policies(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("gitrot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "gitrot/schemas/sarif-schema-2.1.0.json" in names
    assert "gitrot/policies/README.md" in names
    assert "gitrot/policies/builtin.yaml" in names
    assert "gitrot/policies/tests/reason-required/fail-short.yaml" in names
    assert "gitrot/schemas/policy-input.schema.json" in names
    assert any(n.endswith("entry_points.txt") for n in names)
    # read through importlib.resources from the wheel itself, not from this checkout
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import gitrot.files.resources as r; "
        "assert r.__file__.startswith(sys.argv[1]), r.__file__; "
        "print(len(r.schema_text('sarif-schema-2.1.0.json')), r.policy_names())"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(wheel)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    size, policies = out.split(" ", 1)
    assert int(size) > 1000
    assert "README.md" in policies


def test_top_level_folders_are_the_packaged_ones() -> None:
    assert (ROOT / "schemas").resolve() == (ROOT / "gitrot" / "schemas").resolve()
    assert (ROOT / "policies").resolve() == (ROOT / "gitrot" / "policies").resolve()
