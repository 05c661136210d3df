"""The ``aws-secrets-manager`` backend: AWS Secrets Manager through boto3 (docs/backends.md).

Configuration (``backends.<name>`` in gitrot.yaml)::

    type: aws-secrets-manager
    region: eu-west-1                  # required
    endpoint_url: http://127.0.0.1:5000   # optional (a local server, a VPC endpoint)

Credentials come from boto3's standard chain (environment, shared files, SSO, the instance
or task role), never from gitrot.yaml. A ref is the secret's name. Its ``SecretString`` is
the value, so any AWS consumer reading ``AWSCURRENT`` reads what gitrot wrote.

How gitrot's versions map onto the secret's (docs/backends.md):

- the ``ClientRequestToken`` of version N is a UUID derived from its idempotency key
  (:func:`version_id`; the key is derived from (name, N)), so it is the AWS ``VersionId``:
  a retried ``PutSecretValue`` is a no-op, and the same version written with another key
  is another token, refused;
- version N carries the staging label ``gitrot-v<N>`` (attached in the same
  ``PutSecretValue`` as its value), so "which AWS version is gitrot's N" is one
  ``DescribeSecret``; only the newest :data:`KEEP` versions keep their label (AWS allows
  20 labels across a secret's versions); older ones become deprecated, as AWS's own
  rotation leaves them;
- the secret's tag ``gitrot:name`` names the intent the secret belongs to (set when gitrot
  creates or first writes the secret), and the tag ``gitrot:v<N>`` holds version N's
  ``<key> <commit> <written_at>`` (written before the value, removed with the label).

A write tags, puts the value as ``AWSPENDING`` + ``gitrot-v<N>``, moves ``AWSCURRENT`` to
it with ``UpdateSecretVersionStage`` (AWS moves ``AWSPREVIOUS`` to the old one), then
removes ``AWSPENDING``: the move of ``AWSCURRENT`` is the commit point. A version that is
still ``AWSPENDING`` without ``AWSCURRENT`` (a writer killed before the move) is not
written: the next write of it keeps the stored value and finishes the move. Reads are
always by version id, never a plain ``GetSecretValue`` (which, on some servers, returns
the old value just after ``AWSCURRENT`` moved).

A pending version (:meth:`AwsSecretsManagerBackend.write_pending`, a rotation at the
source) is put the same way but stays ``AWSPENDING``: its tag holds a fourth field, the
step (``<key> <commit> <written_at> <step>``), which :meth:`~AwsSecretsManagerBackend.mark`
advances and which tells it from a killed write. ``promote`` moves ``AWSCURRENT`` with one
``UpdateSecretVersionStage``, records the step ``promoted``, then removes ``AWSPENDING``.
A newer pending version first marks the older one ``abandoned`` (the put moves
``AWSPENDING`` away from it). AWS makes the first version of a secret ``AWSCURRENT``
whatever the request says: such a version is still reported pending until promoted.

Messages name the backend and the operation, never the ref, a value or AWS's own message
text (which repeats the secret's ARN).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gitrot.core.ports import (
    ABANDONED,
    PROMOTED,
    SET,
    TESTED,
    WRITTEN,
    AppliedVersion,
    BackendContext,
    BackendError,
    VersionConflict,
    idempotency_key,
)
from gitrot.core.secret import SecretValue
from gitrot.triggers.options import OptionError

# boto3 and botocore load when the backend first talks to AWS: the validate hook loads
# this module for check_options alone

TYPE = "aws-secrets-manager"
OPTIONS = ("region", "endpoint_url")
#: gitrot versions that keep their ``gitrot-v<N>`` label (and ``gitrot:v<N>`` tag)
KEEP = 5
OWNER_TAG = "gitrot:name"
CURRENT, PREVIOUS, PENDING = "AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"
#: the steps of a pending version, in order (``abandoned`` ends it, never promoted)
STEPS = (WRITTEN, SET, TESTED, ABANDONED)
_LABEL = re.compile(r"gitrot-v([1-9][0-9]{0,17})")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")
_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
_URL = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(?::[0-9]{1,5})?/?")
_CREDENTIAL = re.compile(r"(?i).*(key|secret|token|password|credential|profile|role).*")
#: error codes that mean "these credentials may not": exit 3, fixable by the operator
_AUTH = frozenset({
    "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
    "ExpiredTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch",
    "IncompleteSignature", "MissingAuthenticationToken", "AuthFailure", "AccessDenied",
})  # fmt: skip
#: error codes of a service that is (for now) unavailable
_DOWN = frozenset({
    "ThrottlingException", "Throttling", "InternalServiceError", "InternalFailure",
    "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException",
})  # fmt: skip
#: the namespace of :func:`version_id`'s UUIDs: fixed, so tokens never change
NAMESPACE = uuid.UUID("5b0d2c3e-6f1a-5d7c-9a0e-61747267726f")
_REF_RULE = (
    "an aws-secrets-manager ref is a secret's name: 1 to 512 letters, digits and / _ + = . @ -"
)


def check_options(name: str, options: Mapping[str, object]) -> None:
    """OptionError for an unknown option (a credential-looking one says where credentials
    come from), a missing or malformed ``region``, an ``endpoint_url`` that is not an
    http(s) URL of a host (no user, path, query or fragment: credentials never go in
    gitrot.yaml). Values that could be credentials are never repeated."""
    for key in sorted(set(options) - set(OPTIONS)):
        if _CREDENTIAL.fullmatch(str(key)):
            raise OptionError(
                f"backends.{name}: option {key!r} is not accepted: credentials never go in "
                "gitrot.yaml",
                option=str(key),
                hint="boto3 finds them: AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                "~/.aws, SSO or the instance/task role",
            )
        raise OptionError(
            f"backends.{name}: unknown option {key!r} for type {TYPE}",
            option=str(key),
            hint=f"an {TYPE} backend takes: {', '.join(OPTIONS)}",
        )
    region = options.get("region")
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        shown = "nothing" if region is None else repr(region)[:40]
        raise OptionError(
            f"backends.{name}.region must be an AWS region like eu-west-1, got {shown}",
            option="region" if region is not None else "",
            hint="give the region of the secrets, like region: us-east-1",
        )
    url = options.get("endpoint_url")
    if url is not None and (not isinstance(url, str) or not _URL.fullmatch(url)):
        raise OptionError(
            f"backends.{name}.endpoint_url must be an http(s) URL of a host and port, "
            "without a user, path or query",
            option="endpoint_url",
            hint="for example endpoint_url: https://secretsmanager.eu-west-1.amazonaws.com, "
            "or leave it out for AWS's own endpoint",
        )


def version_id(key: str) -> str:
    """The ``ClientRequestToken`` (and so the ``VersionId``) of the version written with
    idempotency key ``key``: a UUID, the same on every run and machine."""
    return str(uuid.uuid5(NAMESPACE, key))


def check_ref(ref: str) -> None:
    """BackendError unless ``ref`` is a secret's name (never repeated: refs are secret)."""
    if not isinstance(ref, str) or not _NAME.fullmatch(ref):
        raise BackendError(f"the target ref is not a valid secret name: {_REF_RULE}")


