"""The ``vault`` backend: a KV version 2 mount of HashiCorp Vault or OpenBao (docs/backends.md).

Options (``backends.<name>`` in gitrot.yaml)::

    type: vault
    url: https://vault.example:8200    # required; plain http only for a loopback host
    mount: secret                      # the KV v2 mount (default secret)
    token_env: VAULT_TOKEN             # the variable holding the token (default VAULT_TOKEN)
    token_file: ~/.vault-token         # or a file holding it (relative: to the repository root)
    namespace: team-a                  # Vault Enterprise / OpenBao namespace (optional)
    ca_cert: certs/vault-ca.pem        # the CA to verify the server with (optional)
    field: value                       # the data field consumers read (default value)

Version mapping: the KV secret at ``<mount>/data/<ref>`` gets one KV version per gitrot
version. Its data holds the value under ``field`` and gitrot's record beside it:
``gitrot_version`` (the intent's version N), ``gitrot_name``, ``gitrot_commit`` and
``gitrot_key`` (the idempotency key). The record lives in the version data, not in the
secret's ``custom_metadata``, because custom metadata is one map per secret, written by a
second request that no check-and-set guards, and is capped at 64 keys: the version data is
written in the one request that creates the version, so a version and its record appear
together or not at all. ``backend_id`` is the KV version number, ``written_at`` its
``created_time``. KV versions without gitrot's record (written by hand) and deleted or
destroyed versions are skipped: the newest version gitrot wrote is the current one.

Every write sends ``cas`` = the KV version it read: a writer whose view is stale fails on
the server instead of overwriting; it then reads again and returns the version a concurrent
reconciler stored (same key), or fails, nothing written, for the next run to converge.

Pending versions (a rotation at the source, :meth:`VaultBackend.write_pending`): a new KV
version of ``<ref>`` is what ``vault kv get`` returns, so a pending value is kept at the
sibling path ``<mount>/data/gitrot-pending/<ref>`` (:data:`PENDING_ROOT`, outside the
consumers' paths), with the same record and ``gitrot_step``. Each write there (the pending
value, then one per step: :meth:`~VaultBackend.mark` writes the same data with the next step)
is one check-and-set request, so a run killed between any two requests finds the value and
the step it left. :meth:`~VaultBackend.promote` writes the same value to ``<ref>`` (one
check-and-set write: the commit point, after which it is current and the version before it
previous), then destroys the pending path's KV versions up to it. A pending record that a
newer one (or a promoted newer version) follows is ``abandoned``.

The token comes from the environment or a file, never from gitrot.yaml, and is sent only
to ``url`` (redirects are not followed). Messages name the backend, the server's URL and
the mount, never the token, a value or the ref (refs are encrypted in git).
"""

from __future__ import annotations

import calendar
import dataclasses
import ipaddress
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

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

# hvac and requests (the HTTP stack) load when the server is first used: the validate
# hook loads this module for check_options alone

OPTIONS = ("ca_cert", "field", "mount", "namespace", "token_env", "token_file", "url")
DEFAULT_MOUNT = "secret"
DEFAULT_TOKEN_ENV = "VAULT_TOKEN"  # noqa: S105 - a variable's name
DEFAULT_FIELD = "value"
TIMEOUT_S = 10.0
PREFIX = "gitrot_"
RECORD = ("version", "name", "commit", "key")  # stored as gitrot_<field>
#: where pending values live, beside the refs: ``<mount>/data/gitrot-pending/<ref>``
PENDING_ROOT = "gitrot-pending"
#: the steps of a pending version, in order (``abandoned`` ends it, never promoted)
STEPS = (WRITTEN, SET, TESTED, ABANDONED)
#: KV versions of a pending path destroyed at most per promotion (the ones since the last)
DESTROY_SPAN = 100
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
_PATH = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
_FIELD = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
MAX_REF = 200
_REF_RULE = (
    "a vault ref is a KV path of segments of letters, digits, '.', '_' and '-', none "
    f"starting with '.', at most {MAX_REF} characters"
)


@dataclasses.dataclass(frozen=True, slots=True)
class VaultOptions:
    """The checked options of one vault backend (:func:`check_options`)."""

    url: str
    mount: str
    field: str
    token_env: str | None
    token_file: str | None
    namespace: str | None
    ca_cert: str | None


