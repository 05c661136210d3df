"""When each intent's ``spec.version`` last changed: :func:`last_version_changes`.

The query walks long histories. It streams ``git log`` from the real ``git`` executable
(history walk and tree diffs in C; :class:`~gitrot.git.process._Git`) and reads only the few
blobs it needs with pygit2; without a ``git`` on ``PATH`` it walks with pygit2 alone
(:mod:`gitrot.git.walk`). :class:`VersionChanges` starts ``git log`` early, so it runs while
the caller does other work.
"""

from __future__ import annotations

from gitrot.errors import GitError
from gitrot.git.blobs import _is_intent, _Reader
from gitrot.git.process import _Git, _tokens
from gitrot.git.repo import _where, resolve

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from gitrot.git.repo import Commit, Repo
    from gitrot.git.walk import _History


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
        self.start: Commit | None = None
        self.walk: _History | None = None  # without git: the pygit2 walk
        self.log: _LogHistory | None = None  # with git: the git log walk
        self.git: _Git | None = None
        if rev == "HEAD" and repo.head_is_unborn:
            return
        self.start = resolve(repo, rev)
        executable = _git_executable()
        if executable is None:
            from gitrot.git.walk import _History  # the fallback, loaded only when needed

            self.walk = _History(repo, prefix)
            return
        self.log = _LogHistory(repo, prefix)
        try:
            self.git = self.log.start_log(self.start, executable)
        except pygit2.GitError as exc:
            raise self._error(exc) from exc

    def result(self) -> dict[str, VersionChange]:
        import pygit2

        try:
            if self.start is None:
                return {}
            if self.walk is not None:
                return self.walk.run(self.start)
            if self.log is not None and self.git is not None:
                return self.log.finish_log(self.git)
            return {}
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


class _LogHistory(_Reader):
    """The state of one :func:`last_version_changes` walk over ``git log --raw``."""

    def __init__(self, repo: Repo, prefix: str) -> None:
        super().__init__(repo, prefix)
        self.at_rev: dict[str, bytes] = {}  # key -> its blob at rev
        self.log_tracked: dict[bytes, str] = {}  # path as git prints it -> key

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


_NOT_BLOB = (b"000000", b"040000", b"160000")  # absent, a folder, a submodule


def _raw_id(hex_id: bytes) -> bytes:
    return bytes.fromhex(hex_id.decode())


def _decode(text: bytes) -> str:
    return text.decode("utf-8", "surrogateescape")
