"""Every bad intent and config of the corpus, through the commands a user runs.

``rotate`` reads the intent, ``new`` reads gitrot.yaml: each must stop with one located
error line (plus a hint), exit code 2, no traceback, and write nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_repo_corpus import CASES, INTENT, files, install


@pytest.mark.parametrize("case", sorted(CASES))
def test_commands_refuse_each_bad_file_cleanly(
    gitrot, case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message, location, _ = CASES[case]
    install(case, tmp_path)
    monkeypatch.chdir(tmp_path)
    before = files(tmp_path)
    if case.startswith("config-"):
        result = gitrot(
            "new",
            "api/other",
            "--backend",
            "local",
            "--ref",
            "r",
            "--owner",
            "o",
            "--class",
            "api-key",
        )
    else:
        result = gitrot(
            "rotate", INTENT.removeprefix("secrets/").removesuffix(".yaml"), "--reason", "x"
        )
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("hint: "), result.err
    assert lines[0].startswith("gitrot: error: ") and message in lines[0], lines[0]
    assert lines[0].endswith(f"({location})"), lines[0]
    assert "Traceback" not in result.err
    assert files(tmp_path) == before