def check_options(name: str, options: Mapping[str, object]) -> VaultOptions:
    """The options of ``backends.<name>`` (type vault), or an OptionError: the one check
    the loader (``validate``, ``check``) and the backend share; nothing is contacted."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise OptionError(
            f"backends.{name}: unknown option {unknown[0]!r} for type vault",
            option=unknown[0],
            hint=f"a vault backend takes: {', '.join(OPTIONS)} (the token comes from "
            "token_env or token_file, never from gitrot.yaml)",
        )
    if "token_env" in options and "token_file" in options:
        raise OptionError(
            f"backends.{name}: give token_env or token_file, not both",
            option="token_file",
            hint="the token is read from one place",
        )
    default_env = None if "token_file" in options else DEFAULT_TOKEN_ENV
    token_env = _text(name, options, "token_env", default_env)
    if token_env is not None and not _ENV_NAME.fullmatch(token_env):
        raise _fail(name, "token_env", "must name an environment variable", "like VAULT_TOKEN")
    return VaultOptions(
        url=_url(name, options.get("url")),
        mount=_path(name, options, "mount", DEFAULT_MOUNT) or DEFAULT_MOUNT,
        field=_field(name, options),
        token_env=token_env,
        token_file=_text(name, options, "token_file", None),
        namespace=_path(name, options, "namespace", None),
        ca_cert=_text(name, options, "ca_cert", None),
    )


class VaultBackend:
    """One KV v2 mount (see the module docstring). Safe to share between threads: each
    thread talks through its own HTTP session."""

    #: the registry's check of the options (``gitrot validate``): contacts nothing
    check_options = staticmethod(check_options)

    def __init__(self, name: str, options: Mapping[str, object], context: BackendContext) -> None:
        self.name = name
        self.options = check_options(name, options)
        self._root = context.root
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list[Any] = []
        self._token: str | None = None
        self._checked = False

    # --- the Backend port -------------------------------------------------------------------

    def current(self, refs: Iterable[str]) -> dict[str, AppliedVersion]:
        """The newest version of each ref: the pending one when it is above the newest
        promoted one."""
        found = {}
        for ref in refs:
            newest = next(self._records(ref), None)
            pending = self._pending_latest(ref)[0]
            if pending is not None and (newest is None or pending.version > newest[0].version):
                found[ref] = pending
            elif newest is not None:
                found[ref] = newest[0]
        return found

    def get(self, ref: str, version: int) -> AppliedVersion | None:
        newest, found = self._promoted(ref, version)
        if found is not None:
            return found[0]
        pending = self._pending(ref, version, newest)
        return pending[0] if pending is not None else None

    def versions(self, ref: str) -> list[AppliedVersion]:
        """Every promoted version of ``ref`` gitrot wrote that the server still holds,
        oldest first."""
        return [record for record, _data in reversed(list(self._records(ref)))]

    def read(self, ref: str, version: int | None = None) -> SecretValue:
        """The value of ``version`` (pending or not), by default of the newest promoted one."""
        if version is None:
            found = next(self._records(ref), None)
        else:
            newest, found = self._promoted(ref, version)
            pending = self._pending(ref, version, newest) if found is None else None
            found = found if pending is None else pending[:2]
        if found is None:
            which = "no version" if version is None else f"no version {version}"
            raise BackendError(f"backend {self.name!r} holds {which} of this secret")
        record, data = found
        value = data.get(self.options.field)
        if not isinstance(value, str):
            raise self._no_field(record.version)
        return SecretValue(value)

    def write(
        self, ref: str, version: int, value: SecretValue, *, name: str, commit: str, key: str
    ) -> AppliedVersion:
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise BackendError(f"backend {self.name!r}: version must be a positive integer")
        if not key:
            raise BackendError(f"backend {self.name!r}: the idempotency key is empty")
        stored, cas = self._existing(ref, version, name, key)
        if stored is not None:
            return stored
        fields = {"name": name, "commit": commit, "key": key}
        return self._store(
            ref,
            version,
            value.reveal(),
            **fields,
            cas=cas,
            stored=lambda: self._existing(ref, version, name, key)[0],
        )

    def write_pending(
        self, ref: str, version: int, value: SecretValue, *, name: str, commit: str, key: str
    ) -> AppliedVersion:
        """Store ``value`` at the pending path (one check-and-set write): ``<ref>`` keeps its
        value. Idempotent on ``key`` as :meth:`write`."""
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise BackendError(f"backend {self.name!r}: version must be a positive integer")
        if not key:
            raise BackendError(f"backend {self.name!r}: the idempotency key is empty")
        promoted, _cas = self._existing(ref, version, name, key)
        if promoted is not None:
            return promoted
        top, _data, kv = self._pending_latest(ref)
        if top is not None and top.version >= version:
            return self._same(top, version, name, key)

        def stored() -> AppliedVersion | None:  # after a lost check-and-set
            again = self._pending_latest(ref)[0]
            mine = again is not None and again.version == version
            return self._same(again, version, name, key) if again and mine else None

        fields = {"name": name, "commit": commit, "key": key}
        return self._store(
            ref, version, value.reveal(), **fields, cas=kv, step=WRITTEN, stored=stored
        )

    def mark(self, ref: str, version: int, step: str, *, key: str) -> AppliedVersion:
        """Write the pending data again with ``step`` (check-and-set); a step never goes
        back and ``abandoned`` is final."""
        if step not in STEPS:
            raise BackendError(
                f"backend {self.name!r}: a pending version is marked {', '.join(STEPS[1:])}, "
                f"not {step!r}"
            )
        record, data, kv = self._staged(ref, version, key)
        if record.step == ABANDONED or STEPS.index(step) <= STEPS.index(record.step):
            return record
        value = data.get(self.options.field)
        if not isinstance(value, str):
            raise self._no_field(version)

        def stored() -> AppliedVersion | None:  # after a lost check-and-set
            again = self._staged(ref, version, key)[0]
            reached = again.step == ABANDONED or STEPS.index(again.step) >= STEPS.index(step)
            return again if reached else None

        fields = {"name": record.name, "commit": record.commit, "key": key}
        return self._store(ref, version, value, **fields, cas=kv, step=step, stored=stored)

    def promote(self, ref: str, version: int, *, key: str) -> AppliedVersion:
        """Write the pending value to ``<ref>`` (check-and-set: it becomes current, the
        version before it previous), then destroy the pending path's KV versions up to it;
        idempotent (a promoted version returns its record)."""
        newest, found = self._promoted(ref, version)
        if found is not None:
            if found[0].key != key:
                raise self._conflict(found[0].name, version, key, found[0].key)
            top, _data, kv = self._pending_latest(ref)
            if top is not None and top.version <= version:
                self._destroy(ref, kv)  # killed before the destroy
            return found[0]
        record, data, kv = self._staged(ref, version, key, newest=newest)
        if record.step == ABANDONED:
            raise BackendError(
                f"{record.name}: version {version} in backend {self.name!r} was abandoned "
                "while pending and is never promoted; bump spec.version for a new rotation"
            )
        value = data.get(self.options.field)
        if not isinstance(value, str):
            raise self._no_field(version)
        name = record.name
        stored, cas = self._existing(ref, version, name, key)
        fields = {"name": name, "commit": record.commit, "key": key}
        promoted = stored or self._store(
            ref,
            version,
            value,
            **fields,
            cas=cas,
            stored=lambda: self._existing(ref, version, name, key)[0],
        )
        self._destroy(ref, kv)
        return promoted

    def close(self) -> None:
        """Close every thread's HTTP session."""
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.adapter.close()

    # --- versions on the server -------------------------------------------------------------

    def _store(
        self,
        ref: str,
        version: int,
        value: str,
        *,
        name: str,
        commit: str,
        key: str,
        cas: int,
        stored: Callable[[], AppliedVersion | None],
        step: str | None = None,
    ) -> AppliedVersion:
        """One check-and-set write of ``value`` and its record: to ``<ref>``, or with a
        ``step`` to the pending path. On a lost check-and-set, ``stored()`` (what a
        concurrent run stored, when it is what this write wanted), else BackendError
        (nothing written)."""
        data: dict[str, object] = {self.options.field: value, f"{PREFIX}version": version}
        data |= {f"{PREFIX}name": name, f"{PREFIX}commit": commit, f"{PREFIX}key": key}
        if step is not None:
            data[f"{PREFIX}step"] = step
        body = {"options": {"cas": cas}, "data": data}
        url = self._url("data", ref, pending=step is not None)
        try:
            answer = self._request("write", "post", url, json=body)
        except _CasMismatch:
            theirs = stored()
            if theirs is not None:
                return theirs  # a concurrent reconciler stored this version first
            raise BackendError(
                f"backend {self.name!r}: the secret changed on the server while {name} "
                f"version {version} was written (check-and-set); nothing was written: "
                "run gitrot reconcile again"
            ) from None
        meta = answer.get("data") if isinstance(answer, dict) else None
        kv_version, written = _version_meta(meta)
        if kv_version is None:
            raise self._unexpected("write")
        return AppliedVersion(
            ref=ref,
            version=version,
            name=name,
            commit=commit,
            key=key,
            backend_id=str(kv_version) if step is None else f"{PENDING_ROOT}:{kv_version}",
            written_at=written,
            stage=PENDING if step is not None else "current",
            step=step or PROMOTED,
        )

    def _promoted(
        self, ref: str, version: int
    ) -> tuple[AppliedVersion | None, tuple[AppliedVersion, dict[str, object]] | None]:
        """``(the newest promoted record, version's record and data or None)``."""
        newest = None
        for record, data in self._records(ref):
            newest = newest or record
            if record.version == version:
                return newest, (record, data)
            if record.version < version:
                break
        return newest, None

    def _pending_latest(self, ref: str) -> tuple[AppliedVersion | None, dict[str, object], int]:
        """The pending path's newest KV version: its record (None when destroyed or not
        gitrot's), data and number (0 when there is none)."""
        latest = self._read(ref, None, pending=True)
        if latest is None:
            return None, {}, 0
        kv_version, data, written = latest
        return self._record(ref, kv_version, data, written, PENDING, pending=True), data, kv_version

    def _pending(
        self, ref: str, version: int, newest: AppliedVersion | None
    ) -> tuple[AppliedVersion, dict[str, object], int] | None:
        """Version N on the pending path (its newest record there, data, KV version); its
        step is ``abandoned`` when a newer version follows it there, or is promoted."""
        found, top = self._read(ref, None, pending=True), True
        while found is not None:
            kv_version, data, written = found
            record = self._record(ref, kv_version, data, written, PENDING, pending=True)
            if record is None or record.version < version:
                return None  # destroyed (with all below it), or N never pending
            if record.version == version:
                if not top or (newest is not None and newest.version >= version):
                    record.step = ABANDONED
                return record, data, kv_version
            top = False
            found = self._read(ref, kv_version - 1, pending=True) if kv_version > 1 else None
        return None

    def _staged(
        self, ref: str, version: int, key: str, *, newest: AppliedVersion | None = None
    ) -> tuple[AppliedVersion, dict[str, object], int]:
        """Pending version N (record, data, KV version): BackendError when it is not
        pending, VersionConflict when written with another key."""
        if newest is None:
            newest, found = self._promoted(ref, version)
            if found is not None:
                raise BackendError(
                    f"backend {self.name!r}: version {version} is {found[0].stage}, not "
                    "pending; only a pending version is marked"
                )
        pending = self._pending(ref, version, newest)
        if pending is None:
            raise BackendError(f"backend {self.name!r} holds no version {version} of this secret")
        if pending[0].key != key:
            raise self._conflict(pending[0].name, version, key, pending[0].key)
        return pending

    def _same(self, record: AppliedVersion, version: int, name: str, key: str) -> AppliedVersion:
        """The pending ``record`` when it is ``version`` with ``key``, else VersionConflict."""
        if record.version > version:
            raise VersionConflict(
                f"{name}: version {version} is below version {record.version} in backend "
                f"{self.name!r}; a rollback is a new version above the newest"
            )
        if record.key != key:
            raise self._conflict(name, version, key, record.key)
        return record

    def _destroy(self, ref: str, kv_version: int) -> None:
        """Destroy the pending path's KV versions up to ``kv_version`` (the value is gone;
        a newer pending version written meanwhile stays)."""
        versions = list(range(max(1, kv_version - DESTROY_SPAN + 1), kv_version + 1))
        url = self._url("destroy", ref, pending=True)
        self._request("destroy", "post", url, json={"versions": versions})

    def _conflict(self, name: str, version: int, key: str, stored: str) -> VersionConflict:
        return VersionConflict(
            f"{name}: version {version} is already in backend {self.name!r} "
            f"with another idempotency key (got {key}, stored {stored}); "
            "a version is written once: bump spec.version for a new value"
        )

    def _no_field(self, version: int) -> BackendError:
        return BackendError(
            f"backend {self.name!r}: version {version} has no text field "
            f"{self.options.field!r} (changed outside gitrot); write a new version"
        )

    def _existing(
        self, ref: str, version: int, name: str, key: str
    ) -> tuple[AppliedVersion | None, int]:
        """``(the stored record of version, None)`` when it is there with ``key``, else
        ``(None, the newest KV version to write over, 0 for none)``; VersionConflict for
        another key or a newer version."""
        latest = self._read(ref, None)
        newest: AppliedVersion | None = None
        for record, _data in self._walk(ref, latest):
            newest = newest or record
            if record.version == version:
                if record.key != key:
                    raise self._conflict(name, version, key, record.key)
                return record, 0
            if record.version < version:
                break
        if newest is not None and version < newest.version:
            raise VersionConflict(
                f"{name}: version {version} is below version {newest.version} in backend "
                f"{self.name!r}; a rollback is a new version above the newest"
            )
        return None, latest[0] if latest is not None else 0

    def _records(self, ref: str) -> Iterator[tuple[AppliedVersion, dict[str, object]]]:
        """gitrot's versions of ``ref``, newest first, with their data."""
        return self._walk(ref, self._read(ref, None))

    def _walk(
        self, ref: str, latest: tuple[int, dict[str, object], int] | None
    ) -> Iterator[tuple[AppliedVersion, dict[str, object]]]:
        """gitrot's versions from the KV version ``latest`` down, read lazily (one request
        per KV version): KV versions without gitrot's record are skipped."""
        found, stage = latest, "current"
        while found is not None:
            kv_version, data, written = found
            record = self._record(ref, kv_version, data, written, stage)
            if record is not None:
                yield record, data
                stage = "previous"
            # None before the first version, or pruned by max_versions: none older
            found = self._read(ref, kv_version - 1) if kv_version > 1 else None

    def _record(
        self,
        ref: str,
        kv_version: int,
        data: dict[str, object],
        written: int,
        stage: str,
        *,
        pending: bool = False,
    ) -> AppliedVersion | None:
        """gitrot's record in a KV version's data; None for a version gitrot did not write
        (on the pending path: without a step)."""
        fields = [data.get(PREFIX + field) for field in RECORD]
        version, name, commit, key = fields
        step = data.get(f"{PREFIX}step") if pending else PROMOTED
        if type(version) is not int or version < 1 or not isinstance(step, str):
            return None
        if not all(isinstance(text, str) and text for text in (name, commit, key)):
            return None
        if pending and step not in STEPS:
            return None
        return AppliedVersion(
            ref=ref,
            version=version,
            name=str(name),
            commit=str(commit),
            key=str(key),
            backend_id=f"{PENDING_ROOT}:{kv_version}" if pending else str(kv_version),
            written_at=written,
            stage=stage,
            step=step,
        )

    def _read(
        self, ref: str, kv_version: int | None, *, pending: bool = False
    ) -> tuple[int, dict[str, object], int] | None:
        """``(KV version, data, created_time)`` of ``kv_version`` (default the newest) of
        ``<ref>`` or its pending path, with empty data for a deleted or destroyed version;
        None when there is no such version."""
        params = {} if kv_version is None else {"version": kv_version}
        url = self._url("data", ref, pending=pending)
        try:
            answer = self._request("read pending" if pending else "read", "get", url, params=params)
        except _NotFound as missing:
            answer = missing.body
        body = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(body, dict):
            return None
        number, written = _version_meta(body.get("metadata"))
        if number is None:
            raise self._unexpected("read")
        data = body.get("data")
        return number, data if isinstance(data, dict) else {}, written

    # --- HTTP -------------------------------------------------------------------------------

    def _url(self, kind: str, ref: str, *, pending: bool = False) -> str:
        if not isinstance(ref, str) or len(ref) > MAX_REF or not _PATH.fullmatch(ref):
            raise BackendError(f"the target ref is not a valid vault ref: {_REF_RULE}")
        if ref.startswith(f"{PENDING_ROOT}/"):
            raise BackendError(
                f"the target ref is not a valid vault ref: {PENDING_ROOT}/ holds gitrot's "
                "pending values"
            )
        path = f"{PENDING_ROOT}/{ref}" if pending else ref
        return f"/v1/{quote(self.options.mount)}/{kind}/{quote(path)}"

    def _request(self, doing: str, method: str, url: str, **kwargs: object) -> object:
        """The JSON answer of one request; _NotFound (404), _CasMismatch, or a BackendError
        naming the backend and what to do."""
        client = self._client()
        if not self._checked:
            self._check_mount(client)
        return self._answer(doing, self._send(client, method, url, **kwargs))

    def _send(self, client: Any, method: str, url: str, **kwargs: object) -> Any:
        """The HTTP response; a BackendError when the server cannot be reached."""
        import requests

        try:
            return client.adapter.request(method, url, raise_exception=False, **kwargs)
        except requests.exceptions.SSLError:
            self._fail(
                f"cannot verify the TLS certificate of {self.options.url}",
                f"give the CA that signed it in backends.{self.name}.ca_cert, or fix url",
            )
        except requests.exceptions.Timeout:
            self._fail(f"{self.options.url} did not answer within {TIMEOUT_S:g} s", "check url")
        except requests.exceptions.RequestException:
            self._fail(
                f"cannot connect to {self.options.url}",
                f"start the server or fix backends.{self.name}.url",
            )

    def _answer(self, doing: str, response: Any) -> object:
        """The JSON body of a 2xx; else judged by its status, never by its text (which
        may repeat the ref)."""
        status = response.status_code
        body = _json(response)
        if 200 <= status < 300:
            return body
        if status == 404 or (status == 403 and doing == "read pending"):
            raise _NotFound(body)  # a token that may not read gitrot-pending/ sees none there
        if status == 400 and "check-and-set" in _errors(body):
            raise _CasMismatch
        if status in (401, 403):
            what = "read" if doing == "read" else "create, update and read"
            where = f"{self.options.mount}/data/*"
            if doing == "destroy":
                what, where = "update", f"{self.options.mount}/destroy/{PENDING_ROOT}/*"
            self._fail(
                f"{self.options.url} refused the token from {self._token_source()} "
                f"to {doing} ({status} permission denied)",
                f"give a valid token whose policy allows {what} on {where} (docs/backends.md)",
            )
        if status == 503:
            self._fail(
                f"{self.options.url} is sealed or unavailable (503)",
                "unseal it (bao operator unseal) or wait for it, then run again",
            )
        if status >= 500 or status == 429:
            self._fail(f"{self.options.url} answered {status} to {doing}", "try again later")
        raise BackendError(
            f"backend {self.name!r} (vault): {self.options.url} refused to {doing} ({status}); "
            f"check backends.{self.name}.mount and the ref"
        )

    def _client(self) -> Any:
        """This thread's client (one HTTP session each)."""
        client = getattr(self._local, "client", None)
        if client is not None:
            return client
        import hvac
        import hvac.adapters

        options = self.options
        verify: str | bool = True
        if options.ca_cert is not None:
            verify = self._path(options.ca_cert)
            if not os.path.isfile(verify):
                self._fail(
                    f"the CA file of ca_cert ({options.ca_cert}) is missing",
                    f"fix backends.{self.name}.ca_cert",
                )
        client = hvac.Client(
            url=options.url,
            token=self._read_token(),
            verify=verify,
            timeout=TIMEOUT_S,
            namespace=options.namespace,
            allow_redirects=False,  # the token goes to url and nowhere else
            adapter=hvac.adapters.RawAdapter,  # responses as they came: statuses judged here
        )
        with self._lock:
            self._clients.append(client)
        self._local.client = client
        return client

    def _check_mount(self, client: Any) -> None:
        """Before the first request: the mount exists, is KV version 2, and the token may
        use it (the same preflight the bao and vault CLIs make)."""
        url = f"/v1/sys/internal/ui/mounts/{quote(self.options.mount)}"
        response = self._send(client, "get", url)
        status, body = response.status_code, _json(response)
        unknown = status in (400, 404) or (status == 403 and "preflight" in _errors(body))
        if unknown:
            self._fail(
                f"{self.options.url} has no mount {self.options.mount!r} the token may use",
                f"fix backends.{self.name}.mount, or enable a KV v2 engine there "
                "(bao secrets enable -version=2 -path=NAME kv)",
            )
        answer = self._answer("read", response)
        mount = answer.get("data") if isinstance(answer, dict) else None
        options = mount.get("options") if isinstance(mount, dict) else None
        version = options.get("version") if isinstance(options, dict) else None
        if (
            not isinstance(mount, dict)
            or mount.get("type") not in ("kv", "generic")
            or version != "2"
        ):
            self._fail(
                f"the mount {self.options.mount!r} at {self.options.url} is not a KV version 2 "
                "secrets engine",
                f"point backends.{self.name}.mount at a KV v2 mount "
                "(bao secrets enable -version=2 -path=NAME kv)",
            )
        self._checked = True

    def _read_token(self) -> str:
        if self._token is not None:
            return self._token
        options = self.options
        if options.token_file is not None:
            path = self._path(options.token_file)
            try:
                with open(path, encoding="utf-8") as handle:
                    token = handle.read().strip()
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
                self._fail(
                    f"cannot read the token file {options.token_file} ({reason})",
                    f"fix backends.{self.name}.token_file",
                )
        else:
            token = os.environ.get(str(options.token_env), "").strip()
        if not token or not token.isprintable():
            self._fail(
                f"no token in {self._token_source()}",
                "log in (bao login / vault login) and set it, or set token_env or token_file",
            )
        self._token = token
        return token

    def _token_source(self) -> str:
        if self.options.token_file is not None:
            return f"the file {self.options.token_file}"
        return f"${self.options.token_env}"

    def _path(self, path: str) -> str:
        return os.path.join(self._root, os.path.expanduser(path))

    def _fail(self, problem: str, hint: str) -> NoReturn:
        raise BackendError(f"backend {self.name!r} (vault): {problem}; {hint}", unreachable=True)

    def _unexpected(self, doing: str) -> BackendError:
        return BackendError(
            f"backend {self.name!r} (vault): {self.options.url} gave an answer that is not "
            f"KV version 2 to {doing}; check that {self.options.mount!r} is a KV v2 mount",
            unreachable=True,
        )


