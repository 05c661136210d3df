"""The change a pull request makes, read from git objects: :func:`open_change`.

``gitrot check --base REV --head REV`` judges what ``head`` changes since it left ``base``:
the files that differ between the merge base and ``head`` (what the pull request page
shows) and the commits ``head`` has that ``base`` has not. Everything is read from git
objects through pygit2, without a checkout, so a bare clone or a detached HEAD works, and
the cost follows the size of the change: the tree diff (:mod:`gitrot.git.diff`) skips
folders whose ids are equal, renames (:mod:`gitrot.git.renames`) are looked for among the
changed files alone, files are read one by one on demand, and a folder is listed by
descending into it alone.

The policy repository may sit in a folder of the git work tree (``policy/``): paths are
relative to it, and changed files outside it are listed too (the secret scanner checks
every changed file), as relative paths that start with ``../``.
"""

from __future__ import annotations

import codecs
import os
import posixpath
from typing import TYPE_CHECKING, Literal

from gitrot.errors import GitError, InputError
from gitrot.git.diff import tree_changes, tree_files
from gitrot.git.renames import Side, find_renames
from gitrot.git.repository import open_repo, refuse_link, repo_location, resolve

if TYPE_CHECKING:  # pygit2 is imported where it is used: ~90 ms
    import pygit2

    from gitrot.git.repository import Commit, Repo

Status = Literal["added", "modified", "deleted", "renamed"]

MAX_COMMITS = 1000  # a pull request with more commits is more likely a wrong --base
RENAME_THRESHOLD = 50  # percent of similar content, as git's default


class ChangedFile:
    """One file the change adds, modifies, deletes or renames (a mode change modifies).

    ``path`` is the new path (the old one when deleted), ``old_path`` the path before a
    rename (else None); ids are hex blob ids, modes git file modes (``0o100644``), sizes in
    bytes: each None on the side where the file is absent. The sizes come from the object
    headers, so a caller can skip a huge file without reading it.
    """

    __slots__ = (
        "new_id", "new_mode", "new_size", "old_id", "old_mode", "old_path", "old_size", "path",
        "status",
    )  # fmt: skip

    def __init__(
        self,
        path: str,
        status: Status,
        *,
        old_path: str | None = None,
        old_id: str | None = None,
        new_id: str | None = None,
        old_mode: int | None = None,
        new_mode: int | None = None,
        old_size: int | None = None,
        new_size: int | None = None,
    ) -> None:
        self.path = path
        self.status: Status = status
        self.old_path = old_path
        self.old_id = old_id
        self.new_id = new_id
        self.old_mode = old_mode
        self.new_mode = new_mode
        self.old_size = old_size
        self.new_size = new_size

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in ChangedFile.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChangedFile) and other._fields() == self._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        old = f" from {self.old_path!r}" if self.old_path is not None else ""
        return f"ChangedFile({self.path!r} {self.status}{old})"


class CommitInfo:
    """One commit of the change: its id (hex), message, author, times (epoch seconds)."""

    __slots__ = (
        "author_email", "author_name", "author_time", "committer_time", "id", "message",
        "parent_count",
    )  # fmt: skip

    def __init__(
        self,
        id: str,
        message: str,
        *,
        author_name: str,
        author_email: str,
        author_time: int,
        committer_time: int,
        parent_count: int,
    ) -> None:
        self.id = id
        self.message = message
        self.author_name = author_name
        self.author_email = author_email
        self.author_time = author_time
        self.committer_time = committer_time
        self.parent_count = parent_count

    @classmethod
    def from_commit(cls, commit: Commit) -> CommitInfo:
        """The commit's fields, decoded in its encoding (bytes that do not decode: U+FFFD)."""
        encoding = _encoding(commit.message_encoding)
        author = commit.author
        return cls(
            str(commit.id),
            commit.raw_message.decode(encoding, "replace"),
            author_name=author.raw_name.decode(encoding, "replace"),
            author_email=author.raw_email.decode(encoding, "replace"),
            author_time=int(author.time),
            committer_time=int(commit.commit_time),
            parent_count=len(commit.parent_ids),
        )

    def __repr__(self) -> str:
        summary = self.message.split("\n", 1)[0]
        return f"CommitInfo({self.id[:12]} {summary!r})"


