"""When each intent's ``spec.version`` last changed: :func:`last_version_changes`.

The query walks long histories. It streams ``git log`` from the real ``git`` executable
(history walk and tree diffs in C; :class:`~gitrot.git.process.GitStream`) and reads only the few
blobs it needs with pygit2. git is required (as pre-commit requires it): without a ``git``
on ``PATH`` the query is an :class:`~gitrot.errors.EnvironmentFailure` (exit 3).
:class:`VersionChanges` starts ``git log`` early, so it runs while the caller does other work.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from gitrot.core.layout import SECRETS_PREFIX
from gitrot.errors import GitError
from gitrot.git.blobs import TreeReader, is_intent_file
from gitrot.git.process import GitStream, require_git, split_nul
from gitrot.git.repository import repo_location, resolve

if TYPE_CHECKING:  # pygit2 is imported where it is used: ~90 ms
    from gitrot.git.repository import Commit, Repo

_MAX_PATHSPECS = 200  # more paths asked for: git log lists the whole prefix instead


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
    repo: Repo,
    *,
    rev: str = "HEAD",
    prefix: str = SECRETS_PREFIX,
    paths: Collection[str] | None = None,
    since: int | None = None,
) -> dict[str, VersionChange]:
    """For every intent file at ``rev``, the first-parent commit that last set its version.

    Intent files are the ``*.yaml`` files under ``prefix``, except ``*.sealed.yaml``. History
    follows first parents from ``rev`` (a side branch counts at its merge commit, compared
    with its first parent). For each intent the answer is the newest commit that touched its
    path and whose older side does not have the version the intent has at ``rev`` (or did not
    have the file): an edit that keeps the version (a reason reworded) does not count. A
    rename (a file deleted and one added in one commit, whose texts differ only in their
    ``name:`` lines) keeps the clock of the old path; when several added intents could claim
    one deleted intent, the first in path order does. An unborn HEAD gives ``{}``.

    ``paths`` (the answer's keys: paths from the top of the git tree, ``prefix`` included)
    limits the answer to those intents, and the walk stops as soon as they have theirs:
    the cost follows their history, not the repository's. The answer is the full answer
    without the other keys; a path that is no intent at ``rev`` is left out.

    With a ``git`` executable on ``PATH``, ``git log --raw`` walks the history and diffs
    the trees (in C, newest first, streamed; given ``paths``, limited to them); pygit2
    reads one older blob per intent (more after reason-only edits) and the process is
    stopped as soon as every intent has its answer. Without one: EnvironmentFailure.

    ``since`` (epoch seconds) is a horizon: commits older than it are not read, and an
    intent whose version was set before it is left out of the answer (the caller knows it
    is at least that old). The PR check asks only as far back as its rules look.
    """
    with VersionChanges(repo, rev=rev, prefix=prefix, paths=paths, since=since) as changes:
        return changes.result()


class VersionChanges:
    """:func:`last_version_changes`, started early: ``git log`` runs while the caller works.

    The constructor resolves ``rev`` (raising :class:`UnknownRevisionError`), lists the
    intents at ``rev`` (those of ``paths``, when given) and starts ``git log``, whose output
    a thread collects; :meth:`result` reads it. Use it as a context manager (or call
    :meth:`close`): leaving stops git.
    """

    def __init__(
        self,
        repo: Repo,
        *,
        rev: str = "HEAD",
        prefix: str = SECRETS_PREFIX,
        paths: Collection[str] | None = None,
        since: int | None = None,
    ) -> None:
        import pygit2

        self.where = repo_location(repo)
        self.prefix = prefix
        self.start: Commit | None = None
        self.log: _LogHistory | None = None  # the git log walk
        self.git: GitStream | None = None
        if rev == "HEAD" and repo.head_is_unborn:
            return
        self.start = resolve(repo, rev)
        require_git()  # before any work: git is required
        self.log = _LogHistory(repo, prefix, paths)
        self.log.since = since
        try:
            self.git = self.log.start_log(self.start)
        except pygit2.GitError as exc:
            raise self._error(exc) from exc

    def result(self) -> dict[str, VersionChange]:
        import pygit2

        try:
            if self.start is None:
                return {}
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


class _LogHistory(TreeReader):
    """The state of one :func:`last_version_changes` walk over ``git log --raw``.

    ``git log`` lists the commits that touched the prefix, or, given a few ``paths``, only
    those that touched the tracked paths (``per_path``). Then a commit's raw lines show only
    tracked paths, so renames are found from its trees, and following one to an older path
    starts ``git log`` again from the commit's parent with the new paths.
    """

    def __init__(self, repo: Repo, prefix: str, paths: Collection[str] | None = None) -> None:
        super().__init__(repo, prefix, paths)
        self.at_rev: dict[str, bytes] = {}  # key -> its blob at rev
        self.log_tracked: dict[bytes, str] = {}  # path as git prints it -> key
        self.per_path = paths is not None and len(paths) <= _MAX_PATHSPECS
        self.since: int | None = None  # the horizon: older commits are not read
        self.moved = False  # a tracked path became an older one in the commit just judged

    def start_log(self, start: Commit) -> GitStream | None:
        """List the intents at ``start`` and start ``git log --raw`` over their history.

        None when there is no intent to look for. :meth:`finish_log` reads the output.
        """
        tracked = self.log_tracked
        for path, blob in self._intents_at(start):
            self.at_rev[path] = blob
            tracked[path.encode("utf-8", "surrogateescape")] = path
        if not tracked:
            return None
        return self._log(str(start.id))

    def _log(self, start: str) -> GitStream:
        args = ["log", "--first-parent", "--no-renames", "--no-relative", "--root", "--raw"]
        args += ["--no-abbrev", "-z", "--no-color", "--no-show-signature", "--no-mailmap"]
        args += ["--format=%H%x00%ct%x00%an <%ae>"]
        if self.since is not None:
            args.append(f"--since={self.since}")
        args += [start, "--"]
        # paths from the top of the work tree whatever the current folder, taken literally
        if self.per_path:
            args += [f":(top,literal){_decode(path)}" for path in sorted(self.log_tracked)]
        elif self.base:
            args += [f":(top,literal){self.base}"]
        return GitStream(args, git_dir=self.repo.path, where=repo_location(self.repo))

    def finish_log(self, git: GitStream) -> dict[str, VersionChange]:
        """The answer from ``git log --raw`` (see :func:`last_version_changes`); stops git."""
        while True:
            resume = self._read_log(git)
            if resume is None:
                return self.found
            git = self._log(resume)

    def _read_log(self, git: GitStream) -> str | None:
        """Judge the commits ``git`` lists; the commit to go on from when git must restart.

        The stream is ``<id>\\0<time>\\0<author>\\0`` per commit (the first-parent commits
        that touched the paths, newest first), each followed by its raw diff lines
        ``[\\n]:<old mode> <new mode> <old blob> <new blob> <status>\\0<path>\\0``; the
        fields are taken by position, so no name or path can be mistaken for another field.
        """
        tracked = self.log_tracked
        with git:
            tokens = split_nul(git.chunks())
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
                        return None
                    if self.moved:
                        return self._parent(commit)
                    lines = []
                commit, time, author = token.strip(), next(tokens), next(tokens)
            if lines:
                self._judge_lines(commit, time, author, lines)
                if tracked and self.moved:
                    return self._parent(commit)
        return None

    def _parent(self, commit: bytes) -> str | None:
        """The first parent of ``commit`` (after a rename, where git log goes on)."""
        self.moved = False
        parents = self._commit(commit).parent_ids
        return str(parents[0]) if parents else None

    def _judge_lines(
        self,
        commit: bytes,
        time: bytes,
        author: bytes,
        lines: list[tuple[bytes, bytes]],
    ) -> None:
        """Settle the tracked paths one commit's raw diff lines touch (``_judge`` for git log)."""
        tracked = self.log_tracked
        renames: dict[bytes, tuple[bytes, bytes]] | None = None
        for path, line in lines:
            key = tracked.get(path)
            if key is None:
                continue
            old_mode, new_mode, old_hex, _, _ = line.split(b" ", 4)
            if new_mode in _NOT_BLOB:
                continue  # deleted here (or not a file): an older path of a renamed intent
            if key not in self.current:
                self.current[key] = self._version(self.at_rev[key])
            version = self.current[key]
            if old_mode[-6:] in _NOT_BLOB:
                if renames is None:
                    renames = self._commit_renames(commit, lines)
                renamed = renames.get(path)
                if renamed is not None and self._version(renamed[1]) == version:
                    del tracked[path]
                    tracked[renamed[0]] = key
                    self.moved = self.per_path
                    continue
            elif self._version(_raw_id(old_hex)) == version:
                continue
            del tracked[path]
            self.found[key] = VersionChange(
                _decode(path), version, commit.decode(), int(time), _decode(author)
            )

    def _commit_renames(
        self, commit: bytes, lines: list[tuple[bytes, bytes]]
    ) -> dict[bytes, tuple[bytes, bytes]]:
        """The renames of one commit: from its lines, or (lines of tracked paths only) trees."""
        if self.per_path:
            found = self._commit(commit)
            parents = found.parents
            if not parents:
                return {}
            old = self._subtree(parents[0])
            if old is None:
                return {}
            return {
                _encode(added): (_encode(path), blob)
                for added, (path, blob) in self._tree_renames(old, self._subtree(found)).items()
            }
        added: list[tuple[bytes, bytes]] = []
        deleted: list[tuple[bytes, bytes]] = []
        for path, raw in lines:
            old_mode, new_mode, old_hex, new_hex, _ = raw.split(b" ", 4)
            if not is_intent_file(_decode(path)):
                continue
            if old_mode[-6:] in _NOT_BLOB and new_mode not in _NOT_BLOB:
                added.append((path, _raw_id(new_hex)))
            elif new_mode in _NOT_BLOB and old_mode[-6:] not in _NOT_BLOB:
                deleted.append((path, _raw_id(old_hex)))
        return self._pair_renames(added, deleted)


_NOT_BLOB = (b"000000", b"040000", b"160000")  # absent, a folder, a submodule


def _raw_id(hex_id: bytes) -> bytes:
    return bytes.fromhex(hex_id.decode())


def _decode(text: bytes) -> str:
    return text.decode("utf-8", "surrogateescape")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")