class AwsRefusal(Exception):
    """An AWS error code the caller handles (ResourceNotFoundException and the like)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Secret:
    """What one ``DescribeSecret`` says of a secret, as gitrot reads it."""

    __slots__ = ("deleted", "labels", "owner", "stages", "tags")

    def __init__(self, answer: Mapping[str, Any]) -> None:
        raw = answer.get("VersionIdsToStages") or {}
        self.stages: dict[str, list[str]] = {vid: list(labels) for vid, labels in raw.items()}
        self.tags = {tag["Key"]: tag["Value"] for tag in answer.get("Tags") or []}
        self.owner = self.tags.get(OWNER_TAG)
        self.deleted = answer.get("DeletedDate") is not None
        #: gitrot's version number -> the AWS version id carrying ``gitrot-v<N>``
        self.labels: dict[int, str] = {}
        for vid, labels in self.stages.items():
            for label in labels:
                match = _LABEL.fullmatch(label)
                if match:
                    self.labels[int(match[1])] = vid

    def holder(self, stage: str) -> str | None:
        return next((vid for vid, labels in self.stages.items() if stage in labels), None)

    def tag(self, version: int) -> tuple[str, str, int, str | None]:
        """Version N's tag: key, commit, written_at and the step of a pending version (None
        for a version written without a rotator, or a tag gitrot cannot read)."""
        parts = self.tags.get(f"gitrot:v{version}", "").split(" ")
        step = parts.pop() if len(parts) == 4 and parts[3] in (*STEPS, PROMOTED) else None
        if len(parts) == 3 and parts[2].isdigit():
            return parts[0], parts[1], int(parts[2]), step
        return "", "", 0, None

    def state(self, version: int) -> tuple[str, str] | None:
        """(stage, step) of version N, or None when it is not there: no label, or a write
        killed before ``AWSCURRENT`` moved (``AWSPENDING`` without a pending step)."""
        vid = self.labels.get(version)
        if vid is None:
            return None
        labels, step = self.stages[vid], self.tag(version)[3]
        if step == ABANDONED or (step in STEPS and PENDING in labels):
            return "pending", step
        if CURRENT in labels:
            return "current", PROMOTED
        if PENDING in labels and step is None:
            return None
        return "previous", PROMOTED

    def written(self, version: int) -> bool:
        return self.state(version) is not None

    def newest(self) -> int | None:
        """The newest version gitrot wrote, pending or not."""
        done = [version for version in self.labels if self.written(version)]
        return max(done) if done else None

    def promoted(self) -> int | None:
        """The newest version that was promoted (what ``read`` without a version reads)."""
        done = [v for v in self.labels if (self.state(v) or ("",))[0] in ("current", "previous")]
        return max(done) if done else None


class AwsSecretsManagerBackend:
    """Versions of secrets in AWS Secrets Manager (see the module docstring)."""

    check_options = staticmethod(check_options)

    def __init__(
        self,
        name: str,
        options: Mapping[str, object],
        context: BackendContext,
        *,
        client: object = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        check_options(name, options)
        self.name = name
        self.region = str(options["region"])
        url = options.get("endpoint_url")
        self.endpoint_url = str(url) if url is not None else None
        self._context = context
        self._client: Any = client
        self._clock = clock or time.time
        self._lock = threading.Lock()

    # --- reading ----------------------------------------------------------------------------

    def current(self, refs: Iterable[str]) -> dict[str, AppliedVersion]:
        found = {}
        for ref in refs:
            secret = self._describe(ref)
            newest = secret.newest() if secret is not None else None
            if secret is not None and newest is not None:
                found[ref] = self._record(ref, secret, newest)
        return found

    def get(self, ref: str, version: int) -> AppliedVersion | None:
        secret = self._describe(ref)
        if secret is None or not secret.written(version):
            return None
        return self._record(ref, secret, version)

    def versions(self, ref: str) -> list[AppliedVersion]:
        """Every version that keeps gitrot's label, oldest first (for check_location)."""
        secret = self._describe(ref)
        if secret is None:
            return []
        done = sorted(version for version in secret.labels if secret.written(version))
        return [self._record(ref, secret, version) for version in done]

    def read(self, ref: str, version: int | None = None) -> SecretValue:
        secret = self._describe(ref)
        if version is None and secret is not None:
            version = secret.promoted()
        if secret is None or version is None or not secret.written(version):
            which = f"no version {version}" if version is not None else "no version"
            if version is None and secret is not None and secret.newest() is not None:
                which = "no promoted version (only a pending one)"
            raise BackendError(f"backend {self.name!r} holds {which} of this secret")
        answer = self._call("GetSecretValue", SecretId=ref, VersionId=secret.labels[version])
        text = answer.get("SecretString")
        if not isinstance(text, str):
            raise BackendError(
                f"backend {self.name!r}: version {version} holds no SecretString (binary?); "
                "gitrot reads and writes text values only"
            )
        return SecretValue(text)

    # --- writing ----------------------------------------------------------------------------

    def write(
        self, ref: str, version: int, value: SecretValue, *, name: str, commit: str, key: str
    ) -> AppliedVersion:
        token = self._checked(version, key)
        secret = self._owned(ref, name)
        stored = secret.labels.get(version)
        if stored is not None and stored != token:
            raise self._conflict(name, version, key, secret)
        self._check_order(secret, version, name)
        if secret.state(version) == ("pending", ABANDONED):
            raise self._abandoned(name, version)
        if stored is None:
            self._abandon(ref, secret)
            self._retag(ref, version, f"{key} {commit} {int(self._clock())}")
            self._put(ref, token, value, [PENDING, f"gitrot-v{version}"])
            secret = self._require(ref)
            if secret.labels.get(version) != token:
                raise self._foreign(version)
        if not secret.written(version) or PENDING in secret.stages[token]:
            self._promote(ref, secret, token)
            secret = self._require(ref)
        self._prune(ref, secret, version)
        return self._record(ref, secret, version)

    def write_pending(
        self, ref: str, version: int, value: SecretValue, *, name: str, commit: str, key: str
    ) -> AppliedVersion:
        """Put ``value`` as ``AWSPENDING`` + ``gitrot-v<N>`` with the step ``written`` in its
        tag; ``AWSCURRENT`` stays where it is. Idempotent on ``key`` as :meth:`write`."""
        token = self._checked(version, key)
        secret = self._owned(ref, name)
        stored = secret.labels.get(version)
        if stored is not None and stored != token:
            raise self._conflict(name, version, key, secret)
        self._check_order(secret, version, name)
        if secret.written(version):
            return self._record(ref, secret, version)
        if stored is None:
            self._abandon(ref, secret)
        self._retag(ref, version, f"{key} {commit} {int(self._clock())}", WRITTEN)
        if stored is None:
            self._put(ref, token, value, [PENDING, f"gitrot-v{version}"])
        secret = self._require(ref)
        if secret.labels.get(version) != token:
            raise self._foreign(version)
        self._prune(ref, secret, version)
        return self._record(ref, secret, version)

    def mark(self, ref: str, version: int, step: str, *, key: str) -> AppliedVersion:
        """Record ``step`` in the pending version's tag; a step never goes back and
        ``abandoned`` is final."""
        if step not in STEPS:
            raise BackendError(
                f"backend {self.name!r}: a pending version is marked {', '.join(STEPS[1:])}, "
                f"not {step!r}"
            )
        secret, state = self._pending(ref, version, key)
        now = state[1]
        if now != ABANDONED and STEPS.index(step) > STEPS.index(now):
            key_, commit, written_at, _ = secret.tag(version)
            self._retag(ref, version, f"{key_} {commit} {written_at}", step)
            secret = self._require(ref)
        return self._record(ref, secret, version)

    def promote(self, ref: str, version: int, *, key: str) -> AppliedVersion:
        """Move ``AWSCURRENT`` to the pending version (one ``UpdateSecretVersionStage``; AWS
        moves ``AWSPREVIOUS``), record ``promoted``, remove ``AWSPENDING``; idempotent."""
        secret, (stage, step) = self._pending(ref, version, key, promoted=True)
        token = secret.labels[version]
        if step == ABANDONED:
            raise self._abandoned(secret.owner or "the secret", version)
        if stage == "pending":
            self._promote(ref, secret, token, retag=version)
            secret = self._require(ref)
        elif PENDING in secret.stages[token]:  # killed after the move and the tag
            self._promote(ref, secret, token)
            secret = self._require(ref)
        return self._record(ref, secret, version)

    def close(self) -> None:
        """Nothing to release (boto3's connection pool closes with the process)."""

    # --- checks shared by the writers -------------------------------------------------------

    def _checked(self, version: int, key: str) -> str:
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise BackendError(f"backend {self.name!r}: version must be a positive integer")
        if not key:
            raise BackendError(f"backend {self.name!r}: the idempotency key is empty")
        return version_id(key)

    def _check_order(self, secret: Secret, version: int, name: str) -> None:
        newest = secret.newest()
        if not secret.written(version) and newest is not None and version < newest:
            raise VersionConflict(
                f"{name}: version {version} is below version {newest} in backend "
                f"{self.name!r}; a rollback is a new version above the newest"
            )

    def _conflict(self, name: str, version: int, key: str, secret: Secret) -> VersionConflict:
        return VersionConflict(
            f"{name}: version {version} is already in backend {self.name!r} with another "
            f"idempotency key (got {key}, stored {self._key(secret, version)}); a version "
            "is written once: bump spec.version for a new value"
        )

    def _abandoned(self, name: str, version: int) -> BackendError:
        return BackendError(
            f"{name}: version {version} in backend {self.name!r} was abandoned while pending "
            "and is never promoted; bump spec.version for a new rotation"
        )

    def _foreign(self, version: int) -> BackendError:
        return BackendError(
            f"backend {self.name!r}: version {version}'s id is in use by a version "
            "without gitrot's label (changed outside gitrot); remove that version's "
            "labels or write a new version"
        )

    def _pending(
        self, ref: str, version: int, key: str, *, promoted: bool = False
    ) -> tuple[Secret, tuple[str, str]]:
        """The secret and version N's (stage, step): BackendError when N is not there (or,
        unless ``promoted``, not pending), VersionConflict when written with another key."""
        secret = self._describe(ref)
        state = secret.state(version) if secret is not None else None
        if secret is None or state is None:
            raise BackendError(f"backend {self.name!r} holds no version {version} of this secret")
        if secret.labels[version] != self._checked(version, key):
            raise self._conflict(secret.owner or "the secret", version, key, secret)
        if state[0] != "pending" and not promoted:
            raise BackendError(
                f"backend {self.name!r}: version {version} is {state[0]}, not pending; "
                "only a pending version is marked"
            )
        return secret, state

    # --- the steps of a write ---------------------------------------------------------------

    def _owned(self, ref: str, name: str) -> Secret:
        """The secret at ``ref``, created (tagged with its owner ``name``) when missing and
        adopted when nobody owns it; VersionConflict when it belongs to another secret."""
        secret = self._describe(ref)
        if secret is None:
            tags = [{"Key": OWNER_TAG, "Value": name}]
            description = "Managed by gitrot: rotate it through its intent, not here"
            with contextlib.suppress(AwsRefusal):  # another writer created it just now
                self._call(
                    "CreateSecret",
                    Name=ref,
                    Tags=tags,
                    Description=description,
                    refuse=("ResourceExistsException",),
                )
            secret = self._require(ref)
        if secret.deleted:
            raise BackendError(
                f"backend {self.name!r}: the secret of {name} is scheduled for deletion; "
                "restore it (aws secretsmanager restore-secret) or give the intent another ref"
            )
        if secret.owner is None and not secret.labels:
            self._call("TagResource", SecretId=ref, Tags=[{"Key": OWNER_TAG, "Value": name}])
            secret = self._require(ref)
        if secret.owner != name:
            raise VersionConflict(
                f"{name}: its ref in backend {self.name!r} holds a secret written for another "
                f"secret ({secret.owner or 'unknown'}); a backend location belongs to one secret"
            )
        return secret

    def _abandon(self, ref: str, secret: Secret) -> None:
        """Before ``AWSPENDING`` moves to a new version: drop gitrot's label from other
        versions left ``AWSPENDING`` by a killed writer (they must not look written), and
        mark other pending versions ``abandoned`` (they must not look promoted). Called
        before the new version has a label."""
        for number, vid in sorted(secret.labels.items()):
            state = secret.state(number)
            if state is None:
                self._unlabel(ref, number, vid)
            elif state[0] == "pending" and state[1] != ABANDONED:
                key, commit, written_at, _ = secret.tag(number)
                self._retag(ref, number, f"{key} {commit} {written_at}", ABANDONED)

    def _retag(self, ref: str, version: int, fields: str, step: str | None = None) -> None:
        """Set version N's tag: ``<key> <commit> <written_at>`` and, for a pending version
        (or one promoted from pending), its step."""
        value = fields if step is None else f"{fields} {step}"
        self._call(
            "TagResource", SecretId=ref, Tags=[{"Key": f"gitrot:v{version}", "Value": value}]
        )

    def _put(self, ref: str, token: str, value: SecretValue, stages: list[str]) -> None:
        with contextlib.suppress(AwsRefusal):  # one with the same key put first: keep it
            self._call(
                "PutSecretValue",
                SecretId=ref,
                ClientRequestToken=token,
                SecretString=value.reveal(),
                VersionStages=stages,
                refuse=("ResourceExistsException",),
            )

    def _promote(self, ref: str, secret: Secret, token: str, retag: int = 0) -> None:
        """Move ``AWSCURRENT`` to ``token`` (AWS moves ``AWSPREVIOUS`` to the old one), then
        (a pending version: record the step ``promoted`` in version ``retag``'s tag) drop
        ``AWSPENDING`` from it."""
        labels = secret.stages.get(token, [])
        moves: list[dict[str, str]] = []
        if CURRENT not in labels:
            moves.append({"VersionStage": CURRENT, "MoveToVersionId": token})
            holder = secret.holder(CURRENT)
            if holder is not None:
                moves[-1]["RemoveFromVersionId"] = holder
        moves.append({"VersionStage": PENDING, "RemoveFromVersionId": token})  # always there
        operation = "UpdateSecretVersionStage"
        for move in moves:
            if retag and move["VersionStage"] == PENDING:
                key, commit, written_at, _ = secret.tag(retag)
                self._retag(ref, retag, f"{key} {commit} {written_at}", PROMOTED)
            try:
                self._call(
                    operation,
                    SecretId=ref,
                    refuse=("InvalidParameterException",),
                    **move,
                )
            except AwsRefusal:  # a concurrent writer of the same version moved it first
                now = self._require(ref).stages.get(token, [])
                if (move["VersionStage"] in now) != ("MoveToVersionId" in move):
                    raise self._refused(operation, "InvalidParameterException") from None

    def _prune(self, ref: str, secret: Secret, version: int) -> None:
        """Keep gitrot's label on the newest :data:`KEEP` versions only."""
        for number, vid in sorted(secret.labels.items()):
            if number <= version - KEEP:
                self._unlabel(ref, number, vid)

    def _unlabel(self, ref: str, number: int, vid: str) -> None:
        self._call(
            "UpdateSecretVersionStage",
            SecretId=ref,
            VersionStage=f"gitrot-v{number}",
            RemoveFromVersionId=vid,
        )
        self._call("UntagResource", SecretId=ref, TagKeys=[f"gitrot:v{number}"])

    # --- records ----------------------------------------------------------------------------

    def _record(self, ref: str, secret: Secret, version: int) -> AppliedVersion:
        vid = secret.labels[version]
        _, commit, written_at, _ = secret.tag(version)
        stage, step = secret.state(version) or ("previous", PROMOTED)
        return AppliedVersion(
            ref=ref,
            version=version,
            name=secret.owner or "",
            commit=commit,
            key=self._key(secret, version),
            backend_id=vid,
            written_at=written_at,
            stage=stage,
            step=step,
        )

    def _key(self, secret: Secret, version: int) -> str:
        """The idempotency key version N was written with: its tag's, when the version id
        proves it; else the key of (owner, N) when that proves it; else empty (unknown)."""
        vid = secret.labels[version]
        tagged = secret.tag(version)[0]
        candidates = [tagged] if tagged else []
        if secret.owner:
            candidates.append(idempotency_key(secret.owner, version))
        return next((key for key in candidates if version_id(key) == vid), "")

    # --- talking to AWS ---------------------------------------------------------------------

    def _describe(self, ref: str) -> Secret | None:
        check_ref(ref)
        try:
            answer = self._call(
                "DescribeSecret", SecretId=ref, refuse=("ResourceNotFoundException",)
            )
        except AwsRefusal:
            return None
        return Secret(answer)

    def _require(self, ref: str) -> Secret:
        secret = self._describe(ref)
        if secret is None:
            raise BackendError(
                f"backend {self.name!r}: the secret disappeared while gitrot wrote it "
                "(deleted outside gitrot?); run again"
            )
        return secret

    def _call(
        self, operation: str, *, refuse: tuple[str, ...] = (), **params: object
    ) -> dict[str, Any]:
        """One API call; AwsRefusal for an error code in ``refuse``, else every failure a
        one-line BackendError (unreachable for the network, credentials, permissions)."""
        import botocore.exceptions as boto

        client = self._open()
        method = getattr(client, _snake(operation))
        try:
            answer: dict[str, Any] = method(**params)
        except boto.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "unknown"))
            if code in refuse:
                raise AwsRefusal(code) from None
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            raise self._refused(operation, code, status) from None
        except (boto.NoCredentialsError, boto.PartialCredentialsError) as exc:
            raise self._failure(
                f"found no usable AWS credentials ({type(exc).__name__})",
                "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where "
                "an instance/task role applies",
            ) from None
        except boto.CredentialRetrievalError:
            raise self._failure(
                "could not fetch AWS credentials", "check the profile, SSO session or role"
            ) from None
        except (boto.ConnectionError, boto.HTTPClientError) as exc:
            raise self._failure(
                f"cannot reach AWS Secrets Manager at {self._where()} ({type(exc).__name__})",
                "check endpoint_url and region in gitrot.yaml and the network, then run again",
            ) from None
        except boto.BotoCoreError as exc:  # never str(exc): it can repeat parameters
            raise BackendError(
                f"backend {self.name!r} ({TYPE}): {operation} failed ({type(exc).__name__})"
            ) from None
        return answer

    def _open(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> Any:
        import boto3
        import botocore.config

        session = boto3.session.Session()
        if self.endpoint_url is None:
            known = {
                region
                for partition in session.get_available_partitions()
                for region in session.get_available_regions("secretsmanager", partition)
            }
            if self.region not in known:
                raise self._failure(
                    f"AWS Secrets Manager has no region {self.region!r}",
                    "fix region in gitrot.yaml (or give endpoint_url for a server of your own)",
                )
        config = botocore.config.Config(
            connect_timeout=5,
            read_timeout=30,
            retries={"total_max_attempts": 2, "mode": "standard"},
            user_agent_extra="gitrot",
        )
        return session.client(
            "secretsmanager",
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            config=config,
        )

    def _where(self) -> str:
        return self.endpoint_url or f"region {self.region}"

    def _failure(self, what: str, hint: str) -> BackendError:
        return BackendError(f"backend {self.name!r} ({TYPE}): {what}; {hint}", unreachable=True)

    def _refused(self, operation: str, code: str, status: int = 0) -> BackendError:
        """A ClientError as one line: denied (``_AUTH``, HTTP 401/403) and unavailable
        (``_DOWN``, HTTP 5xx) are exit 3, anything else a refusal."""
        if code in _AUTH or status in (401, 403):
            return self._failure(
                f"{operation} was denied ({code})",
                "check the credentials boto3 finds and grant the IAM permissions listed in "
                "docs/backends.md",
            )
        if code in _DOWN or status >= 500:
            return self._failure(
                f"AWS Secrets Manager at {self._where()} is unavailable ({code} on {operation})",
                "run again later",
            )
        return BackendError(
            f"backend {self.name!r} ({TYPE}): AWS refused {operation} ({code}); "
            "see the secret in the AWS console or CloudTrail"
        )


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()
