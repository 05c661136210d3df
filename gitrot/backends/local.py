"""The ``local`` backend: a directory of age-encrypted versions (docs/architecture.md).

Layout of a store (``path`` in gitrot.yaml, relative to the policy repository's root,
default ``.gitrot/store``; never the root, in ``.git`` or ``secrets/``, nor through a
symbolic link committed to the repository); every folder is created 0700 and every file
0600::

    <store>/<ref>/            one folder per secret; a ref ``payments/db`` nests two folders
        .lock                 flock'd by every writer around check-then-write
        v<N>.age              version N's value, age-encrypted (binary) to every recipient
        v<N>.json             version N's record; its presence is what makes version N exist
        .v<N>.*.tmp           a write in progress (or one a crash left; the next write removes it)

There is no index file, which would serialize every writer of every secret: each version's
record is its entry, so ``current`` is derived, never stored. A record's ``step`` says how
far a rotation at the source went (:data:`~gitrot.core.ports.WRITTEN`, ``set``, ``tested``,
``promoted``, ``abandoned``; a record without one was written by :meth:`LocalBackend.write`
and is ``promoted``). The current version is the highest promoted one; older promoted ones
are ``previous``; the others (written by :meth:`LocalBackend.write_pending`, not promoted)
are ``pending``, abandoned ones too (readable by version, never current). Marking a step or
promoting rewrites the one record, under the lock, through the same durable rename: one
atomic change, so promotion moves ``current`` and ``previous`` at once and a kill leaves the
step before or after, never between.

A record (``format`` 1) holds ``ref``, ``version``, ``name``, ``commit``, ``key``,
``backend_id`` (``v<N>.age``: no ref, which would leak into git notes and deliveries),
``written_at``, ``step`` (a version written pending) and the SHA-256 of the ciphertext,
which :meth:`LocalBackend.read` checks; never the value. A write encrypts in memory, then,
holding the lock, writes ``v<N>.age`` and ``v<N>.json`` each through a temporary file that
is fsync'd, renamed and followed by an fsync of the folder: the record is the commit point.
A crash leaves no version or a complete one; readers (which take no lock) ignore a value
without a record, and the next write removes it with any temporary file.

Refs are relative paths of segments ``[A-Za-z0-9_-][A-Za-z0-9._-]*`` (no leading dot, so no
``..`` and no clash with ``.lock`` or temporary files; no segment shaped like ``v<N>.age`` or
``v<N>.json``, so no clash with a parent secret's files). A ref is encrypted in git, so
messages name the version and the intent, not the ref.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

from gitrot.codec.agewrap import unwrap
from gitrot.core.layout import LOCAL_STORE, SECRETS_DIR
from gitrot.core.ports import (
    ABANDONED,
    CURRENT,
    PENDING,
    PREVIOUS,
    PROMOTED,
    SET,
    TESTED,
    WRITTEN,
    AppliedVersion,
    BackendContext,
    BackendError,
    VersionConflict,
)
from gitrot.core.secret import SecretValue
from gitrot.keys.age import parse_identities
from gitrot.triggers.options import OptionError

# json and tempfile (writing the store) load when the store is used: the validate hook
# loads this module for check_options alone; pyrage and pygit2 are heavy

DEFAULT_PATH = LOCAL_STORE
FORMAT = 1
MAX_REF = 200
_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
_REF = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
_VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.(age|json)")
_RECORD_KEYS = ("ref", "version", "name", "commit", "key", "backend_id", "written_at")
#: the order of the steps of a rotation: a step never goes back
_RANK = {WRITTEN: 0, SET: 1, TESTED: 2, PROMOTED: 3}
_REF_RULE = (
    "a local ref is a relative path of segments of letters, digits, '.', '_' and '-', "
    f"none starting with '.' or named like v<N>.age/v<N>.json, at most {MAX_REF} characters"
)


class LocalBackend:
    """A store of versions in a folder (see the module docstring for the layout)."""

    def __init__(
        self,
        name: str,
        options: Mapping[str, object],
        context: BackendContext,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.name = name
        self.store = store_path(name, options, context.root)
        self._context = context
        self._clock = clock or time.time
        self._recipients: list[object] | None = None

    # --- reading (no lock: a record appears whole, after its value) -------------------------

    def current(self, refs: Iterable[str]) -> dict[str, AppliedVersion]:
        """The newest version of each ref gitrot wrote (pending ones too: see ``stage``)."""
        found = {}
        for ref in refs:
            numbers = self._numbers(ref)
            if numbers:
                record = self._record(ref, numbers[-1])
                found[ref] = _applied(record, CURRENT if _step(record) == PROMOTED else PENDING)
        return found

    def get(self, ref: str, version: int) -> AppliedVersion | None:
        numbers = self._numbers(ref)
        if version not in numbers:
            return None
        return self._staged(ref, version, numbers)

    def versions(self, ref: str) -> list[AppliedVersion]:
        """Every version of ``ref`` with a record, oldest first (for ``gitrot status``)."""
        records = [self._record(ref, number) for number in self._numbers(ref)]
        top = next((r["version"] for r in reversed(records) if _step(r) == PROMOTED), None)
        return [_applied(record, _stage_of(record, top)) for record in records]

    def read(self, ref: str, version: int | None = None) -> SecretValue:
        """The value of ``version``, or without one of the current (promoted) version: a
        pending value is read only by its version."""
        numbers = self._numbers(ref)
        if version is None and numbers:
            version = self._current_number(ref, numbers)
            if version is None:
                raise BackendError(
                    f"backend {self.name!r} holds no current version of this secret "
                    "(only pending ones, not promoted yet)"
                )
        if version is None or version not in numbers:
            which = "no version" if version is None else f"no version {version}"
            raise BackendError(f"backend {self.name!r} holds {which} of this secret")
        record = self._record(ref, version)
        ciphertext = self._read_bytes(os.path.join(self._folder(ref), f"v{version}.age"))
        if hashlib.sha256(ciphertext).hexdigest() != record["sha256"]:
            raise BackendError(
                f"backend {self.name!r}: the value of version {version} does not match its "
                "record (modified outside gitrot); restore the store from a backup"
            )
        plaintext = self._decrypt(ciphertext, version)
        try:
            return SecretValue(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BackendError(
                f"backend {self.name!r}: version {version} does not hold a UTF-8 value"
            ) from None

    # --- writing ----------------------------------------------------------------------------

    def write(
        self, ref: str, version: int, value: SecretValue, *, name: str, commit: str, key: str
    ) -> AppliedVersion:
        """Store ``value`` as ``version``, current at once (no rotator)."""
        return self._store(ref, version, value, name=name, commit=commit, key=key, step=None)

    def write_pending(
        self, ref: str, version: int, value: SecretValue, *, name: str, commit: str, key: str
    ) -> AppliedVersion:
        """Store ``value`` as ``version`` with stage ``pending`` and step ``written``; the
        current version stays current. Idempotent as :meth:`write`."""
        return self._store(ref, version, value, name=name, commit=commit, key=key, step=WRITTEN)

    def mark(self, ref: str, version: int, step: str, *, key: str) -> AppliedVersion:
        """Record that the pending ``version`` reached ``step`` (``set``, ``tested`` or
        ``abandoned``), under the lock; a step never goes back."""
        if step not in (SET, TESTED, ABANDONED):
            raise BackendError(
                f"backend {self.name!r}: a version is marked set, tested or abandoned, not {step!r}"
            )
        with self._changing(ref, version, key) as record:
            have = _step(record)
            if have == ABANDONED and step != ABANDONED:
                raise BackendError(
                    f"backend {self.name!r}: version {version} was abandoned; it cannot be {step}"
                )
            if have == PROMOTED and step == ABANDONED:
                raise BackendError(
                    f"backend {self.name!r}: version {version} is promoted, not pending; "
                    "it cannot be abandoned"
                )
            if have != ABANDONED and (step == ABANDONED or _RANK[step] > _RANK[have]):
                record["step"] = step
        return self._staged(ref, version, self._numbers(ref))

    def promote(self, ref: str, version: int, *, key: str) -> AppliedVersion:
        """Make the tested pending ``version`` current (the one that was current becomes
        previous: the stage is derived from the one record changed); idempotent."""
        with self._changing(ref, version, key) as record:
            have = _step(record)
            if have in (WRITTEN, SET, ABANDONED):
                why = "was abandoned" if have == ABANDONED else f"is {have}, not tested"
                raise BackendError(
                    f"backend {self.name!r}: version {version} {why}; only a tested pending "
                    "version is promoted"
                )
            top = self._current_number(ref, self._numbers(ref))
            if have == TESTED and top is not None and top > version:
                raise VersionConflict(
                    f"{record['name']}: version {version} is below the current version {top} "
                    f"in backend {self.name!r}; it cannot be promoted"
                )
            if have == TESTED:  # a promoted one stays as it is (written without a step too)
                record["step"] = PROMOTED
        return self._staged(ref, version, self._numbers(ref))

    def _store(
        self,
        ref: str,
        version: int,
        value: SecretValue,
        *,
        name: str,
        commit: str,
        key: str,
        step: str | None,
    ) -> AppliedVersion:
        import json

        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise BackendError(f"backend {self.name!r}: version must be a positive integer")
        if not key:
            raise BackendError(f"backend {self.name!r}: the idempotency key is empty")
        folder = self._folder(ref)
        ciphertext = self._encrypt(value)  # in memory: no file ever holds the plaintext
        with self._io("write to"):
            _make_folders(folder)
            with _locked(os.path.join(folder, ".lock")):
                numbers = self._numbers(ref)
                if version in numbers:
                    stored = self._staged(ref, version, numbers)
                    if stored.key != key:
                        raise VersionConflict(
                            f"{name}: version {version} is already in backend {self.name!r} "
                            f"with another idempotency key (got {key}, stored {stored.key}); "
                            "a version is written once: bump spec.version for a new value"
                        )
                    return stored
                if numbers and version < numbers[-1]:
                    raise VersionConflict(
                        f"{name}: version {version} is below version {numbers[-1]} in backend "
                        f"{self.name!r}; a rollback is a new version above the newest"
                    )
                _remove_leftovers(folder)
                record: dict[str, object] = {"format": FORMAT, "ref": ref, "version": version}
                record |= {"name": name, "commit": commit, "key": key}
                record |= {"backend_id": f"v{version}.age", "written_at": int(self._clock())}
                record["sha256"] = hashlib.sha256(ciphertext).hexdigest()
                if step is not None:
                    record["step"] = step
                _write_durably(folder, f"v{version}.age", ciphertext)
                text = json.dumps(record, indent=2, sort_keys=True) + "\n"
                _write_durably(folder, f"v{version}.json", text.encode())
        return _applied(record, CURRENT if step is None else PENDING)

    @contextlib.contextmanager
    def _changing(self, ref: str, version: int, key: str) -> Iterator[dict[str, object]]:
        """Under the lock, the record of ``version`` to change; written back durably when
        the ``with`` body changed it. BackendError without the version, VersionConflict
        when it was written with another key."""
        import json

        folder = self._folder(ref)
        missing = BackendError(f"backend {self.name!r} holds no version {version} of this secret")
        if version not in self._numbers(ref):
            raise missing
        with self._io("write to"), _locked(os.path.join(folder, ".lock")):
            record = self._record(ref, version)
            if record["key"] != key:
                raise VersionConflict(
                    f"{record['name']}: version {version} is in backend {self.name!r} with "
                    f"another idempotency key (got {key}, stored {record['key']})"
                )
            before = dict(record)
            yield record
            if record != before:
                _remove_leftovers(folder)  # a killed mark's temporary record, say
                text = json.dumps(record, indent=2, sort_keys=True) + "\n"
                _write_durably(folder, f"v{version}.json", text.encode())

    def close(self) -> None:
        """Nothing to release: no file stays open between calls."""

    # --- helpers ----------------------------------------------------------------------------

    def _folder(self, ref: str) -> str:
        check_ref(ref)
        return os.path.join(self.store, *ref.split("/"))

    def _numbers(self, ref: str) -> list[int]:
        """The versions of ``ref`` that have a record, ascending."""
        folder = self._folder(ref)
        try:
            names = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise self._failure("read", exc) from None
        matches = (_VERSION_FILE.fullmatch(entry) for entry in names)
        return sorted(int(m[1]) for m in matches if m is not None and m[2] == "json")

    def _record(self, ref: str, version: int) -> dict[str, object]:
        import json

        path = os.path.join(self._folder(ref), f"v{version}.json")
        problem = f"backend {self.name!r}: the record of version {version} is not valid"
        try:
            record = json.loads(self._read_bytes(path))
        except ValueError:
            raise BackendError(f"{problem} JSON; restore the store from a backup") from None
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            found = record.get("format") if isinstance(record, dict) else None
            raise BackendError(
                f"{problem}: format {found!r}, this gitrot reads format {FORMAT}; "
                "upgrade gitrot or restore the store from a backup"
            )
        texts = ("ref", "name", "commit", "key", "backend_id", "sha256")
        valid = all(isinstance(record.get(field), str) for field in texts) and all(
            type(record.get(field)) is int for field in ("version", "written_at")
        )
        if not valid or record["ref"] != ref or record["version"] != version:
            raise BackendError(f"{problem}; restore the store from a backup")
        if record.get("step", PROMOTED) not in (*_RANK, ABANDONED):
            raise BackendError(f"{problem}: unknown step; restore the store from a backup")
        return record

    def _staged(self, ref: str, version: int, numbers: list[int]) -> AppliedVersion:
        """The record of ``version`` with its stage (the records above it decide whether a
        promoted version is current or previous)."""
        record = self._record(ref, version)
        if _step(record) != PROMOTED:
            return _applied(record, PENDING)
        above = [n for n in numbers if n > version]
        top = self._current_number(ref, above)
        return _applied(record, CURRENT if top is None else PREVIOUS)

    def _current_number(self, ref: str, numbers: list[int]) -> int | None:
        """The highest of ``numbers`` whose record is promoted (None: none is)."""
        for number in reversed(numbers):
            if _step(self._record(ref, number)) == PROMOTED:
                return number
        return None

    def _read_bytes(self, path: str) -> bytes:
        with self._io("read from"), open(path, "rb") as handle:
            return handle.read()

    def _encrypt(self, value: SecretValue) -> bytes:
        import pyrage

        if self._recipients is None:
            self._recipients = [_recipient(text) for text in self._context.recipients]
        if not self._recipients:
            raise BackendError(
                f"backend {self.name!r}: no age recipient to encrypt to; "
                "list at least one under recipients: in gitrot.yaml"
            )
        ciphertext: bytes = pyrage.encrypt(value.reveal().encode("utf-8"), self._recipients)
        return ciphertext

    def _decrypt(self, ciphertext: bytes, version: int) -> bytes:
        identities = parse_identities(self._context.identities, source="the reconciler's identity")
        if not identities:
            raise BackendError(
                f"backend {self.name!r}: no age identity to open version {version} with; "
                "give the identity of one of the recipients the store was written to"
            )
        plaintext = unwrap(ciphertext, identities)
        if plaintext is None:
            raise BackendError(
                f"backend {self.name!r}: no identity opens version {version}; give the "
                "identity of one of the recipients the store was written to"
            )
        return plaintext

    @contextlib.contextmanager
    def _io(self, doing: str) -> Iterator[None]:
        """Turn an OSError into a BackendError naming the store, not the file (the ref)."""
        try:
            yield
        except OSError as exc:
            raise self._failure(doing, exc) from None

    def _failure(self, doing: str, exc: OSError) -> BackendError:
        return BackendError(
            f"backend {self.name!r}: cannot {doing} the store {self.store} ({exc.strerror}); "
            "check the folder's owner, permissions and free space",
            unreachable=True,
        )


def check_options(name: str, options: Mapping[str, object]) -> str:
    """The store's path relative to the repository root (checked as text: no root is
    needed), or an OptionError: the one check the loader (``validate``, ``check``) and
    :func:`store_path` share. Refused: other options, an absolute path or one with ``..``
    or ``~``, the repository root itself, anything in ``.git`` or ``secrets/``, control
    characters."""
    unknown = sorted(set(options) - {"path"})
    if unknown:
        raise OptionError(
            f"backends.{name}: unknown option {unknown[0]!r} for type local",
            option=unknown[0],
            hint="the local backend takes one option, path (the store folder)",
        )
    path = options.get("path", DEFAULT_PATH)
    if not isinstance(path, str) or not path.strip():
        raise OptionError(
            f"backends.{name}.path must be a folder name, got {path!r}",
            option="path",
            hint=f"for example path: {DEFAULT_PATH}",
        )
    inside = "a relative path inside the repository, without '..'"
    segments = [part for part in re.split(r"[/\\]", path) if part not in ("", ".")]
    if not segments:
        raise OptionError(
            f"backends.{name}.path must be a folder inside the repository, not its root",
            option="path",
            hint=f"give {inside}, like path: {DEFAULT_PATH}",
        )
    if (
        any(not ch.isprintable() for ch in path)
        or path.startswith(("/", "\\", "~"))
        or re.match(r"[A-Za-z]:", path)
        or ".." in segments
    ):
        raise OptionError(
            f"backends.{name}.path must be a relative path inside the repository, got {path!r}",
            option="path",
            hint=f"give {inside}, like path: {DEFAULT_PATH}",
        )
    first = segments[0].lower()
    if first in (".git", SECRETS_DIR):
        raise OptionError(
            f"backends.{name}.path must not be in {segments[0]}/, got {path!r}",
            option="path",
            hint=f"keep the store out of git's folder and the intents' folder: give {inside}, "
            f"like path: {DEFAULT_PATH}",
        )
    return "/".join(segments)


def store_path(name: str, options: Mapping[str, object], root: str) -> str:
    """The absolute store folder from the options (:func:`check_options`), refused when a
    folder on the way is a symbolic link git tracks (:func:`committed_symlink`): a pull
    request must not point the store outside the repository."""
    relative = check_options(name, options)
    base = os.path.abspath(root)
    link = committed_symlink(base, relative)
    if link is not None:
        raise OptionError(
            f"backends.{name}.path goes through {link}, a symbolic link committed to the "
            "repository (or, outside one, leading out of the folder)",
            option="path",
            hint="a store path never follows a committed symlink: remove the link from git "
            "(an operator may link .gitrot/store, which git ignores, to a shared folder)",
        )
    return os.path.join(base, *relative.split("/"))


def committed_symlink(root: str, relative: str) -> str | None:
    """The first folder of ``root/relative`` (or the path itself) that is a symbolic link
    tracked by the git repository ``root`` is in (relative to ``root``), else None. A link
    git does not track was made by whoever runs gitrot; outside a repository every link is
    refused unless it stays inside ``root``."""
    parts = relative.split("/")
    links = [
        "/".join(parts[: i + 1])
        for i in range(len(parts))
        if os.path.islink(os.path.join(root, *parts[: i + 1]))
    ]
    if not links:
        return None
    tracked = _tracked(root, links)
    for link in links:
        if tracked is None:
            real = os.path.realpath(os.path.join(root, link))
            base = os.path.realpath(root)
            if real != base and not real.startswith(base.rstrip(os.sep) + os.sep):
                return link
        elif link in tracked:
            return link
    return None


def _tracked(root: str, paths: list[str]) -> set[str] | None:
    """Those of ``paths`` (relative to ``root``) that git's index holds; None outside a
    git repository."""
    import pygit2

    try:
        found = pygit2.discover_repository(root)
        if found is None:
            return None
        repo = pygit2.Repository(found)
        workdir = repo.workdir
        if not workdir:
            return None
        prefix = os.path.relpath(os.path.realpath(root), os.path.realpath(workdir))
        index = repo.index
    except pygit2.GitError:
        return None
    prefix = "" if prefix == "." else prefix.replace(os.sep, "/") + "/"
    return {path for path in paths if f"{prefix}{path}" in index}


def check_ref(ref: str) -> None:
    """BackendError unless ``ref`` is a safe relative path (see the module docstring)."""
    if not isinstance(ref, str) or len(ref) > MAX_REF or not _REF.fullmatch(ref):
        raise BackendError(f"the target ref is not a valid local ref: {_REF_RULE}")
    if any(_VERSION_FILE.fullmatch(segment) for segment in ref.split("/")):
        raise BackendError(f"the target ref is not a valid local ref: {_REF_RULE}")


def _step(record: Mapping[str, object]) -> str:
    """A record's step: a version written without a rotator has none (promoted)."""
    step = record.get("step", PROMOTED)
    return step if isinstance(step, str) else PROMOTED


