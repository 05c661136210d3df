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

There is no index file, which would serialize every writer of every secret: a secret's
newest version is the highest ``N`` with a record, so ``current`` is derived, never stored.
The newest version's stage is ``current``, every older one's ``previous``.

A record (``format`` 1) holds ``ref``, ``version``, ``name``, ``commit``, ``key``,
``backend_id`` (``v<N>.age``: no ref, which would leak into git notes and deliveries),
``written_at`` and the SHA-256 of the ciphertext, which :meth:`LocalBackend.read` checks;
never the value. A write encrypts in memory, then, holding the lock, writes ``v<N>.age`` and
``v<N>.json`` each through a temporary file that is fsync'd, renamed and followed by an
fsync of the folder: the record is the commit point. A crash leaves no version or a complete
one; readers (which take no lock) ignore a value without a record, and the next write
removes it with any temporary file.

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
from gitrot.core.ports import AppliedVersion, BackendContext, BackendError, VersionConflict
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
        found = {}
        for ref in refs:
            numbers = self._numbers(ref)
            if numbers:
                found[ref] = self._load(ref, numbers[-1], "current")
        return found

    def get(self, ref: str, version: int) -> AppliedVersion | None:
        numbers = self._numbers(ref)
        if version not in numbers:
            return None
        return self._load(ref, version, _stage(version, numbers))

    def versions(self, ref: str) -> list[AppliedVersion]:
        """Every version of ``ref`` with a record, oldest first (for ``gitrot status``)."""
        numbers = self._numbers(ref)
        return [self._load(ref, number, _stage(number, numbers)) for number in numbers]

    def read(self, ref: str, version: int | None = None) -> SecretValue:
        numbers = self._numbers(ref)
        if version is None and numbers:
            version = numbers[-1]
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
                    stored = self._load(ref, version, _stage(version, numbers))
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
                record = {"format": FORMAT, "ref": ref, "version": version, "name": name}
                record |= {"commit": commit, "key": key, "backend_id": f"v{version}.age"}
                record |= {"written_at": int(self._clock())}
                record["sha256"] = hashlib.sha256(ciphertext).hexdigest()
                _write_durably(folder, f"v{version}.age", ciphertext)
                text = json.dumps(record, indent=2, sort_keys=True) + "\n"
                _write_durably(folder, f"v{version}.json", text.encode())
        return _applied(record, "current")

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
        return record

    def _load(self, ref: str, version: int, stage: str) -> AppliedVersion:
        return _applied(self._record(ref, version), stage)

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


def _stage(version: int, numbers: list[int]) -> str:
    return "current" if version == numbers[-1] else "previous"


def _applied(record: Mapping[str, object], stage: str) -> AppliedVersion:
    fields = {field: record[field] for field in _RECORD_KEYS}
    return AppliedVersion(**fields, stage=stage)  # type: ignore[arg-type]  # checked on load


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