def open_change(
    path: str | os.PathLike[str],
    base: str,
    head: str = "HEAD",
    *,
    prefix: str | None = None,
    max_commits: int = MAX_COMMITS,
) -> Change:
    """The change ``head`` makes since it left ``base``, in the repository at ``path``.

    ``path`` is the policy repository (a work tree, a folder in one, or a bare repository);
    ``base`` and ``head`` are any git revisions. ``prefix`` is where the policy repository
    sits in the git tree ("" or "policy/"); by default, where ``path`` is in its work tree
    ("" for a bare repository). An unknown revision raises :class:`UnknownRevisionError`
    (exit 2); revisions that share no history raise :class:`InputError` (exit 2).
    """
    import pygit2

    repo = open_repo(path)
    root = _prefix(prefix) if prefix is not None else _prefix_of(repo, path)
    base_commit, head_commit = resolve(repo, base), resolve(repo, head)
    try:
        found = repo.merge_base(base_commit.id, head_commit.id)
    except pygit2.GitError as exc:
        raise GitError(
            f"cannot find where {head!r} left {base!r}: {exc}", where=repo_location(repo)
        ) from exc
    if found is None:
        raise InputError(
            f"{base!r} and {head!r} share no history",
            where=repo_location(repo),
            hint=_no_history_hint(repo),
        )
    merge_base = repo[found].peel(pygit2.Commit)
    return Change(repo, base_commit, head_commit, merge_base, prefix=root, max_commits=max_commits)


class Change:
    """What ``head`` changes since ``merge_base``, where it left ``base``.

    ``files`` are the changed files sorted by path, with exact and similar renames (git's
    50 % rule); :attr:`commits` are those ``head`` has and ``base`` has not. ``read_old``
    reads a file at the merge base, ``read_new`` at ``head``, ``read_base`` at ``base`` (ahead
    of the merge base when the target branch moved on). Paths are relative to ``prefix``.
    """

    __slots__ = ("_commits", "base", "files", "head", "max_commits", "merge_base", "prefix", "repo")

    def __init__(
        self,
        repo: Repo,
        base: Commit,
        head: Commit,
        merge_base: Commit,
        *,
        prefix: str = "",
        max_commits: int = MAX_COMMITS,
    ) -> None:
        self.repo = repo
        self.base = base
        self.head = head
        self.merge_base = merge_base
        self.prefix = _prefix(prefix)
        self.max_commits = max_commits
        self._commits: list[CommitInfo] | None = None
        self.files = self._diff()

    @property
    def commits(self) -> list[CommitInfo]:
        """The commits reachable from ``head`` and not from ``base``, newest first.

        Read on first use; more than ``max_commits`` raises :class:`InputError`.
        """
        if self._commits is None:
            self._commits = self._walk()
        return self._commits

    def read_old(self, path: str) -> bytes | None:
        """The file ``path`` at the merge base; None when absent (or a folder)."""
        return self._read(self.merge_base, path)

    def read_new(self, path: str) -> bytes | None:
        """The file ``path`` at ``head``; None when absent (or a folder)."""
        return self._read(self.head, path)

    def read_base(self, path: str) -> bytes | None:
        """The file ``path`` at ``base``; None when absent (or a folder)."""
        return self._read(self.base, path)

    def old_tree_paths(self, folder: str) -> list[str]:
        """The files under ``folder`` (``"secrets/"``) at the merge base, sorted."""
        return self._list(self.merge_base, folder)

    def new_tree_paths(self, folder: str) -> list[str]:
        """The files under ``folder`` (``"secrets/"``) at ``head``, sorted."""
        return self._list(self.head, folder)

    def top_path(self, path: str) -> str | None:
        """``path`` from the top of the git tree (for annotations); None above the top."""
        if path.startswith("/"):
            return None
        joined = self.prefix + path
        top = posixpath.normpath(joined) if joined else "."
        if top == ".." or top.startswith("../"):
            return None
        return "" if top == "." else top

    def relative(self, top: str) -> str:
        """A path from the top of the git tree, relative to ``prefix`` (``../x`` outside)."""
        if top.startswith(self.prefix):
            return top[len(self.prefix) :]
        if self.prefix.startswith(top + "/"):  # a file where a folder of the prefix is
            return "../" * self.prefix.count("/") + top
        return posixpath.relpath(top, self.prefix)

    def _diff(self) -> list[ChangedFile]:
        """The changed files, sorted; folders whose ids are equal on both sides are skipped."""
        import pygit2

        modified: list[tuple[Side, Side]] = []
        added: list[Side] = []
        deleted: list[Side] = []
        try:
            for old, new in tree_changes(self.repo, self.merge_base.tree_id, self.head.tree_id):
                if old and new:
                    modified.append((old, new))
                elif old:
                    deleted.append(old)
                elif new:
                    added.append(new)
            renames = find_renames(added, deleted, self._blob, threshold=RENAME_THRESHOLD)
        except (KeyError, pygit2.GitError) as exc:
            raise GitError(
                f"cannot compare {self.merge_base.short_id} with {self.head.short_id}: {exc}",
                where=repo_location(self.repo),
                hint="is the repository complete (not a partial or broken clone)?",
            ) from exc
        files = [self._file("modified", old, new) for old, new in modified]
        paired = {old[0] for old, _ in renames} | {new[0] for _, new in renames}
        for old, new in renames:
            if _inside(self.relative(old[0])) == _inside(self.relative(new[0])):
                files.append(self._file("renamed", old, new))
            else:  # across the policy root's edge: from the policy's view, it left or arrived
                paired -= {old[0], new[0]}
        files += [self._file("deleted", old, None) for old in deleted if old[0] not in paired]
        files += [self._file("added", None, new) for new in added if new[0] not in paired]
        return sorted(files, key=lambda file: (file.path, file.status))

    def _file(self, status: Status, old: Side | None, new: Side | None) -> ChangedFile:
        relative = self.relative
        return ChangedFile(
            relative(new[0] if new else old[0] if old else ""), status,
            old_path=relative(old[0]) if old and status == "renamed" else None,
            old_id=old[2].hex() if old else None, new_id=new[2].hex() if new else None,
            old_mode=old[1] if old else None, new_mode=new[1] if new else None,
            old_size=old[3] if old else None, new_size=new[3] if new else None,
        )  # fmt: skip

    def _blob(self, oid: bytes) -> bytes:
        import pygit2

        return bytes(self.repo.odb.read(pygit2.Oid(raw=oid))[1])

    def _walk(self) -> list[CommitInfo]:
        import pygit2

        found: list[CommitInfo] = []
        try:
            sort = pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME
            walker = self.repo.walk(self.head.id, sort)
            walker.hide(self.base.id)
            for commit in walker:
                if len(found) == self.max_commits:
                    raise InputError(
                        f"the change has more than {self.max_commits} commits",
                        where=repo_location(self.repo),
                        hint=f"is the base {self.base.short_id} the branch the change "
                        "merges into? give the target branch (e.g. --base origin/main)",
                    )
                found.append(CommitInfo.from_commit(commit))
        except pygit2.GitError as exc:
            raise GitError(
                f"cannot list the commits since {self.base.short_id}: {exc}",
                where=repo_location(self.repo),
            ) from exc
        return found

    def _read(self, commit: Commit, path: str) -> bytes | None:
        """InputError for a symbolic link: its blob is a path, not the file's content."""
        import pygit2

        top = self.top_path(path)
        found = self._lookup(commit, top) if top else None
        if not isinstance(found, pygit2.Blob):
            return None
        refuse_link(found, path)
        return found.data

    def _list(self, commit: Commit, folder: str) -> list[str]:
        """The blobs (files and symlinks) under ``folder``, descending into it alone."""
        import pygit2

        top = self.top_path(folder)
        found = commit.tree if top == "" else self._lookup(commit, top) if top else None
        if not isinstance(found, pygit2.Tree):
            return []
        try:
            paths = tree_files(self.repo, found.id, top + "/" if top else "")
        except (KeyError, pygit2.GitError) as exc:
            raise self._missing(commit, top or ".", exc) from exc
        return sorted(self.relative(path) for path in paths)

    def _lookup(self, commit: Commit, top: str) -> pygit2.Object | None:
        """The object at ``top`` in ``commit``'s tree (reading the folders on the way alone)."""
        import pygit2

        try:
            return commit.tree[top]
        except pygit2.GitError as exc:  # a missing object, not a missing path
            raise self._missing(commit, top, exc) from exc
        except (KeyError, ValueError):
            return None

    def _missing(self, commit: Commit, top: str, exc: Exception) -> GitError:
        return GitError(
            f"cannot read {top} at {commit.short_id}: {exc}",
            where=repo_location(self.repo),
            hint="is the repository complete (not a partial or broken clone)?",
        )


