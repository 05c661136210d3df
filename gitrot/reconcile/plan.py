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
- ``refuse``: the intent failed policy at the target commit (fail closed), or its desired
  version is below the applied one (a rollback is a new version, never a downgrade).

Intents whose ledger entry shows the desired version applied and delivered are not items.
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
) -> list[Item]:
    """The items, in name order. ``applied`` maps (backend, ref) to the backend's newest
    version; ``ledger`` maps a name to what the last note recorded."""
    items: list[Item] = []
    for want in sorted(desired, key=lambda d: d.name):
        if want.problem:
            items.append(Item(REFUSE, want, reason=want.problem))
            continue
        have = applied.get((want.backend, want.ref))
        entry = ledger.get(want.name)
        if (
            have is not None
            and have.version == want.version
            and have.key != idempotency_key(want.name, want.version)
        ):
            items.append(
                Item(
                    REFUSE,
                    want,
                    applied=have,
                    reason=f"version {want.version} of its ref in {want.backend} was written "
                    f"for another secret ({have.name}); two intents must not share a ref",
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


def _span(versions: tuple[int, ...]) -> str:
    if len(versions) == 1:
        return f"version {versions[0]} was"
    return f"versions {versions[0]}-{versions[-1]} were"
