"""Trailers read as git reads them: :func:`gitrot.audit.trailers.parse` against
``git interpret-trailers --parse`` on generated messages, and the rotation message."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gitrot.audit import trailers
from gitrot.audit.trailers import Trailer
from tests.conftest import require_tool

# lines a commit message is made of: prose, trailers of every shape, continuations,
# comments, blanks, git-generated lines, conflicts blocks, dividers and scissors
_LINES = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "\t",
            "Fix the thing",
            "Some prose: with a colon",
            "Approved-by: Alice <alice@example.com>",
            "approved-BY: bob",
            "Reviewed-by: Carol",
            "Gitrot-Secret: payments/db-password",
            "Gitrot-Version: 7",
            "Key : spaced key",
            "Key\t: tabbed key",
            "Key:",
            "Key:   ",
            "Key:value",
            ":no key",
            "Two words: not a key",
            "  continued value",
            "\tcontinued by a tab",
            "# a comment",
            "#Key: commented",
            "Signed-off-by: Dave <dave@example.com>",
            "(cherry picked from commit 0123456789abcdef)",
            "Conflicts:",
            "\tsecrets/a.yaml",
            "---",
            "--- a/file",
            "----",
            "# ------------------------ >8 ------------------------",
            "Ünïcode-Key: value",
            "Ke_y: underscore",
            "https://example.com/x: url",
        ]
    ),
    st.from_regex(r"[A-Za-z0-9-]{1,8}[ \t]?:[ -~\t]{0,12}", fullmatch=True),
    st.text(alphabet=st.sampled_from(list("ab -:#\t()")), max_size=10),
)
_MESSAGES = st.lists(_LINES, min_size=1, max_size=14).map(lambda lines: "\n".join(lines) + "\n")


def _git(message: str, *extra: str) -> list[Trailer]:
    git = require_tool("git")
    out = subprocess.run(
        [git, "interpret-trailers", "--parse", *extra],
        input=message.encode(),
        capture_output=True,
        check=True,
        timeout=10,
    ).stdout.decode()
    found = []
    for line in out.splitlines():
        key, _, value = line.partition(":")
        found.append(Trailer(key, value.removeprefix(" ")))
    return found


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(_MESSAGES)
@example("Subject\n\nApproved-by: a\nApproved-by: b\napproved-by: c\n")
@example("Subject\n\nbody\n\nKey: one\n  two\n\tthree\n\n# comment\n\n")
@example("Subject\n\nSigned-off-by: x\nprose\nprose\nprose\n")
@example("Subject\n\nSigned-off-by: x\nprose\nprose\nprose\nprose\n")
@example("Key: only a title\n")
@example("# Key: v\n\nKey: v\n")
@example("Subject\n\nKey: v\nConflicts:\n\tfile\n")
def test_parse_agrees_with_git_interpret_trailers(message: str) -> None:
    assert trailers.parse(message) == _git(message, "--no-divider")
    lines = message.splitlines()
    if not any(line.startswith(("--- ", "---\t")) or line == "---" for line in lines) or not any(
        ">8" in line for line in lines
    ):  # git 2.39 loops for ever on a scissors line below a divider
        assert trailers.parse(message, divider=True) == _git(message)


def test_every_occurrence_is_kept_in_order_and_keys_match_in_any_case() -> None:
    message = (
        "Rotate x\n\nbody\n\nApproved-by: Alice\nReviewed-by: Bob\nAPPROVED-BY: Carol\n"
        "Approved-by: Alice\n"
    )
    found = trailers.parse(message)
    assert trailers.values(found, "approved-by") == ["Alice", "Carol", "Alice"]
    assert trailers.values(found, "Reviewed-By") == ["Bob"]
    assert trailers.values(found, "Gitrot-Secret") == []


def test_a_message_without_a_final_newline_is_read_as_with_one() -> None:
    assert trailers.parse("Subject\n\nKey: v") == [Trailer("Key", "v")]
    assert trailers.parse("") == []


@pytest.mark.parametrize(
    ("rotations", "subject"),
    [
        ([("payments/db", 3, False)], "Rotate payments/db to version 3"),
        ([("a", 2, True), ("b", 5, False)], "Rotate 2 secrets"),
    ],
)
def test_rotation_message_reads_back_with_git(
    rotations: list[tuple[str, int, bool]], subject: str
) -> None:
    message = trailers.rotation_message("  INC-42: leaked in a log  \nsecond line\n", rotations)
    assert message.splitlines()[0] == subject
    assert message.splitlines()[2:4] == ["INC-42: leaked in a log", "second line"]
    expected = []
    for name, version, emergency in rotations:
        expected += [
            Trailer("Gitrot-Secret", name),
            Trailer("Gitrot-Version", str(version)),
            Trailer("Gitrot-Emergency", "true" if emergency else "false"),
        ]
    assert trailers.parse(message) == expected == _git(message)
