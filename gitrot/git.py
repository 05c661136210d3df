"""The one module that talks to git: small named queries over pygit2 (libgit2).

No other module imports pygit2, and this one imports it only inside functions: the import
costs ~90 ms, and most gitrot processes (the pre-commit hook, decrypt) never read history.
Every libgit2 failure leaves as a :class:`GitError` (exit 3) with a hint; a revision that
names no commit leaves as :class:`UnknownRevisionError` (exit 2).

One query, :func:`last_version_changes`, walks long histories: it streams ``git log`` from
the real ``git`` executable (history walk and tree diffs in C) and reads only the few blobs
it needs with pygit2; without a ``git`` on ``PATH`` it walks with pygit2 alone. :class:`_Git`
is the only place a ``git`` process is spawned.

Repositories are opened without libgit2's "from environment" mode, so the ``GIT_DIR`` and
``GIT_INDEX_FILE`` that pre-commit sets for the repository a hook runs in never redirect
gitrot to another one; :func:`no_git_env` gives the same guarantee to a ``git`` child process.
"""

from __future__ import annotations

import os
import re

from gitrot.errors import GitError, UnknownRevisionError

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import TypeVar

    import pygit2

    Repo = pygit2.Repository
    Commit = pygit2.Commit
    _Path = TypeVar("_Path", str, bytes)

# One raw tree entry: "<octal mode> <name>\0<20-byte id>" (SHA-1 object format).
_ENTRY = re.compile(rb"([0-7]+) ([^\0]*)\0(.{20})", re.S)
_ENTRY_BYTES = re.compile(rb"[0-7]+ [^\0]*\0.{20}", re.S)
_TREE_MODE = b"40000"
_GITLINK_MODE = b"160000"
_EMPTY: frozenset[bytes] = frozenset()


def open_repo(path: str | os.PathLike[str] = ".") -> Repo:
    """The repository containing ``path`` (searching upwards, like git does)."""
    import pygit2

    try:
        return pygit2.Repository(os.fspath(path))
    except pygit2.GitError as exc:
        where = os.fspath(path)
        raise GitError(
            "not a git repository",
            where=where,
            hint=f"is {where} a git repository? run gitrot inside the policy repository",
        ) from exc


def ensure_repo(path: str | os.PathLike[str]) -> bool:
    """Make ``path`` a git work tree (branch ``main``) unless it is inside one; True if made."""
    import pygit2

    where = os.fspath(path)
    if pygit2.discover_repository(where) is not None:
        return False
    try:
        pygit2.init_repository(where, initial_head="main")
    except pygit2.GitError as exc:
        raise GitError(f"cannot create a git repository: {exc}", where=where) from exc
    return True


def no_git_env() -> dict[str, str]:
    """The environment for a ``git`` child process working on another repository.

    Inside a hook, ``GIT_DIR``, ``GIT_INDEX_FILE`` and friends point at the outer repository
    (pre-commit's ``no_git_env`` explains it); only identity and transport settings stay.
    """
    keep = ("GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY")
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("GIT_") or name in keep or name.startswith("GIT_CONFIG_KEY_")
    }


def head_commit(repo: Repo) -> Commit:
    import pygit2

    try:
        return repo.head.peel(pygit2.Commit)
    except pygit2.GitError as exc:
        raise GitError(
            "the repository has no commits yet",
            where=_where(repo),
            hint="commit the policy files first",
        ) from exc


def resolve(repo: Repo, rev: str) -> Commit:
    """The commit ``rev`` names (a branch, tag, commit id or any git revision expression)."""
    import pygit2

    try:
        found = repo.revparse_single(rev)
    except (KeyError, ValueError, pygit2.GitError) as exc:
        raise UnknownRevisionError(f"unknown revision {rev!r}", where=_where(repo)) from exc
    try:
        return found.peel(pygit2.Commit)
    except (ValueError, pygit2.GitError) as exc:
        raise UnknownRevisionError(f"revision {rev!r} is not a commit", where=_where(repo)) from exc


def read_blob(commit: Commit, path: str) -> bytes | None:
    """The file ``path`` at ``commit``, or None when it is missing there (or a folder)."""
    import pygit2

    try:
        found = commit.tree[path]
    except KeyError:
        return None
    except pygit2.GitError as exc:
        raise GitError(f"cannot read {path} at {commit.short_id}: {exc}") from exc
    return found.data if isinstance(found, pygit2.Blob) else None