def _json(response: Any) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _errors(body: object) -> str:
    errors = body.get("errors") if isinstance(body, dict) else None
    return " ".join(str(e) for e in errors) if isinstance(errors, list) else ""


class _NotFound(Exception):
    def __init__(self, body: object) -> None:
        super().__init__("404")
        self.body = body


class _CasMismatch(Exception):
    pass


def _version_meta(meta: object) -> tuple[int | None, int]:
    """``(version, created_time in epoch seconds)`` of a KV version's metadata."""
    if not isinstance(meta, dict) or type(meta.get("version")) is not int:
        return None, 0
    created = meta.get("created_time")
    written = 0
    if isinstance(created, str):
        try:
            written = calendar.timegm(time.strptime(created[:19], "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            written = 0
    return meta["version"], written


def _fail(name: str, option: str, message: str, hint: str = "") -> OptionError:
    return OptionError(f"backends.{name}.{option} {message}", option=option, hint=hint)


def _text(name: str, options: Mapping[str, object], option: str, default: str | None) -> str | None:
    value = options.get(option, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise _fail(name, option, "must be a non-empty line of text")
    return value.strip()


def _path(name: str, options: Mapping[str, object], option: str, default: str | None) -> str | None:
    value = _text(name, options, option, default)
    if value is None:
        return None
    value = value.strip("/")
    if not _PATH.fullmatch(value):
        raise _fail(
            name,
            option,
            "must be a path of segments of letters, digits, '.', '_' and '-'",
            f"for example {option}: {default or 'team-a'}",
        )
    return value


def _field(name: str, options: Mapping[str, object]) -> str:
    value = _text(name, options, "field", DEFAULT_FIELD)
    if value is None or not _FIELD.fullmatch(value) or value.startswith(PREFIX):
        raise _fail(
            name,
            "field",
            f"must be a data key of letters, digits, '.', '_' and '-', not starting with {PREFIX}",
            f"for example field: {DEFAULT_FIELD}",
        )
    return value


def _url(name: str, value: object) -> str:
    """The server's URL: http(s), no credentials, no query; plain http only on loopback."""
    hint = "use an https:// URL (plain http is allowed for 127.0.0.1, ::1 and localhost only)"
    if (
        not isinstance(value, str)
        or not value
        or not value.isascii()
        or not value.isprintable()
        or " " in value
    ):
        raise _fail(name, "url", "must be the server's URL, like https://vault.example:8200", hint)
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018  # raises ValueError for a bad port
    except ValueError:
        raise _fail(name, "url", "is not a URL", hint) from None
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise _fail(
            name, "url", "must not carry credentials or a query", "give scheme://host:port only"
        )
    if parts.scheme not in ("http", "https") or not host:
        raise _fail(name, "url", "must be an http(s) URL with a host", hint)
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "http" and not loopback:
        raise _fail(name, "url", "must use https: the token would cross the network in clear", hint)
    return value.rstrip("/")
