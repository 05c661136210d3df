"""The ``gcp-secret-manager`` backend: GCP Secret Manager (docs/backends.md).

Configuration (``backends.<name>`` in gitrot.yaml)::

    type: gcp-secret-manager
    project: my-project          # the project id (or number) holding the secrets
    endpoint: https://...        # optional: another API endpoint (regional, private)

Credentials are Application Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS``,
``gcloud auth application-default login``, the metadata server), never gitrot.yaml. A
plain ``http://`` endpoint is allowed on loopback only (an emulator or a test fake) and
gets anonymous credentials: gitrot never sends a Google token over cleartext.

A ref is the secret's id (``[A-Za-z0-9_-]{1,255}``), created on first write (automatic
replication, label ``managed-by: gitrot``). The value is the version's payload, as is, so
a consumer reads the secret as usual. Secret Manager numbers versions itself, so gitrot's
version N maps onto a GCP version through the secret's **annotations**, changed only by
compare-and-swap on the secret's ``etag``::

    gitrot-v<N>    = "<gcp version>|<idempotency key>|<commit>|<written_at>|<name>"
    gitrot-claim   = "<N>|<nonce>|<base>|<claimed_at>"   (while version N is being written)

A write of version N: (1) claim it (CAS: one writer at a time per secret); (2) add the
GCP version; (3) commit the mapping and drop the claim in one CAS patch. A writer that
finds another's claim waits for it (a claim older than :data:`LEASE` seconds is stale: its
writer died, and the next writer takes over, first disabling the versions the dead writer
may have added after ``base``, the newest GCP version at its claim). A writer whose commit
loses (its claim was taken over) disables its own version: one gitrot version never has
two enabled GCP versions, and the mapping, once committed, never changes. The newest
:data:`KEEP` records are kept (annotations total 16 KiB); older GCP versions stay.

Pending versions (:meth:`GcpSecretManagerBackend.write_pending`, a rotation at the source):
``latest`` is the most recently created version, so a pending value is never added to the
ref's secret before promotion: it is a version of the sibling secret
``gitrot-pending-<ref>`` (:data:`PENDING_PREFIX`), recorded there by CAS in the annotation
``gitrot-v<N>`` = ``"<gcp version>|<key>|<commit>|<written_at>|<step>|<name>"``;
:meth:`~GcpSecretManagerBackend.mark` changes the step by CAS. Promotion writes the same
value to the ref's secret as :meth:`~GcpSecretManagerBackend.write` does (the commit point),
then destroys the sibling's versions up to it and drops their records. The newest record of
the sibling is the pending version; older ones (and ones at or below the ref's newest
version) are abandoned.

The Google client (slow to import) loads in :meth:`GcpSecretManagerBackend.client`, never
for ``check_options`` (the validate hook). Messages name the backend, the project and the
version, never the ref (encrypted in git) or a value; the server's own messages, which
name the secret, are not repeated.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from gitrot.core.ports import (
    ABANDONED,
    PENDING,
    PROMOTED,
    SET,
    TESTED,
    WRITTEN,
    AppliedVersion,
    BackendContext,
    BackendError,
    VersionConflict,
)
from gitrot.core.secret import SecretValue
from gitrot.triggers.options import OptionError

KIND = "gcp-secret-manager"
OPTIONS = ("project", "endpoint")
PREFIX = "gitrot-v"
CLAIM = "gitrot-claim"
KEEP = 32
LEASE = 60.0
TIMEOUT = 30.0
_PROJECT = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20}")
_SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
_RECORD = re.compile(r"([1-9][0-9]*)\|([^|]+)\|([^|]*)\|([0-9]+)\|(.+)", re.DOTALL)
#: the sibling secret of a ref that holds its pending value: ``gitrot-pending-<ref>``
PENDING_PREFIX = "gitrot-pending-"
#: the steps of a pending version, in order (``abandoned`` ends it, never promoted)
STEPS = (WRITTEN, SET, TESTED, ABANDONED)
_STAGED = re.compile(
    r"([1-9][0-9]*)\|([^|]+)\|([^|]*)\|([0-9]+)\|(written|set|tested|abandoned)\|(.+)",
    re.DOTALL,
)
_CLAIMED = re.compile(r"([1-9][0-9]*)\|([0-9a-f]+)\|([0-9]+)\|([0-9]+)")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_CREDENTIAL_WORDS = re.compile(r"(?i).*(token|secret|password|credential|key).*")


class Record(NamedTuple):
    """One mapped version: gitrot's ``version`` is GCP's ``gcp``."""

    version: int
    gcp: int
    key: str
    commit: str
    written_at: int
    name: str

    def annotation(self) -> str:
        return f"{self.gcp}|{self.key}|{self.commit}|{self.written_at}|{self.name}"


class Pending(NamedTuple):
    """A pending version: ``gcp`` is its version of the sibling secret."""

    version: int
    gcp: int
    key: str
    commit: str
    written_at: int
    step: str
    name: str

    def annotation(self) -> str:
        return f"{self.gcp}|{self.key}|{self.commit}|{self.written_at}|{self.step}|{self.name}"

    def applied(self, ref: str, step: str | None = None) -> AppliedVersion:
        return AppliedVersion(
            ref=ref,
            version=self.version,
            name=self.name,
            commit=self.commit,
            key=self.key,
            backend_id=f"{PENDING_PREFIX}{ref}/{self.gcp}",
            written_at=self.written_at,
            stage=PENDING,
            step=step or self.step,
        )


class Claim(NamedTuple):
    version: int
    nonce: str
    base: int
    at: int

    def annotation(self) -> str:
        return f"{self.version}|{self.nonce}|{self.base}|{self.at}"


class _Lost(Exception):
    """A compare-and-swap lost: the secret changed since it was read."""


def check_options(name: str, options: Mapping[str, object]) -> tuple[str, str]:
    """``(project, endpoint)`` (endpoint empty for Google's default), or an OptionError: the
    one check the loader (``validate``, ``check``) and the backend share."""
    for option in sorted(options):
        if option in OPTIONS:
            continue
        if _CREDENTIAL_WORDS.fullmatch(option):
            raise OptionError(
                f"backends.{name}: option {option!r} looks like a credential; "
                f"{KIND} never takes one from gitrot.yaml",
                option=option,
                hint="remove it: credentials come from Application Default Credentials "
                "(GOOGLE_APPLICATION_CREDENTIALS or gcloud auth application-default login)",
            )
        raise OptionError(
            f"backends.{name}: unknown option {option!r} for type {KIND}",
            option=option,
            hint=f"a {KIND} backend takes: project, endpoint (optional)",
        )
    project = options.get("project")
    if not isinstance(project, str) or not _PROJECT.fullmatch(project):
        shown = "nothing" if project is None else f"a {type(project).__name__}"
        if isinstance(project, str):
            shown = "a string that is no project id"
        raise OptionError(
            f"backends.{name}.project must be a GCP project id or number, got {shown}",
            option="project" if "project" in options else "",
            hint="for example project: my-project (6 to 30 lowercase letters, digits, '-')",
        )
    return project, _endpoint(name, options.get("endpoint"))


def _endpoint(name: str, endpoint: object) -> str:
    if endpoint is None:
        return ""
    hint = "give https://HOST[:PORT] (or http://127.0.0.1:PORT for an emulator)"
    problem = f"backends.{name}.endpoint must be an https:// URL without a path"
    if not isinstance(endpoint, str):
        raise OptionError(
            f"{problem}, got a {type(endpoint).__name__}", option="endpoint", hint=hint
        )
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise OptionError(f"{problem}, got an invalid URL", option="endpoint", hint=hint) from None
    if parts.username is not None or parts.password is not None:
        # never repeated: what precedes '@' may be a credential
        raise OptionError(
            f"backends.{name}.endpoint must not hold a user or password",
            option="endpoint",
            hint="credentials come from Application Default Credentials, never gitrot.yaml",
        )
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or any(not ch.isprintable() or ch.isspace() for ch in endpoint)
    ):
        raise OptionError(f"{problem}, got {endpoint!r}", option="endpoint", hint=hint)
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise OptionError(
            f"backends.{name}.endpoint: plain http:// is for loopback only, got {endpoint!r}",
            option="endpoint",
            hint="use https:// (a credential never crosses a network in clear)",
        )
    return endpoint.rstrip("/")


def check_secret_id(ref: str) -> None:
    """BackendError unless ``ref`` is a Secret Manager secret id."""
    if not isinstance(ref, str) or not _SECRET_ID.fullmatch(ref):
        raise BackendError(
            f"the target ref is not a valid {KIND} ref: a secret id of 1 to 255 letters, "
            "digits, '_' and '-'"
        )


class GcpSecretManagerBackend:
    """Versions of secrets in GCP Secret Manager (see the module docstring)."""

    check_options = staticmethod(check_options)

    def __init__(
        self,
        name: str,
        options: Mapping[str, object],
        context: BackendContext | None = None,
        *,
        clock: Callable[[], float] | None = None,
        lease: float = LEASE,
        poll: float = 0.05,
    ) -> None:
        self.name = name
        self.project, self.endpoint = check_options(name, options)
        self._clock = clock or time.time
        self._lease = lease
        self._poll = poll
        self._client: Any = None
        self._project_checked = False

    # --- reading ----------------------------------------------------------------------------

    def current(self, refs: Iterable[str]) -> dict[str, AppliedVersion]:
        """The newest version of each ref: the pending one when above the newest promoted."""
        found = {}
        for ref in refs:
            records = self._records(ref)
            pending = self._pendings(ref)
            if pending and (not records or max(pending) > max(records)):
                found[ref] = pending[max(pending)].applied(ref)
            elif records:
                found[ref] = _applied(ref, records[max(records)], "current")
        return found

    def get(self, ref: str, version: int) -> AppliedVersion | None:
        records = self._records(ref)
        record = records.get(version)
        if record is None:
            pending = self._pendings(ref)
            if version not in pending:
                return None
            return pending[version].applied(ref, _step(version, pending, records))
        return _applied(ref, record, _stage(version, records))

    def versions(self, ref: str) -> list[AppliedVersion]:
        """Every version gitrot keeps a record of, oldest first (for ``gitrot status``)."""
        records = self._records(ref)
        return [_applied(ref, records[n], _stage(n, records)) for n in sorted(records)]

    def read(self, ref: str, version: int | None = None) -> SecretValue:
        records = self._records(ref)
        if version is None and records:
            version = max(records)
        record: Record | Pending | None = records.get(version) if version is not None else None
        path = self._path(ref)
        if record is None and version is not None:
            record = self._pendings(ref).get(version)
            path = self._path(PENDING_PREFIX + ref)
        if record is None:
            which = "no version" if version is None else f"no version {version}"
            raise BackendError(f"backend {self.name!r} ({KIND}) holds {which} of this secret")
        name = f"{path}/versions/{record.gcp}"
        with self._calls(f"read version {version}", version=record.gcp):
            answer = self.client().access_secret_version(name=name, timeout=TIMEOUT)
        try:
            return SecretValue(bytes(answer.payload.data).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BackendError(
                f"backend {self.name!r} ({KIND}): version {version} does not hold a UTF-8 value"
            ) from None

    # --- writing ----------------------------------------------------------------------------

    def write(
        self, ref: str, version: int, value: SecretValue, *, name: str, commit: str, key: str
    ) -> AppliedVersion:
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise BackendError(f"backend {self.name!r}: version must be a positive integer")
        if not key or "|" in key or "|" in commit:
            raise BackendError(f"backend {self.name!r}: the idempotency key or commit is invalid")
        check_secret_id(ref)
        nonce = secrets.token_hex(8)
        started = time.monotonic()
        watched: tuple[str, float] | None = None  # a claim seen, and since when
        while True:
            secret = self._secret(ref, create=True)
            records, claim = _parse(secret.annotations)
            stored = records.get(version)
            if stored is not None:
                return self._same(ref, stored, name, key, records)
            self._below(version, records, name)
            takeover = None
            if claim is not None:
                seen = (claim.annotation(), time.monotonic())
                watched = watched if watched and watched[0] == seen[0] else seen
                if not self._stale(claim, watched[1]):
                    self._wait(started)
                    continue
                takeover = claim
            done = self._claim_and_add(ref, secret, version, value, takeover, nonce, records)
            if done is None:
                continue
            secret, gcp = done
            record = Record(version, gcp, key, commit, int(self._clock()), name)
            try:
                committed = self._commit(ref, secret, record, nonce)
            except BackendError:
                self._release(ref, gcp, nonce)
                raise
            if committed:
                return _applied(ref, record, "current")
            self._disable(ref, gcp)  # lost: another writer's version stands

    def _same(
        self, ref: str, stored: Record, name: str, key: str, records: dict[int, Record]
    ) -> AppliedVersion:
        if stored.key != key:
            raise VersionConflict(
                f"{name}: version {stored.version} is already in backend {self.name!r} with "
                f"another idempotency key (got {key}, stored {stored.key}); a version is "
                "written once: bump spec.version for a new value"
            )
        return _applied(ref, stored, _stage(stored.version, records))

    def _stale(self, claim: Claim, watched_since: float) -> bool:
        """A claim older than the lease by its time, or watched unchanged for that long
        (a writer whose clock runs ahead cannot hold a secret forever)."""
        old = self._clock() - claim.at > self._lease
        return old or time.monotonic() - watched_since > self._lease

    def _wait(self, started: float) -> None:
        if time.monotonic() - started > 3 * self._lease:
            raise BackendError(
                f"backend {self.name!r} ({KIND}): another writer keeps a claim on this "
                f"secret in project {self.project}; run again later",
                unreachable=True,
            )
        time.sleep(self._poll)

    def _claim_and_add(  # noqa: PLR0917 - one step of write's loop
        self,
        ref: str,
        secret: Any,
        version: int,
        value: SecretValue,
        takeover: Claim | None,
        nonce: str,
        records: dict[int, Record],
    ) -> tuple[Any, int] | None:
        """Claim ``version`` (None when the claim loses), clean up after a stale claim's
        writer, add the GCP version: ``(the secret as claimed, GCP version number)``."""
        base = takeover.base if takeover is not None else self._newest_gcp(ref)
        claim = Claim(version, nonce, base, int(self._clock()))
        annotations = dict(secret.annotations)
        annotations[CLAIM] = claim.annotation()
        try:
            secret = self._patch(ref, secret, annotations)
        except _Lost:
            return None
        if takeover is not None:
            self._disable_orphans(ref, base, records)
        payload = {"data": value.reveal().encode("utf-8")}
        with self._calls(f"add version {version}"):
            added = self.client().add_secret_version(
                parent=self._path(ref), payload=payload, timeout=TIMEOUT
            )
        return secret, _number(added.name)

    def _commit(self, ref: str, secret: Any, record: Record, nonce: str) -> bool:
        """Record the mapping and drop our claim (CAS); False when the claim is no longer
        ours (another writer took it over)."""
        while True:
            annotations = dict(secret.annotations)
            _records_now, claim = _parse(annotations)
            if claim is None or claim.nonce != nonce:
                return False
            del annotations[CLAIM]
            annotations[f"{PREFIX}{record.version}"] = record.annotation()
            _prune(annotations)
            try:
                self._patch(ref, secret, annotations)
            except _Lost:
                secret = self._secret(ref, create=False)
                continue
            return True

    def _release(self, ref: str, gcp: int, nonce: str) -> None:
        """After a failed commit, best effort: disable our version and drop our claim, so
        the next run need not wait for the claim's lease (else it waits, then takes over)."""
        with contextlib.suppress(BackendError, _Lost):
            self._disable(ref, gcp)
            secret = self._secret(ref, create=False)
            annotations = dict(secret.annotations)
            claim = _parse(annotations)[1]
            if claim is not None and claim.nonce == nonce:
                del annotations[CLAIM]
                self._patch(ref, secret, annotations)

    def _disable_orphans(self, ref: str, base: int, records: dict[int, Record]) -> None:
        """Disable the enabled GCP versions above ``base`` no record maps: those a dead
        writer added before it could commit."""
        mapped = {record.gcp for record in records.values()}
        with self._calls("list versions"):
            listing = self.client().list_secret_versions(parent=self._path(ref), timeout=TIMEOUT)
            orphans = []
            for item in listing:  # newest first
                number = _number(item.name)
                if number <= base:
                    break
                if number not in mapped and item.state.name == "ENABLED":
                    orphans.append(number)
        for number in orphans:
            self._disable(ref, number)

    def _disable(self, ref: str, gcp: int) -> None:
        from google.api_core import exceptions

        name = f"{self._path(ref)}/versions/{gcp}"
        already = (exceptions.FailedPrecondition, exceptions.BadRequest)  # disabled or destroyed
        with contextlib.suppress(*already), self._calls(f"disable GCP version {gcp}", let=already):
            self.client().disable_secret_version(name=name, timeout=TIMEOUT)

    def _newest_gcp(self, ref: str) -> int:
        with self._calls("list versions"):
            listing = self.client().list_secret_versions(
                request={"parent": self._path(ref), "page_size": 1}, timeout=TIMEOUT
            )
            for item in listing:
                return _number(item.name)
        return 0

    # --- pending versions ------------------------------------------------------------------

    def write_pending(
        self, ref: str, version: int, value: SecretValue, *, name: str, commit: str, key: str
    ) -> AppliedVersion:
        """Add ``value`` to the sibling secret and record it there by CAS (the commit
        point); the ref's secret is untouched. Idempotent on ``key`` as :meth:`write`."""
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise BackendError(f"backend {self.name!r}: version must be a positive integer")
        if not key or "|" in key or "|" in commit:
            raise BackendError(f"backend {self.name!r}: the idempotency key or commit is invalid")
        records = self._records(ref)
        if version in records:
            return self._same(ref, records[version], name, key, records)
        self._below(version, records, name)
        sibling = PENDING_PREFIX + ref
        secret = self._secret(sibling, create=True)
        pending = _pendings(secret.annotations)
        if pending and max(pending) >= version:
            return self._pending_same(ref, pending, version, name, key, records)
        payload = {"data": value.reveal().encode("utf-8")}
        with self._calls(f"add version {version}"):
            added = self.client().add_secret_version(
                parent=self._path(sibling), payload=payload, timeout=TIMEOUT
            )
        record = Pending(
            version, _number(added.name), key, commit, int(self._clock()), WRITTEN, name
        )
        while True:
            annotations = dict(secret.annotations)
            annotations[f"{PREFIX}{version}"] = record.annotation()
            try:
                self._patch(sibling, secret, annotations)
            except _Lost:
                secret = self._secret(sibling, create=False)
                pending = _pendings(secret.annotations)
                if pending and max(pending) >= version:  # a concurrent writer recorded first
                    self._disable(sibling, record.gcp)
                    return self._pending_same(ref, pending, version, name, key, records)
                continue
            return record.applied(ref)

    def mark(self, ref: str, version: int, step: str, *, key: str) -> AppliedVersion:
        """Record ``step`` in the pending version's annotation (CAS); a step never goes back
        and ``abandoned`` is final."""
        if step not in STEPS:
            raise BackendError(
                f"backend {self.name!r}: a pending version is marked {', '.join(STEPS[1:])}, "
                f"not {step!r}"
            )
        sibling = PENDING_PREFIX + ref
        while True:
            secret, record, now = self._staged(ref, version, key)
            if now == ABANDONED or STEPS.index(step) <= STEPS.index(now):
                return record.applied(ref, now)
            annotations = dict(secret.annotations)
            annotations[f"{PREFIX}{version}"] = record._replace(step=step).annotation()
            with contextlib.suppress(_Lost):  # changed meanwhile: look again
                self._patch(sibling, secret, annotations)
                return record.applied(ref, step)

    def promote(self, ref: str, version: int, *, key: str) -> AppliedVersion:
        """Write the pending value to the ref's secret (as :meth:`write`: the commit point),
        then destroy the sibling's versions up to it; idempotent."""
        records = self._records(ref)
        if version in records:
            promoted = self._same(ref, records[version], records[version].name, key, records)
        else:
            _secret, record, now = self._staged(ref, version, key, records=records)
            if now == ABANDONED:
                raise BackendError(
                    f"{record.name}: version {version} in backend {self.name!r} was abandoned "
                    "while pending and is never promoted; bump spec.version for a new rotation"
                )
            value = self.read(ref, version)
            promoted = self.write(
                ref, version, value, name=record.name, commit=record.commit, key=key
            )
        self._clean(ref, version)
        return promoted

    def _below(self, version: int, records: Mapping[int, Record], name: str) -> None:
        if records and version < max(records):
            raise VersionConflict(
                f"{name}: version {version} is below version {max(records)} in backend "
                f"{self.name!r}; a rollback is a new version above the newest"
            )

    def _pending_same(  # noqa: PLR0917 - the stored pending record, checked
        self,
        ref: str,
        pending: dict[int, Pending],
        version: int,
        name: str,
        key: str,
        records: Mapping[int, Record],
    ) -> AppliedVersion:
        if version not in pending or max(pending) > version:
            raise VersionConflict(
                f"{name}: version {version} is below version {max(pending)} in backend "
                f"{self.name!r}; a rollback is a new version above the newest"
            )
        record = pending[version]
        if record.key != key:
            raise VersionConflict(
                f"{name}: version {version} is already in backend {self.name!r} with "
                f"another idempotency key (got {key}, stored {record.key}); a version is "
                "written once: bump spec.version for a new value"
            )
        return record.applied(ref, _step(version, pending, records))

    def _staged(
        self, ref: str, version: int, key: str, *, records: Mapping[int, Record] | None = None
    ) -> tuple[Any, Pending, str]:
        """The sibling secret, pending version N's record and step: BackendError when N is
        not pending, VersionConflict when written with another key."""
        if records is None:
            records = self._records(ref)
            if version in records:
                stage = _stage(version, records)
                raise BackendError(
                    f"backend {self.name!r}: version {version} is {stage}, not pending; "
                    "only a pending version is marked"
                )
        secret = self._secret(PENDING_PREFIX + ref, create=False)
        pending = _pendings(secret.annotations) if secret is not None else {}
        record = pending.get(version)
        if record is None:
            raise BackendError(
                f"backend {self.name!r} ({KIND}) holds no version {version} of this secret"
            )
        if record.key != key:
            raise VersionConflict(
                f"{record.name}: version {version} is already in backend {self.name!r} with "
                f"another idempotency key (got {key}, stored {record.key})"
            )
        return secret, record, _step(version, pending, records)

    def _clean(self, ref: str, version: int) -> None:
        """After promoting ``version``: destroy the sibling's versions up to the newest one
        recorded at or below it (their values are gone for good), then drop those records
        (CAS); a run killed in between does both again."""
        sibling = PENDING_PREFIX + ref
        secret = self._secret(sibling, create=False)
        pending = _pendings(secret.annotations) if secret is not None else {}
        done = {f"{PREFIX}{n}": record.gcp for n, record in pending.items() if n <= version}
        if not done:
            return
        top = max(done.values())
        with self._calls("list versions"):
            listing = self.client().list_secret_versions(
                parent=self._path(sibling), timeout=TIMEOUT
            )
            doomed = [
                _number(item.name)
                for item in listing
                if _number(item.name) <= top and item.state.name != "DESTROYED"
            ]
        for number in doomed:
            name = f"{self._path(sibling)}/versions/{number}"
            with self._calls(f"destroy GCP version {number}"):
                self.client().destroy_secret_version(name=name, timeout=TIMEOUT)
        while True:
            kept = {k: v for k, v in secret.annotations.items() if k not in done}
            try:
                self._patch(sibling, secret, kept)
            except _Lost:
                secret = self._secret(sibling, create=False)
                continue
            return

    def _pendings(self, ref: str) -> dict[int, Pending]:
        secret = self._secret(PENDING_PREFIX + ref, create=False)
        return {} if secret is None else _pendings(secret.annotations)

    def close(self) -> None:
        """Nothing to release (the client's HTTP session closes with the process)."""

    # --- the API ----------------------------------------------------------------------------

    def client(self) -> Any:
        """The Secret Manager client (REST), made on first use."""
        if self._client is None:
            with self._calls("start the Secret Manager client"):
                from google.cloud import secretmanager_v1

                options: dict[str, str] = {}
                credentials = None
                if self.endpoint:
                    options["api_endpoint"] = self.endpoint
                if self.endpoint.startswith("http://"):
                    from google.auth.credentials import AnonymousCredentials

                    credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
                self._client = secretmanager_v1.SecretManagerServiceClient(
                    transport="rest", credentials=credentials, client_options=options
                )
        return self._client

    def _path(self, ref: str) -> str:
        check_secret_id(ref)
        from google.cloud import secretmanager_v1  # the SDK's own spelling of a secret's name

        return secretmanager_v1.SecretManagerServiceClient.secret_path(self.project, ref)

    def _records(self, ref: str) -> dict[int, Record]:
        secret = self._secret(ref, create=False)
        return {} if secret is None else _parse(secret.annotations)[0]

    def _secret(self, ref: str, *, create: bool) -> Any:
        """The secret (None when absent and not ``create``)."""
        from google.api_core import exceptions

        path = self._path(ref)
        try:
            with self._calls("read a secret", let=(exceptions.NotFound,)):
                return self.client().get_secret(name=path, timeout=TIMEOUT)
        except exceptions.NotFound:
            self._check_project()
        if not create:
            return None
        body = {"replication": {"automatic": {}}, "labels": {"managed-by": "gitrot"}}
        try:
            with self._calls("create a secret", let=(exceptions.Conflict,)):
                return self.client().create_secret(
                    parent=f"projects/{self.project}", secret_id=ref, secret=body, timeout=TIMEOUT
                )
        except exceptions.Conflict:  # ALREADY_EXISTS: another writer created it
            with self._calls("read a secret"):
                return self.client().get_secret(name=path, timeout=TIMEOUT)

    def _check_project(self) -> None:
        """A secret was not found: unreachable (exit 3) if its project is unknown."""
        if self._project_checked:
            return
        with self._calls("list secrets"):
            pager = self.client().list_secrets(
                request={"parent": f"projects/{self.project}", "page_size": 1}, timeout=TIMEOUT
            )
            next(iter(pager), None)
        self._project_checked = True

    def _patch(self, ref: str, secret: Any, annotations: dict[str, str]) -> Any:
        """The secret with ``annotations``, if its etag is still ``secret``'s (else _Lost)."""
        from google.api_core import exceptions

        body = {"name": self._path(ref), "annotations": annotations, "etag": secret.etag}
        lost = (exceptions.Conflict, exceptions.FailedPrecondition, exceptions.Aborted)
        try:
            with self._calls("update a secret's annotations", let=(*lost, exceptions.BadRequest)):
                return self.client().update_secret(
                    secret=body, update_mask={"paths": ["annotations"]}, timeout=TIMEOUT
                )
        except lost:
            raise _Lost from None
        except exceptions.BadRequest:
            # FAILED_PRECONDITION maps to 400 in REST: an etag that moved is a lost race
            if self._secret(ref, create=False).etag != secret.etag:
                raise _Lost from None
            raise self._refused("update a secret's annotations", 400) from None

    @contextlib.contextmanager
    def _calls(
        self, doing: str, *, let: tuple[type[Exception], ...] = (), version: int = 0
    ) -> Iterator[None]:
        """Turn the client's failures into one-line BackendErrors that name the backend,
        the project and what to do; those in ``let`` pass (the caller decides)."""
        try:
            yield
        except BackendError:
            raise
        except let:
            raise
        except Exception as exc:
            raise self._failure(doing, exc, version) from None

    def _failure(self, doing: str, exc: Exception, version: int) -> BackendError:
        from google.api_core import exceptions
        from google.auth import exceptions as auth

        where = f"backend {self.name!r} ({KIND}, project {self.project})"
        if isinstance(exc, auth.DefaultCredentialsError):
            return BackendError(
                f"{where}: no Application Default Credentials; run `gcloud auth "
                "application-default login` or set GOOGLE_APPLICATION_CREDENTIALS",
                unreachable=True,
            )
        if isinstance(exc, auth.GoogleAuthError):
            return BackendError(
                f"{where}: cannot authenticate ({type(exc).__name__}); renew the Application "
                "Default Credentials",
                unreachable=True,
            )
        if isinstance(exc, exceptions.GoogleAPICallError):
            return self._answered(where, doing, exc, version)
        if isinstance(exc, exceptions.RetryError | OSError | TimeoutError):
            endpoint = self.endpoint or "secretmanager.googleapis.com"
            return BackendError(
                f"{where}: cannot reach Secret Manager at {endpoint} to {doing} "
                f"({type(exc).__name__}); check the endpoint and the network",
                unreachable=True,
            )
        return BackendError(f"{where}: cannot {doing} ({type(exc).__name__})", unreachable=True)

    def _answered(self, where: str, doing: str, exc: Any, version: int) -> BackendError:
        code = exc.code if isinstance(exc.code, int) else 0
        if code in (401, 403):
            return BackendError(
                f"{where}: permission denied to {doing} (HTTP {code}); grant the "
                "service account the roles in docs/backends.md",
                unreachable=True,
            )
        if code == 404 and doing == "list secrets":
            return BackendError(
                f"{where}: the project is not found (HTTP 404); check backends.{self.name}"
                ".project and that the Secret Manager API is enabled in it",
                unreachable=True,
            )
        if code == 400 and version and doing.startswith("read"):
            return BackendError(
                f"{where}: GCP version {version} cannot be read (HTTP 400: disabled or "
                "destroyed); enable it in Secret Manager or rotate to a new version"
            )
        if code == 429 or code >= 500:
            return BackendError(
                f"{where}: Secret Manager answered HTTP {code} to {doing}; run again later",
                unreachable=True,
            )
        return self._refused(doing, code)

    def _refused(self, doing: str, code: int) -> BackendError:
        return BackendError(
            f"backend {self.name!r} ({KIND}, project {self.project}): Secret Manager refused "
            f"to {doing} (HTTP {code})"
        )


def _parse(annotations: Mapping[str, str]) -> tuple[dict[int, Record], Claim | None]:
    """gitrot's records and claim in a secret's annotations (others ignored)."""
    records = {}
    claim = None
    for key, value in annotations.items():
        if key == CLAIM:
            match = _CLAIMED.fullmatch(value)
            if match is not None:
                claim = Claim(int(match[1]), match[2], int(match[3]), int(match[4]))
            continue
        number = key.removeprefix(PREFIX)
        if key.startswith(PREFIX) and number.isdigit() and not number.startswith("0"):
            found = _RECORD.fullmatch(value)
            if found is not None:
                gcp, key_, commit, at, name = found.groups()
                records[int(number)] = Record(int(number), int(gcp), key_, commit, int(at), name)
    return records, claim


def _pendings(annotations: Mapping[str, str]) -> dict[int, Pending]:
    """The pending records in a sibling secret's annotations."""
    found = {}
    for key, value in annotations.items():
        number = key.removeprefix(PREFIX)
        if key.startswith(PREFIX) and number.isdigit() and not number.startswith("0"):
            match = _STAGED.fullmatch(value)
            if match is not None:
                gcp, key_, commit, at, step, name = match.groups()
                found[int(number)] = Pending(
                    int(number), int(gcp), key_, commit, int(at), step, name
                )
    return found


def _step(version: int, pending: Mapping[int, Pending], records: Mapping[int, Record]) -> str:
    """A pending version's step: ``abandoned`` when a newer one follows it (pending or
    promoted)."""
    newest = max([*pending, *records])
    return pending[version].step if version == newest else ABANDONED


def _prune(annotations: dict[str, str]) -> None:
    """Keep the newest :data:`KEEP` records."""
    numbers = sorted(
        int(k.removeprefix(PREFIX))
        for k in annotations
        if k.startswith(PREFIX) and k.removeprefix(PREFIX).isdigit()
    )
    for number in numbers[:-KEEP]:
        del annotations[f"{PREFIX}{number}"]


def _number(name: str) -> int:
    return int(name.rsplit("/", 1)[-1])


def _stage(version: int, records: Mapping[int, Record]) -> str:
    return "current" if version == max(records) else "previous"


def _applied(ref: str, record: Record, stage: str) -> AppliedVersion:
    return AppliedVersion(
        ref=ref,
        version=record.version,
        name=record.name,
        commit=record.commit,
        key=record.key,
        backend_id=str(record.gcp),
        written_at=record.written_at,
        stage=stage,
        step=PROMOTED,
    )