def _stage_of(record: Mapping[str, object], top: object) -> str:
    if _step(record) != PROMOTED:
        return PENDING
    return CURRENT if record["version"] == top else PREVIOUS


def _applied(record: Mapping[str, object], stage: str) -> AppliedVersion:
    fields = {field: record[field] for field in _RECORD_KEYS}
    step = _step(record)
    return AppliedVersion(**fields, stage=stage, step=step)  # type: ignore[arg-type]  # checked on load


def _recipient(text: str) -> object:
    import pyrage

    recipient = text.strip()
    try:
        if recipient.startswith("age1"):
            return pyrage.x25519.Recipient.from_str(recipient)
        if recipient.startswith("ssh-"):
            return pyrage.ssh.Recipient.from_str(recipient)
    except pyrage.RecipientError:
        pass
    raise BackendError(
        f"cannot encrypt to the recipient {recipient!r}: not an age1... or ssh- public key"
    )


def _make_folders(folder: str) -> None:
    """Create ``folder`` and its missing parents 0700, each made durable in its parent."""
    if os.path.isdir(folder):
        return
    parent = os.path.dirname(folder)
    if parent != folder:
        _make_folders(parent)
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        return
    _sync_folder(parent)


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created 0600) for the length of a ``with``; it
    also excludes the other threads of this process, each opening the file anew."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _remove_leftovers(folder: str) -> None:
    """Remove what crashed writes left: temporary files, values without a record."""
    names = set(os.listdir(folder))
    for entry in names:
        match = _VERSION_FILE.fullmatch(entry)
        orphan = match is not None and match[2] == "age" and f"v{match[1]}.json" not in names
        if orphan or (entry.startswith(".v") and entry.endswith(".tmp")):
            os.unlink(os.path.join(folder, entry))


def _write_durably(folder: str, name: str, data: bytes) -> None:
    """Write ``folder/name`` through a 0600 temporary file: fsync, rename, fsync the folder."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, os.path.join(folder, name))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(folder)


def _sync_folder(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
