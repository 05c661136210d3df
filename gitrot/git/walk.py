"""The history walk on pygit2 alone, for :func:`~gitrot.git.history.last_version_changes`.

The fallback when no ``git`` executable is on ``PATH`` (about four times slower on long
histories: every tree it compares is read through Python). It follows first parents from
``rev`` and compares each commit's tree under the prefix with its parent's, descending only
into folders that still hold an intent without an answer, and stops once all have one (all
intents at ``rev``, or the ``paths`` asked for).
"""

from __future__ import annotations

from gitrot.git.blobs import _Reader
from gitrot.git.history import VersionChange
from gitrot.git.repo import commit_time

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator

    from gitrot.git.repo import Commit, Repo


class _History(_Reader):
    """The state of one :func:`~gitrot.git.history.last_version_changes` walk on pygit2."""

    def __init__(self, repo: Repo, prefix: str, paths: Collection[str] | None = None) -> None:
        super().__init__(repo, prefix, paths)
        self.tracked: dict[str, str] = {}  # path in the commits being compared -> key at rev
        self.since: int | None = None  # the horizon: older commits are not read

    def run(self, start: Commit) -> dict[str, VersionChange]:
        import pygit2

        child = start
        child_tree = self._subtree(start)
        for path, _ in self._intents_at(start):
            self._track(path, path)
        if not self.tracked:
            return {}
        walker = self.repo.walk(start.id, pygit2.enums.SortMode.NONE)
        walker.simplify_first_parent()
        next(walker)
        for parent in walker:
            if self.since is not None and commit_time(child) < self.since:
                return self.found
            parent_tree = self._subtree(parent)
            if parent_tree != child_tree:
                self._compare(child, parent_tree, child_tree)
                if not self.tracked:
                    return self.found
            child, child_tree = parent, parent_tree
        self._compare(child, None, child_tree)
        return self.found

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
        renames: dict[str, tuple[str, bytes]] | None = None
        for path, old_blob, new_blob in changes:
            if path not in self.tracked or new_blob is None:
                continue
            if old_blob is None and old is not None and renames is None:
                renames = self._tree_renames(old, new)
            self._judge(commit, path, old_blob, new_blob, renames or {})

    def _judge(
        self,
        commit: Commit,
        path: str,
        old_blob: bytes | None,
        new_blob: bytes,
        renames: dict[str, tuple[str, bytes]],
    ) -> None:
        key = self.tracked[path]
        if key not in self.current:
            self.current[key] = self._version(new_blob)
        version = self.current[key]
        if old_blob is None:
            renamed = renames.get(path)
            if renamed is not None and self._version(renamed[1]) == version:
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


def _folders(path: str) -> Iterator[str]:
    position = path.find("/")
    while position >= 0:
        yield path[: position + 1]
        position = path.find("/", position + 1)
