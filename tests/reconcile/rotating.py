"""Helpers of the rotation tests: a policy repository whose intents name a rotator, an
in-memory credential source with its rotator, a local backend whose promote can fail."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from gitrot.core.ports import AppliedVersion, BackendError, RotatorContext
from gitrot.core.secret import SecretValue
from gitrot.errors import RotatorError
from tests.reconcile.helpers import PolicyRepo, logger_trigger

ROTATOR = "db-rot"
#: what gitrot.yaml says of the rotator the in-process tests hand over (a command that is
#: never run: the handed factory replaces it)
PLACEHOLDER = {"type": "command", "set": ["true"], "test": ["true"]}


def add_rotators(repo: PolicyRepo, rotators: Mapping[str, Mapping[str, object]]) -> None:
    """``rotators:`` in gitrot.yaml (not committed)."""
    config = repo.root / "gitrot.yaml"
    block = "".join(f"  {name}: {json.dumps(spec)}\n" for name, spec in rotators.items())
    config.write_text(config.read_text() + f"rotators:\n{block}")


def name_rotator(repo: PolicyRepo, name: str, rotator: str | None) -> None:
    """Set (or, with None, remove) ``spec.source.rotator`` of the intent ``name``: a plain
    field (the intent's MAC covers only the encrypted ref)."""
    path = repo.root / "secrets" / f"{name}.yaml"
    lines = [line for line in path.read_text().splitlines(keepends=True)]
    start = next((i for i, line in enumerate(lines) if line == "    source:\n"), None)
    if start is not None:
        del lines[start : start + 2]
    if rotator is not None:
        at = lines.index("    target:\n")
        lines[at:at] = ["    source:\n", f"        rotator: {rotator}\n"]
    path.write_text("".join(lines))


def rotating_repo(
    root: Path, log: Path, *, names: tuple[str, ...] = ("svc/db",), rotator: str = ROTATOR
) -> PolicyRepo:
    """A committed policy repository: ``names`` on the local backend, told to ``api``
    (``log``); the first one names ``rotator`` (in gitrot.yaml as :data:`PLACEHOLDER`)."""
    repo = PolicyRepo.create(root, triggers={"api": logger_trigger(log)})
    add_rotators(repo, {rotator: PLACEHOLDER})
    for name in names:
        repo.new(name)
    name_rotator(repo, names[0], rotator)
    repo.commit("Add the intents, one rotated at its source")
    return repo


class Source:
    """A credential source in memory: the passwords it accepts, the values its rotator saw
    (``(step, value)``), the steps to fail at, how often a rotator was closed."""

    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.seen: list[tuple[str, str]] = []
        self.fail: set[str] = set()
        self.closed = 0
        self.admin: list[str] = []
        self.read_admin: str | None = None

    def factory(
        self, name: str, options: Mapping[str, object], context: RotatorContext
    ) -> FakeRotator:
        return FakeRotator(name, context, self)

    def values(self, step: str) -> list[str]:
        return [value for seen_step, value in self.seen if seen_step == step]


class FakeRotator:
    """A rotator of :class:`Source`: ``set`` makes it accept the pending value, ``test``
    checks it does; each fails with a RotatorError while its step is in ``source.fail``."""

    def __init__(self, name: str, context: RotatorContext, source: Source) -> None:
        self.name = name
        self.context = context
        self.source = source

    def _step(self, step: str, value: SecretValue) -> None:
        self.source.seen.append((step, value.reveal()))
        if step in self.source.fail:
            raise RotatorError(f"the source refused the {step}", step=step)

    def prepare(self, generated: SecretValue, current: SecretValue | None) -> SecretValue:
        self._step("prepare", generated)
        return generated

    def set(self, pending: SecretValue, current: SecretValue | None) -> None:
        if self.source.read_admin is not None:
            self.source.admin.append(self.context.read_secret(self.source.read_admin).reveal())
        self._step("set", pending)
        self.source.accepted.append(pending.reveal())

    def test(self, pending: SecretValue) -> None:
        self._step("test", pending)
        if pending.reveal() not in self.source.accepted:
            raise RotatorError("the pending value does not log in", step="test")

    def revoke(self, previous: SecretValue) -> None:
        self._step("revoke", previous)
        self.source.accepted.remove(previous.reveal())

    def close(self) -> None:
        self.source.closed += 1


def flaky_promote(backend: object, fails: list[bool]) -> None:
    """Make ``backend.promote`` fail (unreachable) while ``fails`` holds True."""
    promote = backend.promote  # type: ignore[attr-defined]

    def flaky(ref: str, version: int, *, key: str) -> AppliedVersion:
        if fails and fails[0]:
            raise BackendError("the store went away", unreachable=True)
        return promote(ref, version, key=key)  # type: ignore[no-any-return]

    backend.promote = flaky  # type: ignore[attr-defined]
