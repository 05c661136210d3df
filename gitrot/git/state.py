"""The reconciler's records in git: its state, a note per reconciled commit, a ref to the last.

- ``refs/gitrot/state``: a chain of commits, each signed by the reconciler (SSHSIG in the
  ``gpgsig`` header, :mod:`gitrot.git.sshsig`), whose tree holds one small file per secret
  (:mod:`gitrot.reconcile.ledger` says what is in it); :func:`update_tree` rewrites only the
  subtrees on the path of a changed file, so unchanged secrets share git objects; the ref
  moves with compare-and-swap (:func:`move_state`);
- ``refs/notes/gitrot``: a JSON note on each reconciled commit (what one run did, where,
  when, by whom; never a value), written with pygit2;
- ``refs/gitrot/reconciled``: the last reconciled commit, moved with compare-and-swap
  (``git update-ref NEW OLD``) so two reconcilers sharing a repository never lose an update;
- :func:`push` sends the three to a remote with ``--force-with-lease`` on each (a lost race
  is a :class:`LostRace`: the caller fetches, re-reads and tries again); :func:`fetch` brings
  the remote's into the local refs.

Also :func:`list_blobs`, the intents of a commit without a checkout.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from gitrot.errors import GitError
from gitrot.git.process import run_git
from gitrot.git.repository import repo_location

if TYPE_CHECKING:  # pygit2 is imported where it is used: ~90 ms
    import pygit2

    from gitrot.git.repository import Commit, Repo

NOTES_REF = "refs/notes/gitrot"
RECONCILED_REF = "refs/gitrot/reconciled"
STATE_REF = "refs/gitrot/state"
REFS = (NOTES_REF, RECONCILED_REF, STATE_REF)
_ZERO = "0" * 40


_LOCK_HINT = (
    "a git process holds the lock, or one was killed while holding it: if none runs, "
    "remove the .lock file it names"
)
_DAMAGED_HINT = (
    "{ref} is damaged in this repository (see `git fsck`): restore it from a clone or the "
    "remote (`git fetch REMOTE +{ref}:{ref}`); gitrot does not guess what it recorded"
)


class LostRace(GitError):
    """Another reconciler moved a ref first; re-read and try again."""


def list_blobs(commit: Commit, folder: str) -> dict[str, str]:
    """``{path: blob id}`` of every file under ``folder`` (``"secrets"``) at ``commit``,
    reading only that folder's trees."""
    import pygit2

    try:
        top = commit.tree[folder]
    except KeyError:
        return {}
    found: dict[str, str] = {}
    stack: list[tuple[str, pygit2.Tree]] = []
    if isinstance(top, pygit2.Tree):
        stack.append((folder, top))
    while stack:
        prefix, tree = stack.pop()
        for entry in tree:
            path = f"{prefix}/{entry.name}"
            if entry.type_str == "tree":
                stack.append((path, tree[str(entry.name)]))  # type: ignore[arg-type]
            elif entry.type_str == "blob":
                found[path] = str(entry.id)
    return found


def read_object(repo: Repo, oid: str) -> bytes:
    return bytes(repo[oid].data)  # type: ignore[attr-defined]


def reconciled(repo: Repo) -> str | None:
    """The commit id ``refs/gitrot/reconciled`` names, or None."""
    return _target(repo, RECONCILED_REF)


def read_note(repo: Repo, commit_id: str) -> str | None:
    """The gitrot note on ``commit_id``, or None; GitError when the notes are damaged."""
    import pygit2

    try:
        note = repo.lookup_note(commit_id, NOTES_REF)
    except KeyError:
        return None
    except pygit2.GitError as exc:
        raise GitError(
            f"cannot read the gitrot note of {commit_id}: {_reason(exc)}",
            where=repo_location(repo),
            hint=_DAMAGED_HINT.format(ref=NOTES_REF),
        ) from exc
    return str(note.message)


def write_note(repo: Repo, commit_id: str, text: str, *, who: tuple[str, str]) -> None:
    """Attach ``text`` as the gitrot note of ``commit_id`` (replacing one there)."""
    import pygit2

    signature = pygit2.Signature(*who)
    try:
        repo.create_note(text, signature, signature, commit_id, NOTES_REF, True)
    except (pygit2.GitError, OSError) as exc:
        raise GitError(
            f"cannot write the note: {_reason(exc)}",
            where=repo_location(repo),
            hint=_LOCK_HINT if "lock" in str(exc).lower() else None,
        ) from exc


def state_head(repo: Repo) -> str | None:
    """The commit id ``refs/gitrot/state`` names, or None."""
    return _target(repo, STATE_REF)


def write_blob(repo: Repo, data: bytes) -> str:
    return str(repo.create_blob(data))


def update_tree(
    repo: Repo, base: pygit2.Tree | None, changes: Mapping[str, str | None]
) -> str | None:
    """The id of ``base`` with ``changes`` (``{"a/b/c.json": blob id, or None to remove}``)
    applied; only the trees on the paths of changed files are written. None: empty."""
    import pygit2

    builder = repo.TreeBuilder(base) if base is not None else repo.TreeBuilder()
    groups: dict[str, dict[str, str | None]] = {}
    for path, blob in changes.items():
        head, sep, rest = path.partition("/")
        if sep:
            groups.setdefault(head, {})[rest] = blob
        elif blob is None:
            if builder.get(head) is not None:
                builder.remove(head)
        else:
            builder.insert(head, blob, pygit2.GIT_FILEMODE_BLOB)
    for name, inner in groups.items():
        entry = builder.get(name)
        old = repo[entry.id] if entry is not None and entry.type_str == "tree" else None
        tree = update_tree(repo, old, inner)  # type: ignore[arg-type]
        if tree is None:
            if entry is not None:
                builder.remove(name)
        else:
            builder.insert(name, tree, pygit2.GIT_FILEMODE_TREE)
    if len(builder) == 0:
        return None
    return str(builder.write())


