"""``gitrot scan [FILE...]``: the secret scanner pre-commit runs on every file a commit touches.

Each finding is one ``path:line:col: error: [rule] description (hmac:...)`` line on stdout
(or a JSON list); the fingerprint, keyed with the allowlist's salt, identifies the secret
for ``.gitrot-scan-allow.yaml`` without revealing it (``--init`` creates that file with a
new salt). Binary files (a NUL byte) and symlinks (git records the link, not the file it
points to) are skipped with a notice on stderr; a file over 5 MiB is scanned in bounded
windows (:mod:`gitrot.scan.stream`); a FIFO, socket or device is refused. Exit 1 when
anything is found, 0 otherwise, 2 on bad input (an unreadable or invalid allowlist, a FILE
that cannot be read).
"""

from __future__ import annotations

import argparse
import os
import re

from gitrot import output
from gitrot.errors import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, InputError
from gitrot.files.fsutil import check_regular, read_bytes, read_text, write_atomic
from gitrot.scan import allowlist as allow
from gitrot.scan.detectors import Hit, scan_text

MAX_SIZE = 5 * 1024 * 1024


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="find secrets in files (pre-commit hook)",
        description="Scan FILEs (default: every file git tracks here) for private keys, "
        "tokens of well-known services and secret-looking values, and report each as "
        "path:line:col: error: [rule] description (hmac:...). The secret itself is never "
        "printed. Suppress a finding with a 'gitrot: allow <reason>' comment on its line, or "
        "with its fingerprint in the allowlist (gitrot scan --init creates it with the salt "
        "that keys the fingerprints). Exit 1 when anything is found.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE")
    parser.add_argument("--format", choices=("text", "json"), default="text", dest="fmt")
    parser.add_argument(
        "--allowlist",
        default=None,
        metavar="PATH",
        help="fingerprints to accept (default: .gitrot-scan-allow.yaml when it exists)",
    )
    parser.add_argument(
        "--init",
        action="store_true",
        help="create the allowlist with a new random salt (or add one to it), then stop",
    )
    parser.set_defaults(
        run=lambda a: (
            init(a.allowlist) if a.init else scan(a.files, fmt=a.fmt, allowlist=a.allowlist)
        )
    )


def init(allowlist: str | None = None) -> int:
    """Create the allowlist with a new salt; one that has a salt is left alone, one
    without gets a salt line (its old entries must then be replaced: the loader says how)."""
    import secrets  # only here: the scan of the hook does not need it

    path = allowlist or allow.DEFAULT_FILE
    salt = secrets.token_hex(16)
    try:
        text = read_text(path, limit=1024 * 1024)
    except InputError:
        if os.path.lexists(path):
            raise
        write_atomic(path, allow.new_text(salt), mode=0o644)
        output.info(f"gitrot: created {path} with a new salt; commit it")
        return EXIT_OK
    if re.search(r"(?m)^salt:", text):
        output.info(f"gitrot: {path} already has a salt; nothing to do")
        return EXIT_OK
    write_atomic(path, f"salt: {salt}\n" + text)
    output.info(
        f"gitrot: added a salt to {path}; replace any sha256: entries with the hmac: "
        "fingerprints `gitrot scan` prints now"
    )
    return EXIT_OK


def scan(files: list[str], *, fmt: str = "text", allowlist: str | None = None) -> int:
    entries = allow.load(allowlist or allow.DEFAULT_FILE, required=allowlist is not None)
    targets = files or _tracked_files()
    hits: list[Hit] = []
    unreadable = 0
    for path in targets:
        try:
            text = _read(path)
            if text is _LARGE:
                found = _scan_large(path, entries.salt)
            else:
                found = [] if text is None else scan_text(text, path=path, salt=entries.salt)
        except InputError as exc:  # the next file is scanned; the exit code says so
            output.error(exc.render(), exc.hint)
            unreadable += 1
            continue
        hits.extend(allow.apply(found, entries))
    if fmt == "json":
        import json  # only for --format json

        output.data(json.dumps([hit.as_dict() for hit in hits], indent=2) + "\n")
    else:
        for hit in hits:
            output.data(hit.render() + "\n")
        if hits:
            output.info(
                f"gitrot: {len(hits)} possible secret(s) in {len({h.path for h in hits})} "
                "file(s); remove them (rotate any that were real), or add "
                "'gitrot: allow <reason>' on the line, or the fingerprint to "
                f"{allowlist or allow.DEFAULT_FILE}"
            )
            if entries.salt is None:
                output.info(
                    "gitrot: these fingerprints are keyed for this run only: `gitrot scan "
                    "--init` creates the allowlist with the salt that makes them stable"
                )
    if unreadable:
        return EXIT_INPUT
    return EXIT_FINDINGS if hits else EXIT_OK


def _read(path: str) -> str | None:
    """The text of ``path``, :data:`_LARGE` for a file over MAX_SIZE, or None (with a
    notice) for a binary file, a folder or a symlink; InputError for a FIFO, socket or
    device (never opened)."""
    if os.path.isdir(path):
        return None
    if os.path.islink(path):
        output.info(f"gitrot: skipped {path}: a symlink (git records its target's path)")
        return None
    data = read_bytes(path, limit=MAX_SIZE)
    if len(data) > MAX_SIZE:
        return _LARGE
    if b"\0" in data:
        output.info(f"gitrot: skipped {path}: binary file")
        return None
    return data.decode("utf-8", "replace")


_LARGE = "\0large"  # _read's answer for a file over MAX_SIZE: scanned by windows


def _scan_large(path: str, salt: str | None) -> list[Hit]:
    """The hits of a file over MAX_SIZE, read in bounded windows (never whole)."""
    from gitrot.scan.stream import BinaryFile, scan_stream  # loads typing: large files only

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", where=path) from None
    with os.fdopen(fd, "rb") as handle:
        check_regular(os.fstat(fd).st_mode, path)
        os.set_blocking(fd, True)
        try:
            return scan_stream(handle, path=path, salt=salt)
        except BinaryFile:
            output.info(f"gitrot: skipped {path}: binary file")
            return []


def _tracked_files() -> list[str]:
    """Every file git tracks from here (pre-commit names the files: not on the hook's path)."""
    from gitrot.git.process import run_git

    listing = run_git(["ls-files", "-z"], timeout=60)
    if listing.returncode != 0:
        raise InputError(
            "no FILE given and this is not a git work tree",
            hint="name the files to scan, or run it inside a git repository",
        )
    return [name for name in listing.stdout.decode("utf-8", "surrogateescape").split("\0") if name]