def main_branch(repo: Repo) -> str | None:
    """The branch HEAD points to (``refs/heads/main``); None when HEAD is detached.

    Its first-parent history is "what merged"; it may be unborn (no commits yet).
    """
    import pygit2

    try:
        head = repo.lookup_reference("HEAD")
    except (KeyError, pygit2.GitError) as exc:
        raise GitError("the repository has no HEAD", where=_where(repo)) from exc
    target = head.target
    return target if isinstance(target, str) else None


def commit_time(commit: Commit) -> int:
    """When the commit landed: its committer time, in epoch seconds."""
    return int(commit.commit_time)


def _where(repo: Repo) -> str:
    return str(repo.workdir or repo.path).rstrip("/")


class VersionChange:
    """The first-parent commit that last changed an intent's ``spec.version`` (or added it).

    ``path`` is where the file was at that commit (it differs from the key when the intent
    was renamed since); ``time`` is the commit's committer time, in epoch seconds.
    """

    __slots__ = ("author", "commit_id", "path", "time", "version")

    def __init__(self, path: str, version: int | None, commit_id: str, time: int, author: str):
        self.path = path
        self.version = version
        self.commit_id = commit_id
        self.time = time
        self.author = author

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VersionChange) and _fields(other) == _fields(self)

    def __hash__(self) -> int:
        return hash(_fields(self))

    def __repr__(self) -> str:
        return "VersionChange({!r}, {!r}, {!r}, {!r}, {!r})".format(*_fields(self))


def _fields(change: VersionChange) -> tuple[str, int | None, str, int, str]:
    return (change.path, change.version, change.commit_id, change.time, change.author)


def last_version_changes(
    repo: Repo, *, rev: str = "HEAD", prefix: str = "secrets/"
) -> dict[str, VersionChange]:
    """For every intent file at ``rev``, the first-parent commit that last set its version.

    Intent files are the ``*.yaml`` files under ``prefix``, except ``*.sealed.yaml``. History
    follows first parents from ``rev`` (a side branch counts at its merge commit, compared
    with its first parent). For each intent the answer is the newest commit that touched its
    path and whose older side does not have the version the intent has at ``rev`` (or did not
    have the file): an edit that keeps the version (a reason reworded) does not count. A
    rename (a file deleted and one added in one commit, whose texts differ only in their
    ``name:`` lines) keeps the clock of the old path. An unborn HEAD gives ``{}``.

    With a ``git`` executable on ``PATH``, ``git log --raw`` walks the history and diffs
    the trees (in C, newest first, streamed); pygit2 reads one older blob per intent (more
    after reason-only edits) and the process is stopped as soon as every intent has its
    answer. Without one, the same walk runs on pygit2 alone (about four times slower on
    long histories: every tree it compares is read through Python).
    """
    with VersionChanges(repo, rev=rev, prefix=prefix) as changes:
        return changes.result()


class VersionChanges:
    """:func:`last_version_changes`, started early: ``git log`` runs while the caller works.

    The constructor resolves ``rev`` (raising :class:`UnknownRevisionError`), lists the
    intents at ``rev`` and starts ``git log``, whose output a thread collects; :meth:`result`
    reads it. Use it as a context manager (or call :meth:`close`): leaving stops git.
    """

    def __init__(self, repo: Repo, *, rev: str = "HEAD", prefix: str = "secrets/") -> None:
        import pygit2

        self.where = _where(repo)
        self.prefix = prefix
        self.history = _History(repo, prefix)
        self.start: Commit | None = None
        self.executable: str | None = None
        self.git: _Git | None = None
        if rev == "HEAD" and repo.head_is_unborn:
            return
        self.start = resolve(repo, rev)
        self.executable = _git_executable()
        if self.executable is not None:
            try:
                self.git = self.history.start_log(self.start, self.executable)
            except pygit2.GitError as exc:
                raise self._error(exc) from exc

    def result(self) -> dict[str, VersionChange]:
        import pygit2

        try:
            if self.start is None:
                return {}
            if self.executable is None:
                return self.history.run(self.start)
            return self.history.finish_log(self.git) if self.git is not None else {}
        except pygit2.GitError as exc:
            raise self._error(exc) from exc

    def close(self) -> None:
        if self.git is not None:
            self.git.close(check=False)

    def __enter__(self) -> VersionChanges:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self.close()

    def _error(self, exc: Exception) -> GitError:
        return GitError(f"cannot read the history of {self.prefix}: {exc}", where=self.where)


