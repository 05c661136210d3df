"""A file too large to hold at once, scanned in bounded windows of whole lines.

Each window is at most :data:`CHUNK` bytes of new lines after the last :data:`OVERLAP`
bytes of the previous window (longer than any token, and than the 64 KiB a private key
block may span), so a secret across a boundary is read whole by one window; a hit found by
two windows (same line, column, rule and fingerprint) is reported once. Memory stays
about ``CHUNK + OVERLAP`` whatever the file's size.
"""

from __future__ import annotations

from typing import BinaryIO

from gitrot.scan.detectors import Hit, scan_text

CHUNK = 4 * 1024 * 1024
OVERLAP = 128 * 1024


class BinaryFile(Exception):  # a signal, not an error
    """A NUL byte: the file is binary, not scanned."""


def scan_stream(
    handle: BinaryIO,
    *,
    path: str,
    salt: str | None = None,
    chunk: int = CHUNK,
    overlap: int = OVERLAP,
) -> list[Hit]:
    """Every hit in the file read from ``handle`` (binary), with its line in the file;
    :class:`BinaryFile` at a NUL byte."""
    hits: dict[tuple[int, int, str, str], Hit] = {}
    pending = b""
    first_line = 1  # the file's line number of the window's first line
    while True:
        data = handle.read(chunk)
        buffer = pending + data
        cut = buffer.rfind(b"\n") + 1 if data else len(buffer)
        window, rest = buffer[: cut or len(buffer)], buffer[cut or len(buffer) :]
        if b"\0" in window:
            raise BinaryFile(path)
        for hit in scan_text(window.decode("utf-8", "replace"), path=path, salt=salt):
            hit.line += first_line - 1
            hits.setdefault((hit.line, hit.column, hit.rule, hit.fingerprint), hit)
        if not data:
            return sorted(hits.values(), key=lambda hit: hit.key())
        keep = max(0, len(window) - overlap)
        if keep:
            keep = window.rfind(b"\n", 0, keep) + 1 or keep  # from a line start if any
        first_line += window.count(b"\n", 0, keep)
        pending = window[keep:] + rest
