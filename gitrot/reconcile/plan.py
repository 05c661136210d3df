"""Planning, pure: desired versions (git) against applied ones (the backends) and the ledger.

For each desired intent the plan says what to do:

- ``write``: the backend's newest version is below the desired one (or there is none):
  write the desired version (versions bumped in between are ``superseded``: an intent
  bumped twice before a run is applied once, at its latest version), then fire every
  consumer; with a rotator (``spec.source.rotator``) the version is written pending, set
  and tested at the source, then promoted (the two-phase apply of
  :mod:`gitrot.reconcile.rotation`); a pending version below it is abandoned first;
- ``resume``: the desired version is pending in the backend (a run stopped or failed at a
  step): go on from the step recorded, with the stored pending value;
- ``record``: the backend already has the desired version (a reconciler killed after the
  write, or another one) but the ledger does not: record it, and fire the consumers the
  ledger has no successful delivery for;
- ``trigger``: applied and recorded, but some consumer's delivery failed: fire again, with
  the same delivery id;
- ``refuse``: the intent failed policy at the target commit (fail closed), its desired
  version is below the applied one (a rollback is a new version, never a downgrade), its
  location (backend, ref) belongs to another secret: the backend holds a version written
  for another name, the state records another owner, or another intent of the same commit
  claims it (a backend location belongs to one secret); another intent of the commit names
  its rotator (a rotator serves one secret); its desired version was abandoned, or is
  pending while the intent names no rotator.

Intents whose state entry shows the desired version applied and delivered are not items.
The rules are :data:`CASES`, a decision table read top to bottom: each row a named
predicate over an intent's :class:`Facts`, the action, and the reason it gives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, NamedTuple

from gitrot.core.models import GeneratedValue, RotatorConfig, SealedValue
from gitrot.core.ports import ABANDONED, PENDING, AppliedVersion, idempotency_key

if TYPE_CHECKING:  # the ledger reads git; the plan only reads its entries
    from gitrot.reconcile.ledger import Entry

WRITE, RESUME, RECORD, TRIGGER, REFUSE = "write", "resume", "record", "trigger", "refuse"


class Desired:
    """One intent at the target commit, as the reconciler needs it. ``ref`` is decrypted
    (never printed or recorded); ``problem`` is why it is refused (policy, decryption);
    ``rotator`` the ``rotators.<name>`` of gitrot.yaml that changes it at its source (``""``:
    none, a write is current at once) and ``rotator_config`` that entry (None when
    gitrot.yaml has none: a rotator handed to the Reconciler)."""

    __slots__ = (
        "backend", "blob", "consumers", "name", "path", "problem", "ref", "rotator",
        "rotator_config", "value", "version",
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
        rotator: str = "",
        rotator_config: RotatorConfig | None = None,
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
        self.rotator = rotator
        self.rotator_config = rotator_config


class Item:
    """One thing to do for one secret; ``abandon`` a pending version to abandon first."""

    __slots__ = ("abandon", "action", "applied", "desired", "reason", "superseded", "triggers")

    def __init__(
        self,
        action: str,
        desired: Desired,
        *,
        applied: AppliedVersion | None = None,
        triggers: tuple[str, ...] = (),
        superseded: tuple[int, ...] = (),
        reason: str = "",
        abandon: int | None = None,
    ) -> None:
        self.action = action
        self.desired = desired
        self.applied = applied
        self.triggers = triggers
        self.superseded = superseded
        self.reason = reason
        self.abandon = abandon

    @property
    def step(self) -> str | None:
        """The step of the desired version in the backend (None: not written yet)."""
        have = self.applied
        return have.step if have is not None and have.version == self.desired.version else None

    def as_dict(self) -> dict[str, object]:
        """The item for ``gitrot plan --format json`` (never the ref or a value)."""
        d = self.desired
        return {
            "action": self.action,
            "name": d.name,
            "version": d.version,
            "backend": d.backend,
            "applied_version": self.applied.version if self.applied is not None else None,
            "rotator": d.rotator or None,
            "step": self.step,
            "abandon": self.abandon,
            "triggers": list(self.triggers),
            "superseded": list(self.superseded),
            "reason": self.reason,
        }


class Facts:
    """What the plan knows of one intent: the backend's newest version of its location
    (``have``), its state entry, the location's owner per the state and the intent of this
    commit that keeps it, the consumers not told about the desired version, and whether
    the state records the desired version of this very intent file."""

    __slots__ = (
        "entry", "have", "keeper", "owner", "pending", "recorded", "sharers", "skipped", "want",
    )  # fmt: skip

    def __init__(
        self,
        want: Desired,
        have: AppliedVersion | None,
        entry: Entry | None,
        owner: str | None,
        keeper: str,
        *,
        sharers: tuple[str, ...] = (),
    ) -> None:
        self.want = want
        self.have = have
        self.entry = entry
        self.owner = owner
        self.keeper = keeper
        self.sharers = sharers  # the other intents of the commit naming its rotator
        delivered = entry.delivered(want.version) if entry is not None else frozenset()
        self.pending = tuple(t for t in want.consumers if t not in delivered)
        self.recorded = (
            entry is not None and entry.version == want.version and entry.blob == want.blob
        )
        below = max(
            have.version if have is not None else 0, entry.version if entry is not None else 0
        )
        self.skipped = tuple(range(below + 1, want.version))


# --- the predicates, one per row of the table ------------------------------------------------


def failed_policy(f: Facts) -> bool:
    return bool(f.want.problem)


def written_for_another(f: Facts) -> bool:
    have = f.have
    return have is not None and (
        have.name != f.want.name or have.key != idempotency_key(have.name, have.version)
    )


def owned_by_another(f: Facts) -> bool:
    return f.owner is not None and f.owner != f.want.name


def claimed_by_another(f: Facts) -> bool:
    return f.keeper != f.want.name


def backend_ahead(f: Facts) -> bool:
    return f.have is not None and f.have.version > f.want.version


def rotator_shared(f: Facts) -> bool:
    return bool(f.sharers)


def _pending_here(f: Facts) -> bool:
    have = f.have
    return have is not None and have.version == f.want.version and have.stage == PENDING


def abandoned_here(f: Facts) -> bool:
    return _pending_here(f) and f.have is not None and f.have.step == ABANDONED


def pending_without_rotator(f: Facts) -> bool:
    return _pending_here(f) and not f.want.rotator


def pending_here(f: Facts) -> bool:
    return _pending_here(f)


def abandoned_version(f: Facts) -> int | None:
    """The pending version below the desired one a write abandons (None: there is none)."""
    have = f.have
    pending_below = (
        have is not None
        and have.stage == PENDING
        and have.step != ABANDONED
        and have.version < f.want.version
    )
    return have.version if pending_below and have is not None else None


def not_in_backend(f: Facts) -> bool:
    return f.have is None or f.have.version < f.want.version


def not_recorded(f: Facts) -> bool:
    return not f.recorded


def consumers_pending(f: Facts) -> bool:
    return bool(f.pending)


# --- the reasons ------------------------------------------------------------------------------

ONE_OWNER = "a backend location belongs to one secret: give this intent a ref of its own"


def _policy(f: Facts) -> str:
    return f.want.problem


def _another_writer(f: Facts) -> str:
    assert f.have is not None  # noqa: S101 - written_for_another holds
    return (
        f"version {f.have.version} of its ref in {f.want.backend} was written for another "
        f"secret ({f.have.name}); {ONE_OWNER}"
    )


def _another_owner(f: Facts) -> str:
    return (
        f"its ref in {f.want.backend} belongs to another secret ({f.owner}, "
        f"refs/gitrot/state); {ONE_OWNER}"
    )


def _shared(f: Facts) -> str:
    return f"it shares its ref in {f.want.backend} with {f.keeper}; {ONE_OWNER}"


def _rollback(f: Facts) -> str:
    assert f.have is not None  # noqa: S101 - backend_ahead holds
    return (
        f"the backend has version {f.have.version}, above the desired {f.want.version}: "
        "a rollback is a new version with the old value"
    )


def _rotator_shared(f: Facts) -> str:
    return (
        f"its rotator {f.want.rotator} is named by {', '.join(f.sharers)} too; a rotator "
        "serves one secret: give each intent a rotator of its own in gitrot.yaml"
    )


def _abandoned(f: Facts) -> str:
    return (
        f"version {f.want.version} was abandoned in the backend (a newer version replaced it "
        "while it was pending); bump spec.version for a new rotation"
    )


def _pending_no_rotator(f: Facts) -> str:
    assert f.have is not None  # noqa: S101 - pending_without_rotator holds
    return (
        f"version {f.want.version} is pending in the backend (step {f.have.step}) but the "
        "intent names no rotator; name its rotator again in spec.source, or bump "
        "spec.version (the pending version is then abandoned)"
    )


def _resume(f: Facts) -> str:
    assert f.have is not None  # noqa: S101 - pending_here holds
    return (
        f"version {f.want.version} is pending at step {f.have.step}: resume with rotator "
        f"{f.want.rotator}"
    )


def _write(f: Facts) -> str:
    newest = f" (newest: {f.have.version})" if f.have is not None else ""
    skipped = f"; {_span(f.skipped)} superseded" if f.skipped else ""
    abandon = abandoned_version(f)
    left = f"; pending version {abandon} is abandoned" if abandon is not None else ""
    how = f"; rotated at the source by {f.want.rotator}" if f.want.rotator else ""
    return f"version {f.want.version} is not in the backend{newest}{skipped}{left}{how}"


def _record(f: Facts) -> str:
    return f"version {f.want.version} is in the backend; recording it"


def _trigger(f: Facts) -> str:
    return f"{len(f.pending)} consumer(s) not yet told about version {f.want.version}"


class Case(NamedTuple):
    when: Callable[[Facts], bool]
    action: str
    reason: Callable[[Facts], str]


#: the decision table, read top to bottom: the first case that holds decides; an intent
#: no case holds for is applied, recorded and delivered (no item)
CASES = (
    Case(failed_policy, REFUSE, _policy),
    Case(written_for_another, REFUSE, _another_writer),
    Case(owned_by_another, REFUSE, _another_owner),
    Case(claimed_by_another, REFUSE, _shared),
    Case(rotator_shared, REFUSE, _rotator_shared),
    Case(backend_ahead, REFUSE, _rollback),
    Case(abandoned_here, REFUSE, _abandoned),
    Case(pending_without_rotator, REFUSE, _pending_no_rotator),
    Case(pending_here, RESUME, _resume),
    Case(not_in_backend, WRITE, _write),
    Case(not_recorded, RECORD, _record),
    Case(consumers_pending, TRIGGER, _trigger),
)


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
    rotators: dict[str, list[str]] = {}
    for want in desired:
        if want.rotator and not want.problem:
            rotators.setdefault(want.rotator, []).append(want.name)
    items: list[Item] = []
    for want in sorted(desired, key=lambda d: d.name):
        location = (want.backend, want.ref)
        have = None if want.problem else applied.get(location)
        sharers = tuple(n for n in rotators.get(want.rotator, ()) if n != want.name)
        facts = Facts(
            want, have, ledger.get(want.name), owners.get(location),
            claimed.get(location, want.name), sharers=sharers,
        )  # fmt: skip
        case = next((case for case in CASES if case.when(facts)), None)
        if case is not None:
            items.append(_item(case, facts))
    return items


def _item(case: Case, f: Facts) -> Item:
    """The item of ``case``: a write tells every consumer, a resume, a record or a retry
    those not told; a refusal tells nobody."""
    triggers = {WRITE: f.want.consumers, RESUME: f.pending, RECORD: f.pending, TRIGGER: f.pending}
    return Item(
        case.action,
        f.want,
        applied=f.have,
        triggers=triggers.get(case.action, ()),
        superseded=f.skipped if case.action == WRITE else (),
        reason=case.reason(f),
        abandon=abandoned_version(f) if case.action == WRITE else None,
    )


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