def _git_executable() -> str | None:
    """The ``git`` on ``PATH``; None sends :func:`last_version_changes` to pygit2 alone."""
    import shutil

    return shutil.which("git")


_GLOBAL_OPTIONS = ("--no-replace-objects",)
_CHUNK = 1 << 16  # a read of the pipe; 64 KiB stays below malloc's mmap threshold
_PIPE = 1 << 20  # the pipe git writes to (Linux: F_SETPIPE_SZ), about 0.2 s of git log
_PAUSE = 0.02  # between the drain thread's reads


class _Git:
    """A running ``git`` child whose standard output the caller streams (a context manager).

    The only place gitrot spawns git. It runs on ``repo``'s git directory (``--git-dir``, no
    discovery) with :func:`no_git_env`, replacement refs ignored (libgit2 ignores them too);
    give pathspecs as ``:(top,literal)...``, as the current folder may still set a prefix
    (``core.worktree``). Until the caller starts reading, a thread empties the pipe, so git
    works on while the caller does other things. Closing (or leaving the ``with`` block)
    before the end kills the process; reading to the end and a non-zero exit raises
    :class:`GitError` with the command, the exit code and the last line git wrote to stderr.
    """

    def __init__(self, executable: str, repo: Repo, args: list[str]) -> None:
        import subprocess
        import tempfile
        import threading

        self.where = _where(repo)
        self.argv = [executable, f"--git-dir={repo.path}", *_GLOBAL_OPTIONS, *args]
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        try:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
                env=no_git_env(),
                bufsize=0,
            )
        except OSError as exc:
            self.stderr.close()
            raise GitError(f"cannot run {self.command()}: {exc}", where=self.where) from exc
        stdout = self.process.stdout
        assert stdout is not None  # noqa: S101 - stdout=PIPE
        self.stdout = stdout
        _grow_pipe(stdout.fileno())
        self.eof = self.closed = self.handoff = self.drained = False
        self.early: list[bytes] = []
        self.thread = threading.Thread(target=self._drain, name="git-stdout", daemon=True)
        self.thread.start()

    def command(self) -> str:
        return " ".join(["git", *self.argv[2 + len(_GLOBAL_OPTIONS) :]])

    def _drain(self) -> None:
        """Until :meth:`chunks` takes over: empty the pipe now and then, so git never waits.

        git writes a little per commit; the pauses let a read take many commits at once,
        where reading each as it comes would take the GIL from the caller thousands of times.
        """
        import time

        read, keep = self.stdout.read, self.early.append
        while not self.handoff:
            chunk = read(_CHUNK)
            if not chunk:
                self.drained = True
                return
            keep(chunk)
            if len(chunk) < _CHUNK:
                time.sleep(_PAUSE)

    def chunks(self) -> Iterator[bytes]:
        """Standard output as it arrives: what the thread kept, then straight from the pipe.

        The thread stops after its current read; the rest is read here, without it, since a
        thread that needs the GIL back after each read would stall git behind the parser.
        """
        self.handoff = True
        self.thread.join()
        yield from self.early
        self.early.clear()
        if not self.drained:
            read = self.stdout.read
            chunk = read(_CHUNK)
            while chunk:
                yield chunk
                chunk = read(_CHUNK)
        self.eof = True

    def close(self, *, check: bool = True) -> None:
        """Stop git unless its output was read to the end; then, with ``check``, its exit."""
        if self.closed:
            return
        self.closed = True
        if not self.eof:
            self.process.kill()
        self.thread.join()
        self.stdout.close()
        code = self.process.wait()
        try:
            if check and self.eof and code != 0:
                self.stderr.seek(0)
                text = self.stderr.read().decode("utf-8", "replace").strip()
                last = text.splitlines()[-1] if text else "no message"
                raise GitError(
                    f"{self.command()} failed with exit code {code}: {last}",
                    where=self.where,
                    hint="is the repository complete (not a partial or broken clone)?",
                )
        finally:
            self.stderr.close()

    def __enter__(self) -> _Git:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self.close(check=kind is None)


def _grow_pipe(fd: int) -> None:
    """Give the pipe room for ``_PIPE`` bytes where the system allows (Linux); else leave it."""
    import contextlib
    import fcntl

    option = getattr(fcntl, "F_SETPIPE_SZ", None)
    if option is not None:
        with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep it
            fcntl.fcntl(fd, option, _PIPE)


