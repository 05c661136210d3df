""".gitrot-scan-allow.yaml read: what allows nothing, and each refusal with its file:line
(an InputError, exit 2), so a typo never silently allows a real secret."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

from gitrot.errors import InputError
from gitrot.scan import allowlist
from gitrot.scan.detectors import fingerprint, scan_text

SALT = "ab" * 16
FP = "hmac:0123456789abcdef"
WHERE = "allow.yaml"


@pytest.mark.parametrize(
    "text",
    ["", "# nothing accepted yet\n", f"salt: {SALT}\n", f"salt: {SALT}\nallow:\n"],
    ids=["empty", "comment", "salt-only", "allow-null"],
)
def test_a_file_without_entries_allows_nothing(text: str) -> None:
    entries = allowlist.parse(text, where=WHERE)
    assert list(entries) == []
    assert entries.salt == (SALT if "salt" in text else None)


def test_comments_between_entries_are_kept_out() -> None:
    text = (
        f"salt: {SALT}\nallow:\n  # the fixtures\n  - fingerprint: {FP}\n    reason: a fixture\n"
        "    path: tests/*\n  # no more\n"
    )
    (entry,) = allowlist.parse(text, where=WHERE)
    assert (entry.fingerprint, entry.reason, entry.path, entry.salt) == (
        FP,
        "a fixture",
        "tests/*",
        SALT,
    )


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        (f"salt: {SALT}\n---\nallow: []\n", "the allowlist must be one YAML document", 0),
        (f"salt: {SALT}\nallow:\n  - just a string\n", "(item 1 is a string)", 2),
        (
            f"salt: {SALT}\nallow:\n  - fingerprint: {FP}\n    reason: r\n  - 3\n",
            "(item 2 is an integer)",
            2,
        ),
        (
            f"salt: {SALT}\nallow:\n  - fingerprint: {FP}\n    reason: r\n    path: ''\n",
            "'path'",
            5,
        ),
        (
            f"salt: {SALT}\nallow:\n  - fingerprint: {FP}\n    reason: r\n    path: [a]\n",
            "'path'",
            5,
        ),
        (f"salt: {SALT}\nallow:\n  - reason: r\n", "'fingerprint' must be hmac:", 3),
        (f"salt: {SALT}\nallow:\n  - fingerprint: {FP}\n    reason: '  '\n", "needs a 'reason'", 4),
        (f"salt: {SALT}\nallow:\n  - fingerprint: {FP}\n", "needs a 'reason'", 3),
    ],
)
def test_a_bad_allowlist_is_refused_at_its_line(text: str, message: str, line: int) -> None:
    with pytest.raises(InputError) as caught:
        allowlist.parse(text, where=WHERE)
    error = caught.value
    assert message in error.message
    assert (error.where, error.line, error.exit_code) == (WHERE, line, 2)


def test_load_a_missing_default_allows_nothing_a_named_one_is_required(tmp_path: Path) -> None:
    missing = str(tmp_path / "none.yaml")
    assert list(allowlist.load(missing, required=False)) == []
    with pytest.raises(InputError) as caught:
        allowlist.load(missing, required=True)
    assert caught.value.where == missing
    (tmp_path / "a.yaml").write_text(allowlist.new_text(SALT))
    loaded = allowlist.load(str(tmp_path / "a.yaml"), required=True)
    assert list(loaded) == [] and loaded.salt == SALT


def test_an_entry_without_a_salt_compares_the_fingerprint_as_printed() -> None:
    rng = random.Random(4)  # made at run time, so this file scans clean
    secret = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(40))
    (hit,) = scan_text(f"api_key: {secret}\n", path="c.yaml", salt=SALT)
    assert allowlist.AllowEntry(hit.fingerprint, "as printed").allows(hit)
    assert not allowlist.AllowEntry(fingerprint(secret, "cd" * 16), "other").allows(hit)
    assert allowlist.AllowEntry(hit.fingerprint, "here", "./c.yaml").allows(hit) is False
    assert allowlist.AllowEntry(hit.fingerprint, "here", "c.*", salt=SALT).allows(hit)