def _inside(path: str) -> bool:
    return not path.startswith("../")


def _prefix(prefix: str) -> str:
    """``prefix`` as "" or "a/b/" (no empty, ``.`` or ``..`` parts)."""
    parts = [part for part in prefix.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InputError(
            f"the policy folder {prefix!r} leaves the repository",
            hint="give the folder from the top of the git work tree, e.g. policy/",
        )
    return "".join(part + "/" for part in parts)


def _prefix_of(repo: Repo, path: str | os.PathLike[str]) -> str:
    """Where ``path`` is in the work tree of ``repo`` ("" at the top, in a bare repository
    or in the git folder)."""
    if not repo.workdir:
        return ""
    where = os.path.realpath(path)
    git_dir = os.path.realpath(repo.path)
    if os.path.commonpath([where, git_dir]) == git_dir:
        return ""
    relative = os.path.relpath(where, os.path.realpath(repo.workdir))
    if relative in {".", ".."} or relative.startswith(".." + os.sep):
        return ""
    return _prefix(relative.replace(os.sep, "/"))


def _no_history_hint(repo: Repo) -> str:
    if repo.is_shallow:
        return (
            "this is a shallow clone: fetch the history of both (actions/checkout: "
            "fetch-depth: 0, or git fetch --unshallow)"
        )
    return "give the branch the change merges into as --base (e.g. origin/main)"


def _encoding(name: str | None) -> str:
    if not name:
        return "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"
