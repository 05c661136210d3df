"""What git says at the target commit: the intents to apply, read from git objects.

Only intents whose file differs from the one the trusted state settled (applied and
delivered: its ``intents/`` tree) are loaded: a no-op run on 10,000 intents compares two
tree ids; without a trusted state every intent is.
Those are parsed, judged by the policy at the target commit (the built-in pack and the
rule files there; an error finding refuses the intent: fail closed), and their
``spec.target.ref`` decrypted with the reconciler's identity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from gitrot.codec.tree import Map
from gitrot.core.findings import Severity
from gitrot.core.layout import (
    CONFIG_FILE,
    SECRETS_DIR,
    intent_path,
    is_intent_path,
    name_of_path,
    relative_to_secrets,
)
from gitrot.core.models import Config, RotationIntent
from gitrot.errors import ConfigError, GitrotError, InputError
from gitrot.files import repo as loader
from gitrot.files.fields import decode, parse_root
from gitrot.git.repository import read_blob
from gitrot.git.state import list_blobs, read_object, reconciled
from gitrot.reconcile.plan import Desired
from gitrot.reconcile.values import open_tree_field

if TYPE_CHECKING:  # pygit2 is heavy: its types only
    import pygit2

    from gitrot.git.repository import Commit, Repo


def read_config(commit: Commit, prefix: str) -> Config:
    data = read_blob(commit, prefix + CONFIG_FILE)
    if data is None:
        raise ConfigError(
            f"the commit {str(commit.id)[:12]} has no gitrot.yaml",
            where=prefix + CONFIG_FILE,
            hint="reconcile a commit of the policy repository",
        )
    return loader.parse_config(data, CONFIG_FILE)


def intent_blobs(commit: Commit, prefix: str) -> dict[str, str]:
    """``{intent path (policy-relative): blob id}`` at ``commit``."""
    found = list_blobs(commit, prefix + SECRETS_DIR)
    return {
        path[len(prefix) :]: blob
        for path, blob in found.items()
        if is_intent_path(path[len(prefix) :])
    }


def secrets_tree(repo: Repo, commit: Commit, prefix: str) -> pygit2.Tree | None:
    """The ``secrets/`` tree at ``commit`` (None without one)."""
    import pygit2

    try:
        item = commit.tree[prefix + SECRETS_DIR]
    except KeyError:
        return None
    return repo[item.id] if isinstance(item, pygit2.Tree) else None  # type: ignore[return-value]


def changed_intents(
    repo: Repo, new: pygit2.Tree | None, old: pygit2.Tree | None
) -> tuple[dict[str, str], list[str]]:
    """``({intent path: blob id}, [removed intent paths])``: the intents of the ``secrets/``
    tree ``new`` whose blob differs from the settled tree ``old`` (the state's
    ``intents/``), and those ``old`` has and ``new`` does not. Only differing subtrees are
    read: equal trees (the no-op run) cost one comparison."""
    changed: dict[str, str] = {}
    removed: list[str] = []
    stack: list[tuple[str, pygit2.Tree | None, pygit2.Tree | None]] = [(SECRETS_DIR, new, old)]
    while stack:
        folder, here, there = stack.pop()
        if here is not None and there is not None and here.id == there.id:
            continue
        mine = {item.name: item for item in here} if here is not None else {}
        theirs = {item.name: item for item in there} if there is not None else {}
        for name in mine.keys() | theirs.keys():
            a, b = mine.get(name), theirs.get(name)
            if a is not None and b is not None and a.id == b.id:
                continue
            path = f"{folder}/{name}"
            sub_a = repo[a.id] if a is not None and a.type_str == "tree" else None
            sub_b = repo[b.id] if b is not None and b.type_str == "tree" else None
            if sub_a is not None or sub_b is not None:
                stack.append((path, sub_a, sub_b))  # type: ignore[arg-type]
            if a is not None and a.type_str == "blob" and is_intent_path(path):
                changed[path] = str(a.id)
            elif b is not None and b.type_str == "blob" and is_intent_path(path):
                removed.append(path)
    return changed, sorted(removed)


def load(  # noqa: PLR0917 - the pieces of one read, in the order they are found
    repo: Repo,
    commit: Commit,
    prefix: str,
    paths: list[str],
    blobs: Mapping[str, str],
    config: Config,
    identities: Sequence[object],
    *,
    now: datetime,
    settled: pygit2.Tree | None = None,
) -> list[Desired]:
    """The desired state of ``paths``: each intent loaded, judged and its ref opened; an
    intent that cannot be is a Desired with a ``problem`` (refused, never skipped).
    ``settled`` (the trusted state's ``secrets/`` tree of applied intents) is what the
    re-check compares each intent with."""
    intents: list[RotationIntent] = []
    trees: dict[str, Map] = {}
    broken: list[Desired] = []
    for path in paths:
        data = read_object(repo, blobs[path])
        try:
            # parsed once: the model and the decryption of its ref share the tree
            root = parse_root(
                decode(data, path, loader.MAX_FILE_BYTES, InputError), path, InputError
            )
            intent = loader.intent_from_root(root, path)
        except GitrotError as exc:
            name = name_of_path(path) or path
            broken.append(_refused(name, path, blobs[path], f"does not load: {exc.render()}"))
            continue
        intents.append(intent)
        trees[path] = root
    problems = _judge(repo, commit, prefix, intents, blobs, config, now=now, settled=settled)
    desired = broken
    for intent in intents:
        problem = problems.get(intent.path, "")
        ref = ""
        if not problem:
            try:
                ref = _open_ref(trees[intent.path], intent.path, identities)
            except GitrotError as exc:
                problem = f"cannot open spec.target.ref: {exc.message}"
        desired.append(
            Desired(
                name=intent.name,
                path=intent.path,
                blob=blobs[intent.path],
                version=intent.version,
                backend=intent.backend,
                ref=ref,
                value=intent.value,
                consumers=intent.consumers,
                problem=problem,
                rotator=intent.rotator or "",
                rotator_config=config.rotators.get(intent.rotator) if intent.rotator else None,
            )
        )
    return desired


def open_intent(
    commit: Commit, prefix: str, name: str, identities: Sequence[object]
) -> tuple[RotationIntent, str]:
    """The intent of the secret ``name`` at ``commit`` and its ref, opened with
    ``identities`` (for a rotator's ``read_secret``: another secret's current value);
    InputError when the commit has no such intent."""
    path = intent_path(name)
    data = read_blob(commit, prefix + path)
    if data is None:
        raise InputError(
            f"no secret {name!r} at {str(commit.id)[:12]}",
            where=path,
            hint="name a secret of the policy repository (secrets/<name>.yaml)",
        )
    root = parse_root(decode(data, path, loader.MAX_FILE_BYTES, InputError), path, InputError)
    return loader.intent_from_root(root, path), _open_ref(root, path, identities)


def _refused(name: str, path: str, blob: str, problem: str) -> Desired:
    return Desired(
        name=name,
        path=path,
        blob=blob,
        version=0,
        backend="",
        ref="",
        value=None,
        consumers=(),
        problem=problem,
    )


def _open_ref(root: Map, path: str, identities: Sequence[object]) -> str:
    return open_tree_field(root, path, identities, "spec.target.ref")


def _judge(  # noqa: PLR0917 - what one judgement reads
    repo: Repo,
    commit: Commit,
    prefix: str,
    intents: list[RotationIntent],
    blobs: Mapping[str, str],
    config: Config,
    *,
    now: datetime,
    settled: pygit2.Tree | None = None,
) -> dict[str, str]:
    """``{path: why refused}`` for intents with an unwaived error finding, judged as the PR
    check judges (:func:`gitrot.judge.recheck.judge_commits`): the base is the last reconciled
    commit (none: no base), the head ``commit``; the rules of both commits' policies, the
    intents' history from git, ``commit``'s waivers. Each intent is compared with what was
    last applied when the trusted state says (``settled``): an intent refused once is not
    applied on the next run because the reconciled commit moved past it. What needs the pull
    request's facts (approvals) is not evaluated: they are not known after the merge."""
    # the policy engine loads only when an intent changed: a no-op run compares tree ids
    from gitrot.judge.recheck import judge_commits

    if not intents:
        return {}
    base_id = reconciled(repo)
    base = None
    if base_id is not None and base_id != str(commit.id):
        import pygit2

        found = repo.get(base_id)
        base = found.peel(pygit2.Commit) if found is not None else None
    elif base_id is not None:
        base = commit
    texts = {i.path: read_object(repo, blobs[i.path]) for i in intents}
    befores = _settled_texts(repo, settled, intents) if settled is not None else None
    judged = judge_commits(
        repo, base, commit, prefix, intents, texts, now=now, config=config, befores=befores
    )
    problems: dict[str, str] = {}
    for path, findings in judged.items():
        for finding in findings:
            if finding.severity == Severity.ERROR and not finding.waived:
                problems.setdefault(path, f"[{finding.rule_id}] {finding.message}")
    return problems


def _settled_texts(
    repo: Repo, settled: pygit2.Tree, intents: list[RotationIntent]
) -> dict[str, bytes | None]:
    """``{path: the applied intent file}`` from the state's ``secrets/`` tree (None: never
    applied)."""
    import pygit2

    found: dict[str, bytes | None] = {}
    for intent in intents:
        inner = relative_to_secrets(intent.path)
        try:
            item = settled[inner]
        except KeyError:
            found[intent.path] = None
            continue
        blob = repo[item.id]
        found[intent.path] = bytes(blob.data) if isinstance(blob, pygit2.Blob) else None
    return found
