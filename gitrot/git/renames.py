"""Rename detection between the deleted and the added files of a change: :func:`find_renames`.

git's rules (``diffcore-rename.c``, git 2.44): exact renames first (the same blob, a
source with the same file name preferred); then a file whose name is unique among the
deleted and among the added files pairs with its namesake if they are similar enough
(halfway between ``threshold`` and 100 %); then the best scores win, each added file
keeping its four best candidates. A score is the share of the larger file that the other
holds, counted in spans that end at a newline or after 64 bytes (``diffcore-delta.c``; CR
before LF ignored in text, a last line without newline counted). git hashes the spans
(collisions count as matches); here they are compared whole. A symlink pairs only with a
symlink and only when exact; empty files never pair (git pairs them when exact).

libgit2's ``Diff.find_similar`` works on a libgit2 diff, and a libgit2 tree diff reads
every folder of both trees; this runs on the changed files alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

Side = tuple[str, int, bytes, int]  # path, mode, raw blob id, size

_SPAN = re.compile(rb"[^\n]{0,63}\n|[^\n]{1,64}")
_LINK_MODE = 0o120000
_BINARY_PROBE = 8000  # git looks for a NUL in the first 8000 bytes


def find_renames(
    added: Sequence[Side],
    deleted: Sequence[Side],
    read: Callable[[bytes], bytes],
    *,
    threshold: int = 50,
    limit: int = 1000,
) -> list[tuple[Side, Side]]:
    """(deleted, added) pairs that are renames; each file in one pair at most.

    ``read`` returns a blob's content; only files that can reach ``threshold`` by their
    sizes are read. Above ``limit`` squared pairs to compare, only exact renames count
    (git's ``diff.renameLimit``).
    """
    pairs: list[tuple[Side, Side]] = []
    by_id: dict[tuple[bytes, bool], list[Side]] = {}
    for side in sorted(deleted):
        if side[3]:
            by_id.setdefault((side[2], _is_link(side)), []).append(side)
    left_added = []
    for side in sorted(added):
        same = by_id.get((side[2], _is_link(side))) if side[3] else None
        if not same:
            left_added.append(side)
            continue
        source = next((s for s in same if _name(s) == _name(side)), same[0])
        same.remove(source)
        pairs.append((source, side))
    taken = {source[0] for source, _ in pairs}
    left_deleted = [side for side in sorted(deleted) if side[0] not in taken]
    if len(left_added) * len(left_deleted) > limit * limit:
        return pairs
    return pairs + _similar(left_added, left_deleted, read, threshold)


def _similar(
    added: list[Side], deleted: list[Side], read: Callable[[bytes], bytes], threshold: int
) -> list[tuple[Side, Side]]:
    spans: dict[bytes, dict[bytes, int]] = {}

    def score(old: Side, new: Side) -> int:
        if _is_link(new) or _is_link(old) or not new[3] or not old[3]:
            return 0
        larger, smaller = max(new[3], old[3]), min(new[3], old[3])
        if larger * (100 - threshold) < (larger - smaller) * 100:
            return 0  # too different in size to reach the threshold
        for side in (old, new):
            if side[2] not in spans:
                spans[side[2]] = line_spans(read(side[2]))
        source, target = spans[old[2]], spans[new[2]]
        copied = sum(min(size, target.get(span, 0)) for span, size in source.items())
        return copied * 100 // larger

    pairs: list[tuple[Side, Side]] = []
    old_names, new_names = _unique_names(deleted), _unique_names(added)
    for name, old in old_names.items():
        new = new_names.get(name)
        if new is not None and score(old, new) >= threshold + (100 - threshold) // 2:
            pairs.append((old, new))
    used_old = {old[0] for old, _ in pairs}
    used_new = {new[0] for _, new in pairs}
    candidates = []
    for new in added:
        if new[0] in used_new:
            continue
        scored = [
            (-score(old, new), _name(old) != _name(new), new[0], old[0], old, new)
            for old in deleted
            if old[0] not in used_old
        ]
        candidates += sorted(scored)[:4]
    for negative, _, new_path, old_path, old, new in sorted(candidates):
        if -negative < threshold:
            break
        if new_path not in used_new and old_path not in used_old:
            used_new.add(new_path)
            used_old.add(old_path)
            pairs.append((old, new))
    return pairs


def _unique_names(sides: list[Side]) -> dict[str, Side]:
    """File name -> the one file of ``sides`` with that name (names held twice left out)."""
    found: dict[str, Side | None] = {}
    for side in sides:
        name = _name(side)
        found[name] = None if name in found else side
    return {name: side for name, side in found.items() if side is not None}


def _name(side: Side) -> str:
    return side[0].rsplit("/", 1)[-1]


def line_spans(data: bytes) -> dict[bytes, int]:
    """How many bytes of ``data`` each span holds (a line, or 64 bytes of a long one)."""
    if b"\0" not in data[:_BINARY_PROBE]:
        data = data.replace(b"\r\n", b"\n")
    counts: dict[bytes, int] = {}
    for span in _SPAN.findall(data):
        counts[span] = counts.get(span, 0) + len(span)
    return counts


def _is_link(side: Side) -> bool:
    return side[1] == _LINK_MODE
