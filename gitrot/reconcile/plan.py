"""Planning, pure: desired versions (git) against applied ones (the backends) and the ledger.

For each desired intent the plan says what to do:

- ``write``: the backend's newest version is below the desired one (or there is none):
  write the desired version (versions bumped in between are ``superseded``: an intent
  bumped twice before a run is applied once, at its latest version), then fire every
  consumer;
- ``record``: the backend already has the desired version (a reconciler killed after the
  write, or another one) but the ledger does not: record it, and fire the consumers the
  ledger has no successful delivery for;
- ``trigger``: applied and recorded, but some consumer's delivery failed: fire again, with
  the same delivery id;
- ``refuse``: the intent failed policy at the target commit (fail closed), its desired
  version is below the applied one (a rollback is a new version, never a downgrade), or its
  location (backend, ref) belongs to another secret: the backend holds a version written
  for another name, the state records another owner, or another intent of the same commit
  claims it (a backend location belongs to one secret).

Intents whose state entry shows the desired version applied and delivered are not items.
"""

from __future__ import annotations

from gitrot.backends.base import idempotency_key

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gitrot.backends.base import AppliedVersion
    from gitrot.core.models import GeneratedValue, SealedValue
    from gitrot.reconcile.ledger import Entry

WRITE, RECORD, TRIGGER, REFUSE = "write", "record", "trigger", "refuse"


class Desired:
    """One intent at the target commit, as the reconciler needs it. ``ref`` is decrypted
    (never printed or recorded); ``problem`` is why it is refused (policy, decryption)."""

    __slots__ = (
        "backend", "blob", "consumers", "name", "path", "problem", "ref", "value", "version",
    )  # fmt: skip

    def __init__(
        self,
        *,
        name: str,
        path: str,
        blob: str,
        version: int,
        backend: str,
        ref: str,
        value: GeneratedValue | SealedValue | None,
        consumers: tuple[str, ...],
        problem: str = "",
    ) -> None:
        self.name = name
        self.path = path
        self.blob = blob
        self.version = version
        self.backend = backend
        self.ref = ref
        self.value = value
        self.consumers = consumers
        self.problem = problem


class Item:
    """One thing to do for one secret."""

    __slots__ = ("action", "applied", "desired", "reason", "superseded", "triggers")

    def __init__(
        self,
        action: str,
        desired: Desired,
        *,
        applied: AppliedVersion | None = None,
        triggers: tuple[str, ...] = (),
        superseded: tuple[int, ...] = (),
        reason: str = "",
    ) -> None:
        self.action = action
        self.desired = desired
        self.applied = applied
        self.triggers = triggers
        self.superseded = superseded
        self.reason = reason

    def as_dict(self) -> dict[str, object]:
        """The item for ``gitrot plan --format json`` (never the ref or a value)."""
        d = self.desired
        return {
            "action": self.action,
            "name": d.name,
            "version": d.version,
            "backend": d.backend,
            "applied_version": self.applied.version if self.applied is not None else None,
            "triggers": list(self.triggers),
            "superseded": list(self.superseded),
            "reason": self.reason,
        }


def make_plan(
    desired: list[Desired],
    applied: Mapping[tuple[str, str], AppliedVersion | None],
    ledger: Mapping[str, Entry],
    owners: Mapping[tuple[str, str], str] | None = None,
) -> list[Item]:
    """The items, in name order. ``applied`` maps (backend, ref) to the backend's newest
    version; ``ledger`` maps a name to what the state recorded; ``owners`` maps (backend,
    ref) to the secret the state says wrote it."""
    owners = owners or {}
    claimed = _claims(desired, applied, owners)
    items: list[Item] = []
    for want in sorted(desired, key=lambda d: d.name):
        if want.problem:
            items.append(Item(REFUSE, want, reason=want.problem))
            continue
        location = (want.backend, want.ref)
        have = applied.get(location)
        entry = ledger.get(want.name)
        if have is not None and (
            have.name != want.name or have.key != idempotency_key(have.name, have.version)
        ):
            items.append(
                Item(
                    REFUSE,
                    want,
                    applied=have,
                    reason=f"version {have.version} of its ref in {want.backend} was written "
                    f"for another secret ({have.name}); a backend location belongs to one "
                    "secret: give this intent a ref of its own",
                )
            )
            continue
        owner = owners.get(location)
        if owner is not None and owner != want.name:
            items.append(
                Item(
                    REFUSE,
                    want,
                    applied=have,
                    reason=f"its ref in {want.backend} belongs to another secret ({owner}, "
                    "refs/gitrot/state); a backend location belongs to one secret: give this "
                    "intent a ref of its own",
                )
            )
            continue
        keeper = claimed.get(location, want.name)
        if keeper != want.name:
            items.append(
                Item(
                    REFUSE,
                    want,
                    applied=have,
                    reason=f"it shares its ref in {want.backend} with {keeper}; a backend "
                    "location belongs to one secret: give this intent a ref of its own",
                )
            )
            continue
        if have is not None and have.version > want.version:
            items.append(
                Item(
                    REFUSE,
                    want,
                    applied=have,
                    reason=f"the backend has version {have.version}, above the desired "
                    f"{want.version}: a rollback is a new version with the old value",
                )
            )
            continue
        if have is None or have.version < want.version:
            below = max(
                have.version if have is not None else 0,
                entry.version if entry is not None else 0,
            )
            skipped = tuple(range(below + 1, want.version))
            why = (
                f"version {want.version} is not in the backend"
                + (f" (newest: {have.version})" if have is not None else "")
                + (f"; {_span(skipped)} superseded" if skipped else "")
            )
            items.append(
                Item(
                    WRITE,
                    want,
                    applied=have,
                    triggers=want.consumers,
                    superseded=skipped,
                    reason=why,
                )
            )
            continue
        delivered = entry.delivered(want.version) if entry is not None else frozenset()
        pending = tuple(t for t in want.consumers if t not in delivered)
        recorded = entry is not None and entry.version == want.version and entry.blob == want.blob
        if not recorded:
            items.append(
                Item(
                    RECORD,
                    want,
                    applied=have,
                    triggers=pending,
                    reason=f"version {want.version} is in the backend; recording it",
                )
            )
        elif pending:
            items.append(
                Item(
                    TRIGGER,
                    want,
                    applied=have,
                    triggers=pending,
                    reason=f"{len(pending)} consumer(s) not yet told about version {want.version}",
                )
            )
    return items


def _claims(
    desired: list[Desired],
    applied: Mapping[tuple[str, str], AppliedVersion | None],
    owners: Mapping[tuple[str, str], str],
) -> dict[tuple[str, str], str]:
    """For each location several intents of this commit target: the one that keeps it (its
    owner per the state, else the backend's writer, else the first name)."""
    wanting: dict[tuple[str, str], list[str]] = {}
    for want in desired:
        if not want.problem:
            wanting.setdefault((want.backend, want.ref), []).append(want.name)
    claims: dict[tuple[str, str], str] = {}
    for location, names in wanting.items():
        if len(names) < 2:
            continue
        have = applied.get(location)
        for candidate in (owners.get(location), have.name if have is not None else None):
            if candidate in names:
                claims[location] = candidate
                break
        else:
            claims[location] = min(names)
    return claims


def _span(versions: tuple[int, ...]) -> str:
    if len(versions) == 1:
        return f"version {versions[0]} was"
    return f"versions {versions[0]}-{versions[-1]} were"
