"""The reconciler and where its backends and triggers come from (docs/architecture.md).

A :class:`Reconciler` is handed backends, triggers and rotator factories by name (a test, a
program that embeds gitrot); every other name is opened from gitrot.yaml at the target commit
(:meth:`Reconciler.from_config` hands nothing over: what the commands use). A backend or
trigger that cannot be opened becomes a reason located at ``gitrot.yaml:LINE``, never a
crash of the run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from gitrot import output
from gitrot.backends import registry as backend_types
from gitrot.core.layout import CONFIG_FILE, RECONCILER_KEY
from gitrot.core.models import Config
from gitrot.core.ports import (
    Backend,
    BackendContext,
    BackendError,
    Rotator,
    RotatorContext,
    Trigger,
)
from gitrot.errors import ConfigError, GitrotError
from gitrot.git.repository import open_repo, read_blob
from gitrot.keys import age
from gitrot.keys.identities import load_identities
from gitrot.reconcile.ledger import owner_key
from gitrot.reconcile.plan import Item
from gitrot.rotators import registry as rotator_types
from gitrot.triggers import registry as trigger_types

if TYPE_CHECKING:  # pygit2 is heavy: its types only
    from gitrot.git.repository import Commit, Repo

#: a rotator factory handed to the Reconciler: ``factory(name, options, context)``
RotatorFactory = Callable[[str, Mapping[str, object], RotatorContext], Rotator]


def warn(text: str) -> None:
    output.info(f"gitrot: warning: {text}")


class Reconciler:
    """The repository, its policy root and the reconciler's identity, and the backends,
    triggers and rotators a run uses.

    ``backends`` and ``triggers`` (by name) are used as they are (and never closed: the
    caller owns them); ``rotators`` maps a rotator's name (``rotators.<name>``) to a factory
    called as ``factory(name, options, context)`` for each item (the options of gitrot.yaml,
    or none); any other name is opened from gitrot.yaml at the target commit.
    """

    __slots__ = (
        "backends", "environ", "identities", "owner_key", "prefix", "repo", "root", "rotators",
        "triggers",
    )  # fmt: skip

    def __init__(
        self,
        root: str,
        environ: Mapping[str, str],
        *,
        backends: Mapping[str, Backend] | None = None,
        triggers: Mapping[str, Trigger] | None = None,
        rotators: Mapping[str, RotatorFactory] | None = None,
    ) -> None:
        self.root = root
        self.environ = environ
        self.backends: Mapping[str, Backend] = backends or {}
        self.triggers: Mapping[str, Trigger] = triggers or {}
        self.rotators: Mapping[str, RotatorFactory] = rotators or {}
        self.repo: Repo = open_repo(root)
        self.prefix = policy_prefix(self.repo, root)
        self.identities = identities(root, environ)
        self.owner_key = owner_key(identity_text(root, environ))

    @classmethod
    def from_config(cls, root: str, environ: Mapping[str, str]) -> Reconciler:
        """A reconciler that opens every backend and trigger from gitrot.yaml."""
        return cls(root, environ)

    def backend(self, config: Config, name: str) -> Backend:
        """The backend ``name``: the one handed over, else opened from ``config``."""
        given = self.backends.get(name)
        if given is not None:
            return given
        spec = config.backends.get(name)
        if spec is None:
            raise ConfigError(f"no backend {name!r} in {CONFIG_FILE}", where=CONFIG_FILE)
        context = BackendContext(
            root=self.root,
            recipients=tuple(config.recipients.values()),
            identities=identity_text(self.root, self.environ),
        )
        return backend_types.open_backend(name, spec.type, spec.options, context)

    def has_rotator(self, config: Config, name: str) -> bool:
        """Whether the rotator ``name`` is handed over or in gitrot.yaml."""
        return name in self.rotators or name in config.rotators

    def rotator(self, config: Config, name: str, context: RotatorContext) -> Rotator:
        """A new rotator ``name`` for one item (the caller closes it): the factory handed
        over, else the type gitrot.yaml names (:func:`gitrot.rotators.registry.open_rotator`)."""
        spec = config.rotators.get(name)
        given = self.rotators.get(name)
        if given is not None:
            return given(name, dict(spec.options) if spec is not None else {}, context)
        if spec is None:
            raise ConfigError(f"no rotator {name!r} in {CONFIG_FILE}", where=CONFIG_FILE)
        return rotator_types.open_rotator(name, spec.type, spec.options, context)

    def close(self, backend: Backend) -> None:
        """Close ``backend`` unless it was handed over (its owner closes it)."""
        if self.backends.get(backend.name) is not backend:
            backend.close()

    def open_backends(
        self, commit: Commit, config: Config, names: set[str]
    ) -> tuple[dict[str, Backend], dict[str, str]]:
        """The backends by name, and why each one that cannot be opened cannot."""
        opened: dict[str, Backend] = {}
        broken: dict[str, str] = {}
        for name in sorted(names):
            try:
                opened[name] = self.backend(config, name)
            except (GitrotError, BackendError) as exc:
                broken[name] = self.config_problem(commit, "backends", name, exc)
        return opened, broken

    def open_triggers(
        self, commit: Commit, config: Config, items: list[Item]
    ) -> tuple[dict[str, Trigger], dict[str, str]]:
        """The triggers the items fire, and why each one that cannot be opened cannot."""
        found: dict[str, Trigger] = {}
        broken: dict[str, str] = {}
        for item in items:
            for name in item.triggers:
                if name in found or name in broken:
                    continue
                given = self.triggers.get(name)
                spec = config.triggers.get(name)
                if given is not None:
                    found[name] = given
                elif spec is None:
                    broken[name] = (
                        f"no trigger {name!r} in {CONFIG_FILE} (a consumer of {item.desired.path})"
                    )
                else:
                    try:
                        found[name] = trigger_types.open_trigger(
                            name, spec.type, spec.options, self.environ, root=self.root
                        )
                    except GitrotError as exc:
                        broken[name] = self.config_problem(commit, "triggers", name, exc)
        return found, broken

    def config_problem(self, commit: Commit, section: str, name: str, exc: Exception) -> str:
        """``<section> NAME cannot be used: WHY (gitrot.yaml:LINE)``."""
        message = getattr(exc, "message", "") or type(exc).__name__
        line = config_line(commit, self.prefix, section, name)
        where = f"{CONFIG_FILE}:{line}" if line else CONFIG_FILE
        kind = section.removesuffix("s")
        return f"{kind} {name} cannot be used: {message} ({where})"


def config_line(commit: Commit, prefix: str, section: str, name: str) -> int:
    """The line of ``section.name`` in gitrot.yaml at ``commit`` (0: not found)."""
    data = read_blob(commit, prefix + CONFIG_FILE) or b""
    inside = False
    key = re.compile(rf"""\s+["']?{re.escape(name)}["']?\s*:""")
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if line[:1] not in ("", " ", "\t", "#"):
            inside = line.split(":", 1)[0].strip() == section
            continue
        if inside and key.match(line):
            return number
    return 0


def identity_text(root: str, environ: Mapping[str, str]) -> str:
    """The reconciler's identity file text: ``.gitrot/reconciler.key`` (``gitrot init``
    puts it there), else the file ``SOPS_AGE_KEY_FILE`` names, else ``SOPS_AGE_KEY``."""
    for path in (os.path.join(root, RECONCILER_KEY), environ.get("SOPS_AGE_KEY_FILE")):
        if path and os.path.isfile(path):
            with open(path, encoding="utf-8") as stream:
                return stream.read()
    return environ.get("SOPS_AGE_KEY", "")


def identities(root: str, environ: Mapping[str, str]) -> list[object]:
    """The age identities that open refs and sealed values: the reconciler's, then the
    usual places (``SOPS_AGE_KEY_FILE``, ``~/.config/sops/age/keys.txt``...)."""
    found = age.parse_identities(identity_text(root, environ), source="reconciler identity")
    found.extend(load_identities(environ, home=os.path.expanduser("~")))
    return found


def policy_prefix(repo: Repo, root: str) -> str:
    """The policy root inside the repository (``""`` or ``"path/"``)."""
    workdir = repo.workdir
    if not workdir:
        return ""
    relative = os.path.relpath(os.path.realpath(root), os.path.realpath(workdir))
    return "" if relative == "." else relative.replace(os.sep, "/") + "/"
