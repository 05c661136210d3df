"""The main branch's history in one ``git log`` pass, and the reconciler's notes
(docs/audit.md, "How the ledger is read").

``git log --full-history --sparse`` lists every commit reachable from the main branch with
its parents (side branches included, through their merges) and, with
``--diff-merges=first-parent``, the raw changes of each under the policy's ``secrets/``: a
merge is compared with its first parent, so the first-parent commits of main show what
each brought in. The walk and the tree diffs run in git (C); its output is read as it
comes, and while git walks on, the Python side reads what the ledger needs of each commit
that changed an intent: the intent blobs (pygit2; each once, for its version and its audit
facts together), the commit itself and its approval trailers. The notes of
``refs/notes/gitrot`` are listed by one ``git notes list`` and read from the object
database.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gitrot.audit import trailers
from gitrot.codec import yaml_parse
from gitrot.codec.tree import Map
from gitrot.core.layout import SECRETS_PREFIX
from gitrot.errors import GitrotError, InputError
from gitrot.git.blobs import is_intent_file, spec_version
from gitrot.git.process import GitStream, run_git
from gitrot.git.repository import repo_location
from gitrot.git.state import NOTES_REF

if TYPE_CHECKING:  # pygit2 is imported where it is used
    from gitrot.git.repository import Repo

_APPROVED, _REVIEWED = trailers.APPROVED_BY.lower(), trailers.REVIEWED_BY.lower()
_REVIEW_KEYS = {_APPROVED: trailers.APPROVED_BY, _REVIEWED: trailers.REVIEWED_BY}
_PERSON = re.compile(rb"(.*?) ?<([^>]*)> (-?\d+)(?: [+-]\d{4})?")
_NOT_BLOB = (b"000000", b"040000", b"160000")


@dataclass(frozen=True)
class IntentChange:
    """One intent file a commit changed (against its first parent): its path, blob ids
    (None: absent on that side) and versions (None: absent or unreadable)."""

    path: str
    old_blob: str | None
    new_blob: str | None
    old_version: int | None
    new_version: int | None


@dataclass(frozen=True)
class CommitInfo:
    """What the ledger reads of one commit (times in epoch seconds)."""

    id: str
    parents: tuple[str, ...]
    author: str  # "Name <email>"
    author_time: int
    committer: str
    committer_time: int
    message: str
    signed: bool  # carries a gpgsig header (SSH or GPG)


@dataclass(frozen=True)
class Facts:
    """An intent's audit facts at one commit."""

    reason: str = ""
    emergency: bool = False
    environment: str | None = None
    rotation_class: str = ""


@dataclass
class History:
    """The main branch as the ledger reads it.

    ``first_parent``: the first-parent commits of main, oldest first (``position`` their
    index); ``introduced_by``: every reachable commit -> the first-parent commit that brought
    it into main; ``changes``: commit -> the intent files it changed (only commits with
    some), ``order`` those commits as git listed them (newest first); ``notes``: reachable
    commit -> its note (a JSON object), ``orphan_notes``: notes on commits main no longer
    reaches (history rewritten).
    """

    repo: Repo
    main: str
    tip: str
    secrets: str = SECRETS_PREFIX
    first_parent: list[str] = field(default_factory=list)
    position: dict[str, int] = field(default_factory=dict)
    introduced_by: dict[str, str] = field(default_factory=dict)
    parents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    changes: dict[str, list[IntentChange]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    notes: dict[str, dict[str, object]] = field(default_factory=dict)
    orphan_notes: list[str] = field(default_factory=list)
    _commits: dict[str, CommitInfo] = field(default_factory=dict)
    _facts: dict[str, Facts] = field(default_factory=dict)
    _reviews: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    _raw: dict[str, bytes] = field(default_factory=dict)

    def commit(self, commit_id: str) -> CommitInfo:
        """One commit, read once from the object database."""
        found = self._commits.get(commit_id)
        if found is None:
            data = self._raw[commit_id] = self.repo.odb.read(commit_id)[1]
            found = parse_commit(commit_id, data)
            self._commits[commit_id] = found
        return found

    def raw_commit(self, commit_id: str) -> tuple[int, bytes]:
        """``(object type, raw object)``, as ``repo.odb.read`` gives it: once per commit
        :meth:`commit` read, from memory."""
        raw = self._raw.get(commit_id)
        if raw is None:
            kind, data = self.repo.odb.read(commit_id)
            return int(kind), bytes(data)
        return 1, raw  # GIT_OBJECT_COMMIT: commit() read it as one

    def facts(self, blob: str) -> Facts:
        """The audit facts of the intent in ``blob``."""
        found = self._facts.get(blob)
        if found is None:
            found = intent_facts(self.repo.odb.read(blob)[1])
            self._facts[blob] = found
        return found

    def keep_facts(self, blob: str, data: bytes) -> None:
        """The audit facts of ``blob``, whose ``data`` the caller read anyway."""
        if blob not in self._facts:
            self._facts[blob] = intent_facts(data)

    def reviews(self, commit_id: str) -> list[tuple[str, str]]:
        """The ``Approved-by:`` and ``Reviewed-by:`` trailers of a commit's message, every
        occurrence in order, as (the key as :mod:`gitrot.audit.trailers` names it, value)."""
        found = self._reviews.get(commit_id)
        if found is None:
            message = self.commit(commit_id).message
            lowered = message.lower()  # most messages have neither: no trailer parse
            found = []
            if _APPROVED in lowered or _REVIEWED in lowered:
                found = [
                    (_REVIEW_KEYS[t.key.lower()], t.value)
                    for t in trailers.parse(message)
                    if t.key.lower() in _REVIEW_KEYS
                ]
            self._reviews[commit_id] = found
        return found


def read_history(repo: Repo, main: str, *, prefix: str = "") -> History:
    """The history of ``main`` (a branch name or any revision) and the notes; ``prefix`` is
    where the policy repository sits in the git tree (``""`` or ``"infra/policy/"``).
    InputError when ``main`` names no commit."""
    tip = resolve_main(repo, main)
    history = History(repo=repo, main=main, tip=tip, secrets=prefix + SECRETS_PREFIX)
    _walk(history, history.secrets)
    _first_parents(history)
    _read_notes(history)
    return history


def resolve_main(repo: Repo, main: str) -> str:
    result = run_git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{main}^{{commit}}"],
        git_dir=repo.path,
    )
    if result.returncode != 0:
        raise InputError(
            f"--main {main!r} names no commit in this repository",
            where=repo_location(repo),
            hint="give the branch the reconciler follows, e.g. --main main",
        )
    return result.stdout.decode().strip()


