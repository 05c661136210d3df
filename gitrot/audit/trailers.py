"""Commit message trailers, read as git reads them (docs/audit.md, "Trailers"); pure.

:func:`parse` follows git's rules (``trailer.c``, what ``git interpret-trailers --parse``
and ``git log --format=%(trailers)`` print): trailing comment and blank lines (and a
``Conflicts:`` block, and everything below a ``>8`` scissors line) are not part of the
message; the trailers are the last paragraph when it is not the title, and it holds only
``Key: value`` lines (a key is letters, digits and ``-``, optionally followed by blanks),
or at least one git-generated line (``Signed-off-by: ``, ``(cherry picked from commit``)
and a quarter of trailers; a line starting with a blank continues the trailer above it.
Every occurrence is kept, in order; keys compare case-insensitively (:func:`values`).

:func:`rotation_message` writes what ``gitrot rotate --commit`` commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

SECRET = "Gitrot-Secret"  # noqa: S105 - a trailer key
VERSION = "Gitrot-Version"
EMERGENCY = "Gitrot-Emergency"
APPROVED_BY = "Approved-by"
REVIEWED_BY = "Reviewed-by"

_COMMENT = "#"
_GENERATED = ("Signed-off-by: ", "(cherry picked from commit ")
_SCISSORS = "# ------------------------ >8 ------------------------\n"
_SPACE = " \t\n\r"  # git's isspace
_TOKEN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


class Trailer(NamedTuple):
    """One trailer: ``key`` as written, ``value`` unfolded (continuations joined by a space)."""

    key: str
    value: str


def parse(message: str, *, divider: bool = False) -> list[Trailer]:
    """The trailers of a commit message, in order, as ``git log --format=%(trailers)`` reads
    them; ``divider=True`` also ends the message at a ``---`` line, as ``git
    interpret-trailers`` does on a patch."""
    if message and not message.endswith("\n"):
        message += "\n"
    end = _end_of_message(message, divider=divider)
    lines = message[:end].splitlines(keepends=True)
    start = _block_start(lines)
    found: list[list[str]] = []
    last: list[str] | None = None
    for line in lines[start:]:
        if last is not None and line[:1] in _SPACE:
            last.append(line)
            continue
        if line.startswith(_COMMENT) or _separator(line) < 1:
            last = None
            continue
        last = [line]
        found.append(last)
    return [_trailer("".join(parts)) for parts in found]


def values(trailers: Iterable[Trailer], key: str) -> list[str]:
    """The values of every trailer called ``key`` (any case), in order."""
    wanted = key.lower()
    return [t.value for t in trailers if t.key.lower() == wanted]


def rotation_message(reason: str, rotations: Sequence[tuple[str, int, bool]]) -> str:
    """The message of a rotation commit: ``Rotate NAME to version N`` (``Rotate N secrets``
    for several), the reason as the body, then per (name, version, emergency) in order the
    trailers ``Gitrot-Secret``, ``Gitrot-Version`` and ``Gitrot-Emergency``."""
    if len(rotations) == 1:
        name, version, _ = rotations[0]
        subject = f"Rotate {name} to version {version}"
    else:
        subject = f"Rotate {len(rotations)} secrets"
    lines = []
    for name, version, emergency in rotations:
        lines += [f"{SECRET}: {name}", f"{VERSION}: {version}"]
        lines.append(f"{EMERGENCY}: {'true' if emergency else 'false'}")
    body = "\n".join(line.rstrip() for line in reason.strip().splitlines())
    return f"{subject}\n\n{body}\n\n" + "\n".join(lines) + "\n"


def _trailer(text: str) -> Trailer:
    position = _separator(text)
    key = text[:position].strip(_SPACE)
    return Trailer(key, _unfold(text[position + 1 :].strip(_SPACE)))


def _unfold(value: str) -> str:
    """git's ``unfold_value``: each newline and the blanks after it become one space."""
    out: list[str] = []
    i, size = 0, len(value)
    while i < size:
        char = value[i]
        i += 1
        if char == "\n":
            while i < size and value[i] in _SPACE:
                i += 1
            out.append(" ")
        else:
            out.append(char)
    return "".join(out).strip(_SPACE)


def _separator(line: str) -> int:
    """git's ``find_separator`` with ``:``: where the colon after a key is, else -1."""
    blank = False
    for i, char in enumerate(line):
        if char == ":":
            return i
        if not blank and char in _TOKEN:
            continue
        if i and char in " \t":
            blank = True
            continue
        break
    return -1


def _blank(line: str) -> bool:
    return not line.strip(_SPACE)


def _block_start(lines: list[str]) -> int:
    """git's ``find_trailer_block_start``: the index of the first trailer line, or
    ``len(lines)`` when the message has no trailer block."""
    title_end = len(lines)
    for i, line in enumerate(lines):
        if line.startswith(_COMMENT):
            continue
        if _blank(line):
            title_end = i
            break
    only_spaces, recognized = True, False
    trailer_lines = non_trailer = possible = 0
    for i in range(len(lines) - 1, title_end - 1, -1):
        line = lines[i]
        if line.startswith(_COMMENT):
            non_trailer += possible
            possible = 0
            continue
        if _blank(line):
            if only_spaces:
                continue
            non_trailer += possible
            if (recognized and trailer_lines * 3 >= non_trailer) or (
                trailer_lines and not non_trailer
            ):
                return i + 1
            return len(lines)
        only_spaces = False
        if line.startswith(_GENERATED):
            trailer_lines += 1
            possible = 0
            recognized = True
        elif _separator(line) >= 1 and line[0] not in _SPACE:
            trailer_lines += 1
            possible = 0
        elif line[0] in _SPACE:
            possible += 1
        else:
            non_trailer += 1 + possible
            possible = 0
    return len(lines)


def _end_of_message(message: str, *, divider: bool) -> int:
    """git's ``find_end_of_log_message``: the message without a patch (``divider``), the
    text below a scissors line, and its trailing comments, blank lines and conflicts."""
    end = len(message)
    if divider:
        offset = 0
        for line in message.splitlines(keepends=True):
            if line.startswith("---") and line[3:4] in _SPACE and line[3:4]:
                end = offset
                break
            offset += len(line)
    return end - _ignored_bytes(message, end)


def _ignored_bytes(message: str, size: int) -> int:
    """git's ``ignored_log_message_bytes`` over ``message[:size]``."""
    text = message[:size]
    cutoff = size
    if message.startswith(_SCISSORS):
        cutoff = 0
    else:
        found = message.find("\n" + _SCISSORS)
        if found >= 0:
            cutoff = min(found + 1, size)
    boc, bol, conflicts = 0, 0, False
    while bol < cutoff:
        newline = text.find("\n", bol)
        following = size if newline < 0 else newline + 1
        line_end = min(following, cutoff)
        line = text[bol:line_end]
        if line.startswith(_COMMENT) or text[bol] == "\n":
            if not boc:
                boc = bol
        elif text.startswith("Conflicts:\n", bol):
            conflicts = True
            if not boc:
                boc = bol
        elif conflicts and text[bol] == "\t":
            pass
        elif boc:
            boc = 0
            conflicts = False
        bol = following
    return size - boc if boc else size - cutoff
