"""The reconciler's state in git: a note per reconciled commit and a ref to the last one.

- ``refs/notes/gitrot``: a JSON note on each reconciled commit (what was applied, where,
  when, by whom; never a value), written with pygit2;
- ``refs/gitrot/reconciled``: the last reconciled commit, moved with compare-and-swap
  (``git update-ref NEW OLD``) so two reconcilers sharing a repository never lose an update;
- :func:`push` sends both to a remote with ``--force-with-lease`` on each (a lost race is a
  :class:`LostRace`: the caller fetches, re-reads and tries again); :func:`fetch` brings the
  remote's into the local refs.

Also :func:`list_blobs`, the intents of a commit without a checkout.
"""

from __future__ import annotations

import subprocess

from gitrot.errors import GitError

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from gitrot.git.repo import Commit, Repo

NOTES_REF = "refs/notes/gitrot"
RECONCILED_REF = "refs/gitrot/reconciled"
_ZERO = "0" * 40


_LOCK_HINT = (
    "a git process holds the lock, or one was killed while holding it: if none runs, "
    "remove the .lock file it names"
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
    try:
        ref = repo.lookup_reference(RECONCILED_REF)
    except (KeyError, ValueError):
        return None
    return str(ref.target)


def read_note(repo: Repo, commit_id: str) -> str | None:
    """The gitrot note on ``commit_id``, or None."""
    try:
        note = repo.lookup_note(commit_id, NOTES_REF)
    except KeyError:
        return None
    return str(note.message)


def write_note(repo: Repo, commit_id: str, text: str, *, who: tuple[str, str]) -> None:
    """Attach ``text`` as the gitrot note of ``commit_id`` (replacing one there)."""
    import pygit2

    signature = pygit2.Signature(*who)
    try:
        repo.create_note(text, signature, signature, commit_id, NOTES_REF, True)
    except (pygit2.GitError, OSError) as exc:
        raise GitError(
            f"cannot write the note: {exc}",
            where=_where(repo),
            hint=_LOCK_HINT if "lock" in str(exc).lower() else None,
        ) from exc


def advance(repo: Repo, new: str, old: str | None) -> None:
    """Move ``refs/gitrot/reconciled`` from ``old`` (None: absent) to ``new``, atomically;
    :class:`LostRace` when it no longer names ``old``."""
    done = _git(repo, ["update-ref", RECONCILED_REF, new, old or _ZERO], check=False)
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        import re

        locked = re.search(r"Unable to create '([^']+\.lock)'", stderr)
        if locked is not None:
            raise GitError(
                f"cannot move {RECONCILED_REF}: its lock file {locked.group(1)} exists",
                where=_where(repo),
                hint=_LOCK_HINT,
            )
        raise LostRace(
            f"{RECONCILED_REF} moved while reconciling",
            where=_where(repo),
            hint="another reconciler ran at the same time; run again",
        )


def fetch(repo: Repo, remote: str) -> None:
    """Replace the local gitrot refs with the remote's (absent there: left alone)."""
    refspecs = [f"+{NOTES_REF}:{NOTES_REF}", f"+{RECONCILED_REF}:{RECONCILED_REF}"]
    done = _git(repo, ["fetch", "--quiet", remote, *refspecs], check=False)
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        if "couldn't find remote ref" in stderr:
            for spec in refspecs:  # fetch each that exists
                _git(repo, ["fetch", "--quiet", remote, spec], check=False)
            return
        raise GitError(f"git fetch {remote} failed: {_first(stderr)}", where=_where(repo))


def remote_refs(repo: Repo, remote: str) -> dict[str, str]:
    """``{ref: id}`` of the gitrot refs on ``remote``."""
    done = _git(repo, ["ls-remote", remote, NOTES_REF, RECONCILED_REF], check=False)
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        raise GitError(f"git ls-remote {remote} failed: {_first(stderr)}", where=_where(repo))
    found: dict[str, str] = {}
    for line in done.stdout.decode().splitlines():
        oid, _, name = line.partition("\t")
        found[name] = oid
    return found


def push(repo: Repo, remote: str, expected: dict[str, str]) -> None:
    """Push the local gitrot refs to ``remote`` if the remote's are still ``expected``
    (``{ref: id}``, an absent ref meaning it did not exist); :class:`LostRace` otherwise."""
    args = ["push", "--quiet", "--atomic", "--porcelain"]
    for name in (NOTES_REF, RECONCILED_REF):
        args.append(f"--force-with-lease={name}:{expected.get(name, '')}")
    args += [remote, f"{NOTES_REF}:{NOTES_REF}", f"{RECONCILED_REF}:{RECONCILED_REF}"]
    done = _git(repo, args, check=False)
    if done.returncode == 0:
        return
    text = (done.stdout + done.stderr).decode("utf-8", "replace")
    if "stale info" in text or "rejected" in text or "fetch first" in text:
        raise LostRace(
            f"another reconciler pushed to {remote} first",
            where=_where(repo),
            hint="fetched again and retried; if this persists, run again",
        )
    raise GitError(f"git push {remote} failed: {_first(text)}", where=_where(repo))


def _git(repo: Repo, args: list[str], *, check: bool) -> subprocess.CompletedProcess[bytes]:
    import shutil

    from gitrot.git.repo import no_git_env

    executable = shutil.which("git")
    if executable is None:
        raise GitError("git is not installed", hint="install git; the reconciler needs it")
    argv = [executable, f"--git-dir={repo.path}", *args]
    done = subprocess.run(argv, env=no_git_env(), capture_output=True, check=False, timeout=300)
    if check and done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        raise GitError(f"git {args[0]} failed: {_first(stderr)}", where=_where(repo))
    return done


def _first(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _where(repo: Repo) -> str:
    return str(repo.workdir or repo.path).rstrip("/")
