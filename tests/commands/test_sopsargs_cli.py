"""What the SOPS-compatible commands share (commands/sopsargs): one selector flag at most,
refused before anything is read or written."""

from __future__ import annotations

from pathlib import Path

RECIPIENT = "age1wzr0ecuqtrxy5nap4ucjpl8a56pr0dmtvv3w90ecka0q98fdrassl8f0sw"


def test_two_selector_flags_are_refused(gitrot, tmp_path: Path) -> None:
    plain = tmp_path / "p.yaml"
    plain.write_text("a: 1\n")
    result = gitrot(
        "encrypt", "--age", RECIPIENT, "--encrypted-regex", "^a", "--unencrypted-suffix", "_x",
        "-i", str(plain),
    )  # fmt: skip
    assert result.code == 2
    assert result.err.splitlines() == [
        "gitrot: error: cannot use more than one of --unencrypted-suffix, --encrypted-suffix, "
        "--unencrypted-regex, --encrypted-regex, --unencrypted-comment-regex, "
        "--encrypted-comment-regex"
    ]
    assert result.out == ""
    assert plain.read_text() == "a: 1\n"