def _walk(history: History, secrets: str) -> None:
    """Stream git's output, reading each chunk's records as they arrive: the Python work
    (the changed intents' blobs, the commits that changed them) runs while git walks on."""
    args = ["log", history.tip, "--full-history", "--sparse", "--no-renames", "--raw"]
    args += ["--no-abbrev", "-z", "--no-color", "--no-show-signature", "--no-mailmap"]
    args += ["--diff-merges=first-parent", "--no-ext-diff", "--format=%x01%H%x00%P%x00"]
    args += ["--", f":(top,literal){secrets}"]
    reader = _Records(history)
    with GitStream(args, git_dir=history.repo.path, where=repo_location(history.repo)) as git:
        pending: list[bytes] = []  # the record that goes on in the next chunk
        for chunk in git.chunks():
            cut = chunk.rfind(b"\x01")  # each record starts with one: the last may go on
            if cut < 0:
                pending.append(chunk)
                continue
            pending.append(chunk[:cut])
            reader.read(b"".join(pending))
            pending = [chunk[cut:]]
        reader.read(b"".join(pending))


class _Records:
    """The records of :func:`_walk`'s ``git log``: ``\\x01id\\0parents\\0``, then the raw
    changes (``\\0:modes ids status\\0path``) of a commit that changed something."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.versions: dict[bytes, int | None] = {}
        self.odb = history.repo.odb

    def version(self, hex_id: bytes) -> int | None:
        """The blob's ``spec.version``; its audit facts are kept too, from the same read
        (git lists newest first: a change's old side is mostly an older change's new one)."""
        versions = self.versions
        if hex_id in versions:
            return versions[hex_id]
        blob = hex_id.decode()
        data = self.odb.read(blob)[1]
        found = versions[hex_id] = spec_version(data)
        if found is not None:  # no version, no row: no facts
            self.history.keep_facts(blob, data)
        return found

    def read(self, block: bytes) -> None:
        history = self.history
        parents = history.parents
        for record in block.split(b"\x01"):
            if not record:
                continue
            fields = record.split(b"\0")
            current = fields[0].decode()
            parents[current] = tuple(fields[1].decode().split())
            if len(fields) <= 4:  # id, parents and the two empty fields: no changes
                continue
            changes: list[IntentChange] = []
            for at in range(2, len(fields) - 1):
                token = fields[at]
                if token[:1] != b":" and token[:2] != b"\n:":
                    continue
                path = fields[at + 1].decode("utf-8", "surrogateescape")
                if not is_intent_file(path):
                    continue
                old_mode, new_mode, old_hex, new_hex, _ = token.strip().split(b" ", 4)
                old = None if old_mode[1:] in _NOT_BLOB else old_hex
                new = None if new_mode in _NOT_BLOB else new_hex
                old_version = None if old is None else self.version(old)
                new_version = None if new is None else self.version(new)
                changes.append(
                    IntentChange(
                        path,
                        None if old is None else old.decode(),
                        None if new is None else new.decode(),
                        old_version,
                        new_version,
                    )
                )
            if changes:
                history.changes[current] = changes
                history.order.append(current)
                history.reviews(current)  # the commit, read now: git is still walking


def _first_parents(history: History) -> None:
    """The first-parent chain of main, and which of its commits brought in each commit."""
    parents = history.parents
    chain: list[str] = []
    commit: str | None = history.tip
    while commit is not None and commit in parents:
        chain.append(commit)
        above = parents[commit]
        commit = above[0] if above else None
    chain.reverse()
    history.first_parent = chain
    history.position = {c: i for i, c in enumerate(chain)}
    brought = history.introduced_by
    for merge in chain:
        brought[merge] = merge
        stack = list(parents[merge][1:])
        while stack:
            side = stack.pop()
            if side in brought or side not in parents:
                continue
            brought[side] = merge
            stack.extend(parents[side])


def _read_notes(history: History) -> None:
    result = run_git(["notes", "--ref", NOTES_REF, "list"], git_dir=history.repo.path)
    if result.returncode != 0:
        return  # no notes ref
    odb = history.repo.odb
    for line in result.stdout.decode().splitlines():
        blob, _, commit = line.partition(" ")
        if commit not in history.parents:
            history.orphan_notes.append(commit)
            continue
        try:
            data = json.loads(odb.read(blob)[1])
        except (ValueError, RecursionError, KeyError):
            continue
        if isinstance(data, dict):
            history.notes[commit] = data
    history.orphan_notes.sort()


def parse_commit(commit_id: str, data: bytes) -> CommitInfo:
    """A raw commit object: parents, author, committer, message, whether it is signed."""
    head, _, body = data.partition(b"\n\n")
    parents: list[str] = []
    author = committer = (b"", b"", 0)
    signed = False
    encoding = "utf-8"
    for line in head.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == b"parent":
            parents.append(value.decode())
        elif key == b"author":
            author = _person(value)
        elif key == b"committer":
            committer = _person(value)
        elif key in (b"gpgsig", b"gpgsig-sha256"):
            signed = True
        elif key == b"encoding":
            encoding = value.decode("ascii", "replace")
    try:
        message = body.decode(encoding, "replace")
    except LookupError:
        message = body.decode("utf-8", "replace")
    return CommitInfo(
        id=commit_id,
        parents=tuple(parents),
        author=_who(author),
        author_time=author[2],
        committer=_who(committer),
        committer_time=committer[2],
        message=message,
        signed=signed,
    )


def _person(value: bytes) -> tuple[bytes, bytes, int]:
    match = _PERSON.fullmatch(value)
    if match is None:
        return value, b"", 0
    return match.group(1), match.group(2), int(match.group(3))


def _who(person: tuple[bytes, bytes, int]) -> str:
    name = person[0].decode("utf-8", "replace")
    return f"{name} <{person[1].decode('utf-8', 'replace')}>"


def intent_facts(data: bytes) -> Facts:
    """reason, emergency, environment and class of an intent: one line scan of the layout
    gitrot writes (``metadata:`` and ``spec:`` blocks, plain scalars), the YAML parser for
    anything else."""
    fields: dict[bytes, bytes] = {}
    block = b""
    indent = 0
    for line in data.split(b"\n"):
        if not line or line[:1] == b"#":
            continue
        if line[:1] != b" ":
            block = line.split(b":", 1)[0]
            if block == b"sops":
                break
            indent = 0
            continue
        if block not in (b"metadata", b"spec"):
            continue
        stripped = line.lstrip(b" ")
        width = len(line) - len(stripped)
        indent = indent or width
        if width != indent:
            continue
        key, colon, value = stripped.partition(b":")
        if colon and key in _FACTS:
            fields[key] = value.split(b" #", 1)[0].strip()
    values = list(fields.values())
    if (
        b"reason" not in fields
        or b"class" not in fields
        or any(v[:1] in _INDICATORS or b"\t" in v for v in values)
    ):
        return _parsed_facts(data)
    environment = fields.get(b"environment")
    return Facts(
        reason=fields[b"reason"].decode("utf-8", "replace"),
        emergency=fields.get(b"emergency") == b"true",
        environment=None if environment is None else environment.decode("utf-8", "replace"),
        rotation_class=fields[b"class"].decode("utf-8", "replace"),
    )


_FACTS = frozenset((b"reason", b"emergency", b"environment", b"class"))
_INDICATORS = (b"", b"'", b'"', b"[", b"{", b"&", b"*", b"!", b"|", b">", b"%", b"@", b"`")


def _parsed_facts(data: bytes) -> Facts:
    try:
        docs = yaml_parse.parse(data.decode("utf-8"))
    except (GitrotError, UnicodeDecodeError, ValueError):
        return Facts()
    top = docs[0] if docs and isinstance(docs[0], Map) else None
    spec = top.get("spec") if top is not None else None
    meta = top.get("metadata") if top is not None else None
    spec = spec if isinstance(spec, Map) else Map()
    meta = meta if isinstance(meta, Map) else Map()
    environment = meta.get("environment")
    return Facts(
        reason=str(spec.get("reason") or ""),
        emergency=spec.get("emergency") is True,
        environment=str(environment) if environment is not None else None,
        rotation_class=str(meta.get("class") or ""),
    )
