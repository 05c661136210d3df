"""What the reconciler records: its signed state (``refs/gitrot/state``) and one note per run.

The state is a commit chain; each commit is signed by the reconciler (``.gitrot/signing.key``;
the public half is ``reconciler.signing_key`` in gitrot.yaml) and its tree is::

    state.json                 {"gitrot_state": 1, "owner_key": "<id of the ownership key>"}
    intents/<path>.yaml        the intent files (blob ids) applied and delivered: the target
                               commit's secrets/ tree, but for the intents not settled there
    secrets/<name>.json        one small file per secret (below)
    owners/<hh>.json           {"<hash of (backend, ref)>": "<name>"}: which secret wrote a
                               location; a keyed hash, never a ref

A secret's file: ``{"name", "blob", "version", "backend", "backend_version_id", "key",
"deliveries": {"<trigger>": {"delivery_id", "ok", "at", "attempts"}}, "owns": [hash]}``.
``intents/`` is what makes a no-op run cheap: when it equals the target's ``secrets/``
tree nothing is loaded; otherwise only the files whose blob id differs are. Unchanged
secrets share git objects with the previous state (and ``intents/`` with the commits).

A state that is missing, unsigned, signed by another key, corrupt or of an unknown format
is not trusted: the run compares every intent with the backend (:func:`load_state` says why
in one line). The note on each reconciled commit (``refs/notes/gitrot``) says what one run
did::

    {"gitrot_note": 2, "commit": "<id>", "previous": "<id>|null", "state": "<id>|null",
     "reconciler": {"host", "user", "recipient"}, "started_at", "finished_at",
     "interrupted": false,
     "applied":    [{"name", "version", "backend", "backend_version_id",
                     "idempotency_key", "written_at", "found", "superseded"}],
     "deliveries": [{"name", "version", "trigger", "delivery_id", "ok", "attempts",
                     "detail", "at"}],
     "refused":    [{"name", "version", "reason"}]}

An item rotated at the source adds ``rotator``, ``steps`` and, when they apply,
``abandoned``, ``step`` (where a refused rotation stopped) and ``revoke_failed`` to its
record (:class:`gitrot.reconcile.rotation.Progress`). Never a value, never a ref.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gitrot.git import sshsig
from gitrot.git.state import STATE_REF, state_head

if TYPE_CHECKING:  # pygit2 is heavy: its types only
    import pygit2

    from gitrot.git.repository import Repo

NOTE_VERSION = 2
STATE_VERSION = 1
META = "state.json"
SETTLED = "intents"
ENTRIES = "secrets"
OWNERS = "owners"


class Entry:
    """What the state knows of one secret."""

    __slots__ = ("backend", "backend_id", "blob", "deliveries", "key", "owns", "version")

    def __init__(
        self,
        *,
        blob: str,
        version: int,
        backend: str,
        backend_id: str,
        key: str,
        deliveries: Mapping[str, Mapping[str, object]] | None = None,
        owns: tuple[str, ...] = (),
    ) -> None:
        self.blob = blob
        self.version = version
        self.backend = backend
        self.backend_id = backend_id
        self.key = key
        self.deliveries: dict[str, dict[str, object]] = {
            name: dict(value) for name, value in (deliveries or {}).items()
        }
        self.owns = owns

    def delivered(self, version: int) -> frozenset[str]:
        """The triggers told about ``version`` with success."""
        if version != self.version:
            return frozenset()
        return frozenset(name for name, d in self.deliveries.items() if d.get("ok") is True)

    def as_dict(self, name: str) -> dict[str, object]:
        return {
            "name": name,
            "blob": self.blob,
            "version": self.version,
            "backend": self.backend,
            "backend_version_id": self.backend_id,
            "key": self.key,
            "deliveries": {n: self.deliveries[n] for n in sorted(self.deliveries)},
            "owns": sorted(self.owns),
        }

    @classmethod
    def from_dict(cls, data: object) -> Entry:
        """ValueError unless ``data`` is an entry as :meth:`as_dict` writes it."""
        if not isinstance(data, dict):
            raise ValueError("not an object")
        version = data.get("version")
        if type(version) is not int or version < 1:
            raise ValueError("bad version")
        texts = [data.get(k) for k in ("blob", "backend", "backend_version_id", "key")]
        if not all(isinstance(t, str) for t in texts):
            raise ValueError("bad field")
        deliveries = data.get("deliveries", {})
        owns = data.get("owns", [])
        if not isinstance(deliveries, dict) or not all(
            isinstance(v, dict) for v in deliveries.values()
        ):
            raise ValueError("bad deliveries")
        if not isinstance(owns, list) or not all(isinstance(o, str) for o in owns):
            raise ValueError("bad owns")
        blob, backend, backend_id, key = (str(t) for t in texts)
        return cls(
            blob=blob,
            version=version,
            backend=backend,
            backend_id=backend_id,
            key=key,
            deliveries=deliveries,
            owns=tuple(owns),
        )


def entry_path(name: str) -> str:
    return f"{ENTRIES}/{name}.json"


def owner_shard(digest: str) -> str:
    return f"{OWNERS}/{digest[:2]}.json"


def owner_key(identity_text: str) -> bytes:
    """The key of the ownership hashes: derived from the reconciler's identity, so the
    hashes in git cannot be matched against guessed refs by anyone without it."""
    secrets = sorted(
        line.strip()
        for line in identity_text.splitlines()
        if line.strip().upper().startswith("AGE-SECRET-KEY-")
    )
    return hashlib.sha256(("gitrot owner key 1\0" + "\0".join(secrets)).encode()).digest()


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"gitrot owner key id\0" + key).hexdigest()[:16]


def owner_hash(key: bytes, backend: str, ref: str) -> str:
    """The keyed hash of one backend location (never the ref itself)."""
    return hmac.new(key, f"{backend}\0{ref}".encode(), hashlib.sha256).hexdigest()


class State:
    """The state as read from ``refs/gitrot/state`` (``trusted`` when it verified)."""

    __slots__ = (
        "_entries", "_owners", "head", "owner_key", "owners_ok", "repo", "tree", "trusted",
    )  # fmt: skip

    def __init__(
        self,
        repo: Repo,
        *,
        head: str | None,
        tree: pygit2.Tree | None,
        trusted: bool,
        owner_key: bytes,
    ) -> None:
        self.repo = repo
        self.head = head
        self.tree = tree if trusted else None
        self.trusted = trusted
        self.owner_key = owner_key
        self.owners_ok = trusted  # False: the ownership hashes were made with another key
        self._entries: dict[str, Entry | None] = {}
        self._owners: dict[str, dict[str, str]] = {}

    def settled(self) -> pygit2.Tree | None:
        """The ``intents/`` tree (the applied and delivered intent files), or None."""
        return self._subtree(SETTLED)

    def entry(self, name: str) -> Entry | None:
        if name not in self._entries:
            self._entries[name] = self._load_entry(name)
        return self._entries[name]

    def owner(self, digest: str) -> str | None:
        """The secret that wrote the location with this hash, per the state."""
        if not self.owners_ok:
            return None
        shard = owner_shard(digest)
        if shard not in self._owners:
            self._owners[shard] = self.load_map(shard)
        return self._owners[shard].get(digest)

    def blob_at(self, path: str) -> str | None:
        if self.tree is None:
            return None
        try:
            item = self.tree[path]
        except (KeyError, ValueError):
            return None
        return str(item.id) if item.type_str == "blob" else None

    def _subtree(self, name: str) -> pygit2.Tree | None:
        import pygit2

        if self.tree is None:
            return None
        try:
            item = self.tree[name]
        except KeyError:
            return None
        return self.repo[item.id] if isinstance(item, pygit2.Tree) else None  # type: ignore[return-value]

    def _load_entry(self, name: str) -> Entry | None:
        oid = self.blob_at(entry_path(name))
        if oid is None:
            return None
        try:
            return Entry.from_dict(json.loads(self.repo[oid].data))  # type: ignore[attr-defined]
        except ValueError:
            return None

    def load_map(self, path: str) -> dict[str, str]:
        oid = self.blob_at(path)
        if oid is None:
            return {}
        try:
            data = json.loads(self.repo[oid].data)  # type: ignore[attr-defined]
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): v for k, v in data.items() if isinstance(v, str)}


def load_state(repo: Repo, signing_key: str | None, owner_key: bytes) -> tuple[State, str | None]:
    """The state at ``refs/gitrot/state`` and, when it cannot be trusted, why (one line).

    Trusted only when its commit is signed by ``signing_key`` (the public key in gitrot.yaml
    at the target commit), its tree is readable and its format is this one."""
    import pygit2

    head = state_head(repo)
    untrusted = State(repo, head=head, tree=None, trusted=False, owner_key=owner_key)
    if head is None:
        return untrusted, None  # the first run: nothing to distrust
    why = f"{STATE_REF} is not trusted"
    try:
        commit = repo[head]
        if not isinstance(commit, pygit2.Commit):
            return untrusted, f"{why}: it does not name a commit"
        if signing_key is None:
            return untrusted, (
                f"{why}: gitrot.yaml has no reconciler.signing_key "
                "(run gitrot init to make one, then commit gitrot.yaml)"
            )
        signature, payload = commit.gpg_signature
        if signature is None:
            return untrusted, f"{why}: its commit {head[:12]} is not signed"
        try:
            sshsig.verify(signature, payload, signing_key)
        except sshsig.BadSignature as exc:
            return untrusted, f"{why}: its commit {head[:12]}: {exc}"
        tree = commit.tree
        meta = json.loads(repo[tree[META].id].data)
    except (KeyError, ValueError, TypeError, pygit2.GitError):
        return untrusted, f"{why}: it is corrupt or unreadable"
    if not isinstance(meta, dict) or meta.get("gitrot_state") != STATE_VERSION:
        found = meta.get("gitrot_state") if isinstance(meta, dict) else None
        return untrusted, f"{why}: format {found!r}, this gitrot reads {STATE_VERSION}"
    state = State(repo, head=head, tree=tree, trusted=True, owner_key=owner_key)
    if meta.get("owner_key") != key_id(owner_key):
        # another identity hashed the locations: its hashes cannot be checked; the
        # backend's records still can, and this run's writes start new ones
        state.owners_ok = False
        return state, (
            f"{STATE_REF}: its ownership records were made with another reconciler "
            "identity; checking locations against the backend's records only"
        )
    return state, None


def meta_text(owner_key: bytes) -> bytes:
    return (
        json.dumps({"gitrot_state": STATE_VERSION, "owner_key": key_id(owner_key)}) + "\n"
    ).encode()


def entry_text(name: str, entry: Entry) -> bytes:
    return (json.dumps(entry.as_dict(name), indent=1) + "\n").encode()


def owners_text(owners: Mapping[str, str]) -> bytes:
    return (json.dumps({k: owners[k] for k in sorted(owners)}, indent=0) + "\n").encode()


def parse_note(text: str | None) -> dict[str, object] | None:
    """A note's JSON object; None when there is none or it is not one (never an error)."""
    if text is None:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def render_note(
    *,
    commit: str,
    previous: str | None,
    state: str | None,
    reconciler: Mapping[str, str],
    started_at: str,
    finished_at: str,
    applied: list[dict[str, object]],
    deliveries: list[dict[str, object]],
    refused: list[dict[str, object]],
    interrupted: bool = False,
) -> str:
    document = {
        "gitrot_note": NOTE_VERSION,
        "commit": commit,
        "previous": previous,
        "state": state,
        "reconciler": dict(reconciler),
        "started_at": started_at,
        "finished_at": finished_at,
        "interrupted": interrupted,
        "applied": applied,
        "deliveries": deliveries,
        "refused": refused,
    }
    return json.dumps(document, indent=1) + "\n"