def commit_state(  # noqa: PLR0917
    repo: Repo,
    tree: str,
    parent: str | None,
    message: str,
    who: tuple[str, str],
    sign: Callable[[bytes], str] | None,
) -> str:
    """A new state commit (not yet on the ref), signed with ``sign`` (the armored SSH
    signature of the commit's bytes) when given."""
    import pygit2

    signature = pygit2.Signature(*who)
    parents: list[str | pygit2.Oid] = [parent] if parent else []
    try:
        if sign is None:
            return str(repo.create_commit(None, signature, signature, message, tree, parents))
        # the commit's text (pygit2's stubs say Oid; it is the text), signed, then stored
        content = str(repo.create_commit_string(signature, signature, message, tree, parents))
        armored = sign(content.encode("utf-8"))
        return str(repo.create_commit_with_signature(content, armored, "gpgsig"))
    except (pygit2.GitError, OSError) as exc:
        raise GitError(
            f"cannot write the state commit: {_reason(exc)}", where=repo_location(repo)
        ) from exc


def move_state(repo: Repo, new: str, old: str | None) -> None:
    """Move ``refs/gitrot/state`` from ``old`` to ``new`` atomically (:class:`LostRace`)."""
    _update_ref(repo, STATE_REF, new, old)


def advance(repo: Repo, new: str, old: str | None) -> None:
    """Move ``refs/gitrot/reconciled`` from ``old`` (None: absent) to ``new``, atomically;
    :class:`LostRace` when it no longer names ``old``."""
    _update_ref(repo, RECONCILED_REF, new, old)


def _update_ref(repo: Repo, name: str, new: str, old: str | None) -> None:
    done = _git(repo, ["update-ref", name, new, old or _ZERO])
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        locked = re.search(r"Unable to create '([^']+\.lock)'", stderr)
        if locked is not None:
            raise GitError(
                f"cannot move {name}: its lock file {locked.group(1)} exists",
                where=repo_location(repo),
                hint=_LOCK_HINT,
            )
        raise LostRace(
            f"{name} moved while reconciling",
            where=repo_location(repo),
            hint="another reconciler ran at the same time; run again",
        )


def fetch(repo: Repo, remote: str) -> None:
    """Replace the local gitrot refs with the remote's (absent there: left alone)."""
    refspecs = [f"+{name}:{name}" for name in REFS]
    done = _git(repo, ["fetch", "--quiet", remote, *refspecs])
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        if "couldn't find remote ref" in stderr:
            for spec in refspecs:  # fetch each that exists
                _git(repo, ["fetch", "--quiet", remote, spec])
            return
        raise GitError(f"git fetch {remote} failed: {_first(stderr)}", where=repo_location(repo))


def remote_refs(repo: Repo, remote: str) -> dict[str, str]:
    """``{ref: id}`` of the gitrot refs on ``remote``."""
    done = _git(repo, ["ls-remote", remote, *REFS])
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        raise GitError(
            f"git ls-remote {remote} failed: {_first(stderr)}", where=repo_location(repo)
        )
    found: dict[str, str] = {}
    for line in done.stdout.decode().splitlines():
        oid, _, name = line.partition("\t")
        found[name] = oid
    return found


def push(repo: Repo, remote: str, expected: dict[str, str]) -> None:
    """Push the local gitrot refs to ``remote`` if the remote's are still ``expected``
    (``{ref: id}``, an absent ref meaning it did not exist); :class:`LostRace` otherwise."""
    args = ["push", "--quiet", "--atomic", "--porcelain"]
    names = [name for name in REFS if _exists(repo, name)]
    if not names:  # nothing to send (a bare ``git push REMOTE`` would push the branch)
        return
    for name in names:
        args.append(f"--force-with-lease={name}:{expected.get(name, '')}")
    args += [remote, *(f"{name}:{name}" for name in names)]
    done = _git(repo, args)
    if done.returncode == 0:
        return
    text = (done.stdout + done.stderr).decode("utf-8", "replace")
    if "stale info" in text or "rejected" in text or "fetch first" in text:
        raise LostRace(
            f"another reconciler pushed to {remote} first",
            where=repo_location(repo),
            hint="fetched again and retried; if this persists, run again",
        )
    raise GitError(f"git push {remote} failed: {_first(text)}", where=repo_location(repo))


def _exists(repo: Repo, name: str) -> bool:
    return _target(repo, name) is not None


def _target(repo: Repo, name: str) -> str | None:
    """The id the ref ``name`` names; None when there is none; GitError when it is damaged
    (never taken for absent: the reconciler would redo what it recorded)."""
    import pygit2

    try:
        ref = repo.lookup_reference(name)
    except (KeyError, ValueError):
        return None
    except pygit2.GitError as exc:
        raise GitError(
            f"cannot read {name}: {_reason(exc)}",
            where=repo_location(repo),
            hint=_DAMAGED_HINT.format(ref=name),
        ) from exc
    return str(ref.target)


def _reason(exc: BaseException) -> str:
    """libgit2's message, without a KeyError's quotes or a trailing colon."""
    text = str(exc.args[0]) if exc.args else str(exc)
    return text.strip().rstrip(":").strip() or type(exc).__name__


def _git(repo: Repo, args: list[str]) -> subprocess.CompletedProcess[bytes]:
    """``git ARGS`` on ``repo``, within 5 minutes (a push or fetch may wait on the network)."""
    return run_git(args, git_dir=repo.path, timeout=300)


def _first(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