def _tokens(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The NUL-terminated fields of a stream (``git log -z``), across chunk boundaries."""
    rest = b""
    for chunk in chunks:
        fields = (rest + chunk).split(b"\0")
        rest = fields.pop()
        yield from fields
    if rest:
        yield rest


class _History:
    """The state of one :func:`last_version_changes` walk."""

    def __init__(self, repo: Repo, prefix: str) -> None:
        import pygit2

        self.repo = repo
        self.odb = repo.odb
        self.oid = pygit2.Oid
        self.subdir = "/".join(part for part in prefix.split("/") if part)
        self.base = self.subdir + "/" if self.subdir else ""
        self.tracked: dict[str, str] = {}  # path in the commits being compared -> key at rev
        self.current: dict[str, int | None] = {}  # key -> its version at rev, once read
        self.pending_dirs: dict[str, int] = {}  # folder -> how many tracked paths under it
        self.found: dict[str, VersionChange] = {}
        self.by_path: dict[str, tuple[bytes, frozenset[bytes]]] = {}
        self.at_rev: dict[str, bytes] = {}  # key -> its blob at rev (git log walk)
        self.log_tracked: dict[bytes, str] = {}  # path as git prints it -> key (git log walk)
        from gitrot.core.due import scan_field, scan_int

        self.scan_field, self.scan_int = scan_field, scan_int

    def run(self, start: Commit) -> dict[str, VersionChange]:
        import pygit2

        child = start
        child_tree = self._subtree(start)
        if child_tree is None:
            return {}
        for path, _ in self._blobs(child_tree, self.base):
            self._track(path, path)
        walker = self.repo.walk(start.id, pygit2.enums.SortMode.NONE)
        walker.simplify_first_parent()
        next(walker)
        for parent in walker:
            parent_tree = self._subtree(parent)
            if parent_tree != child_tree:
                self._compare(child, parent_tree, child_tree)
                if not self.tracked:
                    return self.found
            child, child_tree = parent, parent_tree
        self._compare(child, None, child_tree)
        return self.found

    def start_log(self, start: Commit, executable: str) -> _Git | None:
        """List the intents at ``start`` and start ``git log --raw`` over their history.

        None when there is no intent to look for. :meth:`finish_log` reads the output.
        """
        tree = self._subtree(start)
        if tree is None:
            return None
        tracked = self.log_tracked
        for path, blob in self._blobs(tree, self.base):
            self.at_rev[path] = blob
            tracked[path.encode("utf-8", "surrogateescape")] = path
        if not tracked:
            return None
        args = ["log", "--first-parent", "--no-renames", "--no-relative", "--root", "--raw"]
        args += ["--no-abbrev", "-z", "--no-color", "--no-show-signature", "--no-mailmap"]
        args += ["--format=%H%x00%ct%x00%an <%ae>", str(start.id), "--"]
        # the prefix from the top of the work tree whatever the current folder, taken literally
        args += [f":(top,literal){self.base}"] if self.base else []
        return _Git(executable, self.repo, args)

    def finish_log(self, git: _Git) -> dict[str, VersionChange]:
        """The answer from ``git log --raw`` (see :func:`last_version_changes`); stops git.

        The stream is ``<id>\\0<time>\\0<author>\\0`` per commit (the first-parent commits
        that touched the prefix, newest first), each followed by its raw diff lines
        ``[\\n]:<old mode> <new mode> <old blob> <new blob> <status>\\0<path>\\0``; the
        fields are taken by position, so no name or path can be mistaken for another field.
        """
        tracked = self.log_tracked
        with git:
            tokens = _tokens(git.chunks())
            commit: bytes = b""
            time = author = b""
            lines: list[tuple[bytes, bytes]] = []
            for token in tokens:
                if token[:1] == b":" or token[:2] == b"\n:":
                    lines.append((next(tokens), token))
                    continue
                if lines:
                    self._judge_lines(commit, time, author, lines)
                    if not tracked:
                        return self.found
                    lines = []
                commit, time, author = token.strip(), next(tokens), next(tokens)
            if lines:
                self._judge_lines(commit, time, author, lines)
        return self.found

    def _judge_lines(
        self,
        commit: bytes,
        time: bytes,
        author: bytes,
        lines: list[tuple[bytes, bytes]],
    ) -> None:
        """Settle the tracked paths one commit's raw diff lines touch (``_judge`` for git log)."""
        tracked = self.log_tracked
        deleted: list[tuple[bytes, bytes]] | None = None
        for path, line in lines:
            key = tracked.get(path)
            if key is None:
                continue
            old_mode, new_mode, old_hex, new_hex, _ = line.split(b" ", 4)
            if new_mode in _NOT_BLOB:
                continue  # deleted here (or not a file): an older path of a renamed intent
            if key not in self.current:
                self.current[key] = self._version(self.at_rev[key])
            version = self.current[key]
            if old_mode[-6:] in _NOT_BLOB:
                if deleted is None:
                    deleted = [
                        (other, _raw_id(fields[2]))
                        for other, fields in ((p, raw.split(b" ", 4)) for p, raw in lines)
                        if fields[1] in _NOT_BLOB
                        and fields[0][-6:] not in _NOT_BLOB
                        and other not in tracked
                        and _is_intent(_decode(other))
                    ]
                renamed = self._renamed_from(_raw_id(new_hex), deleted)
                if renamed is not None and self._version(renamed[1]) == version:
                    deleted.remove(renamed)
                    del tracked[path]
                    tracked[renamed[0]] = key
                    continue
            elif self._version(_raw_id(old_hex)) == version:
                continue
            del tracked[path]
            self.found[key] = VersionChange(
                _decode(path), version, commit.decode(), int(time), _decode(author)
            )

    def _subtree(self, commit: Commit) -> bytes | None:
        if not self.subdir:
            return bytes(commit.tree_id.raw)
        try:
            entry = commit.tree[self.subdir]
        except KeyError:
            return None
        return bytes(entry.id.raw) if entry.type_str == "tree" else None

    def _entries(self, tree: bytes | None, path: str) -> frozenset[bytes]:
        """The raw entries of ``tree``, the folder at ``path``; one cached tree per folder.

        Walking back, the tree read as a folder's older side is its newer side the next
        time that folder changes, however many commits later: it is read once.
        """
        if tree is None:
            return _EMPTY
        cached = self.by_path.get(path)
        if cached is not None and cached[0] == tree:
            return cached[1]
        found = frozenset(_ENTRY_BYTES.findall(self.odb.read(self.oid(raw=tree))[1]))
        self.by_path[path] = (tree, found)
        return found

    def _blobs(self, tree: bytes, base: str) -> Iterator[tuple[str, bytes]]:
        """Every intent file under ``tree`` with its blob id."""
        for entry in self._entries(tree, base):
            mode, name, oid = _parse_entry(entry)
            path = base + name
            if mode == _TREE_MODE:
                yield from self._blobs(oid, path + "/")
            elif mode != _GITLINK_MODE and _is_intent(path):
                yield path, oid

    def _track(self, path: str, key: str) -> None:
        self.tracked[path] = key
        for folder in _folders(path):
            self.pending_dirs[folder] = self.pending_dirs.get(folder, 0) + 1

    def _untrack(self, path: str) -> str:
        for folder in _folders(path):
            self.pending_dirs[folder] -= 1
        return self.tracked.pop(path)

    def _compare(self, commit: Commit, old: bytes | None, new: bytes | None) -> None:
        changes = list(self._changes(old, new, self.base, prune=True))
        deleted: list[tuple[str, bytes]] | None = None
        for path, old_blob, new_blob in changes:
            if path not in self.tracked or new_blob is None:
                continue
            if old_blob is None and old is not None and deleted is None:
                deleted = self._deleted(old, new)
            self._judge(commit, path, old_blob, new_blob, deleted or [])

    def _judge(
        self,
        commit: Commit,
        path: str,
        old_blob: bytes | None,
        new_blob: bytes,
        deleted: list[tuple[str, bytes]],
    ) -> None:
        key = self.tracked[path]
        if key not in self.current:
            self.current[key] = self._version(new_blob)
        version = self.current[key]
        if old_blob is None:
            renamed = self._renamed_from(new_blob, deleted)
            if renamed is not None and self._version(renamed[1]) == version:
                deleted.remove(renamed)
                self._untrack(path)
                self._track(renamed[0], key)
                return
        elif self._version(old_blob) == version:
            return
        self._untrack(path)
        author = commit.author
        self.found[key] = VersionChange(
            path, version, str(commit.id), commit_time(commit), f"{author.name} <{author.email}>"
        )

    def _deleted(self, old: bytes, new: bytes | None) -> list[tuple[str, bytes]]:
        """The intents a commit deleted (anywhere under the prefix), for rename detection."""
        return [
            (path, old_blob)
            for path, old_blob, new_blob in self._changes(old, new, self.base, prune=False)
            if new_blob is None and old_blob is not None and path not in self.tracked
        ]

    def _renamed_from(
        self, added: bytes, deleted: list[tuple[_Path, bytes]]
    ) -> tuple[_Path, bytes] | None:
        """The deleted intent whose text equals ``added`` but for its ``name:`` lines."""
        if not deleted:
            return None
        text = _without_names(self._read(added))
        for candidate in deleted:
            if _without_names(self._read(candidate[1])) == text:
                return candidate
        return None

    def _changes(
        self, old: bytes | None, new: bytes | None, base: str, *, prune: bool
    ) -> Iterator[tuple[str, bytes | None, bytes | None]]:
        """(path, old blob, new blob) for every intent file that differs between two trees."""
        new_entries = self._entries(new, base)
        old_entries = self._entries(old, base)
        sides: dict[str, list[tuple[bytes, bytes] | None]] = {}
        for entry in old_entries - new_entries:
            mode, name, oid = _parse_entry(entry)
            sides.setdefault(name, [None, None])[0] = (mode, oid)
        for entry in new_entries - old_entries:
            mode, name, oid = _parse_entry(entry)
            sides.setdefault(name, [None, None])[1] = (mode, oid)
        for name, (before, after) in sides.items():
            path = base + name
            old_tree = before[1] if before and before[0] == _TREE_MODE else None
            new_tree = after[1] if after and after[0] == _TREE_MODE else None
            if (old_tree or new_tree) and (not prune or self.pending_dirs.get(path + "/")):
                yield from self._changes(old_tree, new_tree, path + "/", prune=prune)
            old_blob = before[1] if before and before[0] != _TREE_MODE else None
            new_blob = after[1] if after and after[0] != _TREE_MODE else None
            if (old_blob or new_blob) and _is_intent(path):
                yield path, old_blob, new_blob

    def _read(self, blob: bytes) -> bytes:
        return self.odb.read(self.oid(raw=blob))[1]

    def _version(self, blob: bytes) -> int | None:
        data = self._read(blob)
        version = self.scan_int(self.scan_field(data, b"spec", b"version"))
        return version if version is not None else _parse_version(data)


_NOT_BLOB = (b"000000", b"040000", b"160000")  # absent, a folder, a submodule


def _raw_id(hex_id: bytes) -> bytes:
    return bytes.fromhex(hex_id.decode())


def _decode(text: bytes) -> str:
    return text.decode("utf-8", "surrogateescape")


def _parse_entry(entry: bytes) -> tuple[bytes, str, bytes]:
    match = _ENTRY.fullmatch(entry)
    assert match is not None  # noqa: S101 - _ENTRY_BYTES only yields what _ENTRY matches
    mode, name, oid = match.groups()
    return mode, name.decode("utf-8", "surrogateescape"), oid


def _is_intent(path: str) -> bool:
    return path.endswith(".yaml") and not path.endswith(".sealed.yaml")


def _folders(path: str) -> Iterator[str]:
    position = path.find("/")
    while position >= 0:
        yield path[: position + 1]
        position = path.find("/", position + 1)


def _without_names(text: bytes) -> list[bytes]:
    return [line for line in text.splitlines() if not line.lstrip().startswith(b"name:")]


def spec_version(data: bytes) -> int | None:
    """An intent's ``spec.version`` (None when it has none or the file does not parse).

    A line scan (:func:`gitrot.core.due.scan_field`) reads the canonical layout every
    intent gitrot writes has; anything else goes through the real YAML parser.
    """
    from gitrot.core.due import scan_field, scan_int

    version = scan_int(scan_field(data, b"spec", b"version"))
    return version if version is not None else _parse_version(data)


def _parse_version(data: bytes) -> int | None:
    from gitrot.errors import GitrotError
    from gitrot.sops import yaml_parse
    from gitrot.sops.tree import Map

    try:
        docs = yaml_parse.parse(data.decode("utf-8"))
    except (GitrotError, UnicodeDecodeError, ValueError):
        return None
    spec = docs[0].get("spec") if docs else None
    version = spec.get("version") if isinstance(spec, Map) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None
