"""A FAKE of boto3's Secrets Manager client: a unit-test double, not a server.

It implements, in memory, the rules of AWS Secrets Manager's API reference that the moto
server does not follow or cannot be made to break, so the contract tests of
tests/backends/test_aws_contract.py run on it (and say so):

- ``PutSecretValue`` with a ``ClientRequestToken`` already used: the same value is a no-op
  (nothing changes, not even labels), another value is ``ResourceExistsException``;
- the first version of a secret gets ``AWSCURRENT`` whatever the request says; moving
  ``AWSCURRENT`` (in ``PutSecretValue`` or ``UpdateSecretVersionStage``) moves
  ``AWSPREVIOUS`` to the version it left; ``UpdateSecretVersionStage`` refuses
  (``InvalidParameterException``) a ``RemoveFromVersionId`` that does not hold the label,
  or a move of a label held elsewhere without naming that version;
- a staging label lives on one version: attaching it (``PutSecretValue``'s
  ``VersionStages`` included) removes it from the version holding it, so a new
  ``AWSPENDING`` version takes the label from a pending one;
- a version without labels is deprecated: ``DescribeSecret`` leaves it out;
- reads are by ``VersionId`` or ``VersionStage`` (default ``AWSCURRENT``), never stale;
- quotas: 20 staging labels across a secret's versions, 50 tags
  (``LimitExceededException``).

Faults are switched on by the test: ``deny`` (operations answered
``AccessDeniedException``), ``down`` (every call raises botocore's
``EndpointConnectionError``), ``fail`` (operation -> error code, once). ``calls`` lists
the operations made, for tests that count them.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

CURRENT, PREVIOUS = "AWSCURRENT", "AWSPREVIOUS"
MAX_LABELS = 20
MAX_TAGS = 50


def error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"fake: {code}"}}, operation)


class FakeSecret:
    def __init__(self, name: str, tags: list[dict[str, str]]) -> None:
        self.name = name
        self.tags = {tag["Key"]: tag["Value"] for tag in tags}
        self.values: dict[str, str] = {}  # version id -> SecretString
        self.stages: dict[str, list[str]] = {}  # version id -> labels, in order of creation
        self.deleted = False

    def holder(self, label: str) -> str | None:
        return next((vid for vid, labels in self.stages.items() if label in labels), None)

    def attach(self, label: str, vid: str) -> None:
        """Attach ``label`` to ``vid``, removing it elsewhere (AWSCURRENT drags AWSPREVIOUS)."""
        old = self.holder(label)
        if old == vid:
            return
        if old is not None:
            self.stages[old].remove(label)
        self.stages[vid].append(label)
        if label == CURRENT and old is not None:
            self.attach(PREVIOUS, old)
        if sum(len(labels) for labels in self.stages.values()) > MAX_LABELS:
            raise error("LimitExceededException", "attach")


class FakeSecretsManager:
    """The subset of ``boto3.client("secretsmanager")`` gitrot's backend calls."""

    def __init__(self) -> None:
        self.secrets: dict[str, FakeSecret] = {}
        self.deny: set[str] = set()
        self.fail: dict[str, str] = {}
        self.down = False
        self.calls: list[str] = []
        self._arn = itertools.count(1)

    # --- the API ----------------------------------------------------------------------------

    def create_secret(self, **kw: Any) -> dict[str, Any]:
        self._enter("CreateSecret")
        name = kw["Name"]
        if name in self.secrets:
            raise error("ResourceExistsException", "CreateSecret")
        secret = FakeSecret(name, kw.get("Tags", []))
        self.secrets[name] = secret
        if "SecretString" in kw:
            self._new_version(secret, kw["ClientRequestToken"], kw["SecretString"], [CURRENT])
        return {"Name": name, "ARN": f"arn:fake:{next(self._arn)}"}

    def describe_secret(self, **kw: Any) -> dict[str, Any]:
        self._enter("DescribeSecret")
        secret = self._secret(kw["SecretId"], "DescribeSecret")
        answer: dict[str, Any] = {
            "Name": secret.name,
            "Tags": [{"Key": k, "Value": v} for k, v in secret.tags.items()],
            "VersionIdsToStages": {v: list(s) for v, s in secret.stages.items() if s},
        }
        if secret.deleted:
            answer["DeletedDate"] = "2026-01-01T00:00:00Z"
        return answer

    def put_secret_value(self, **kw: Any) -> dict[str, Any]:
        self._enter("PutSecretValue")
        secret = self._secret(kw["SecretId"], "PutSecretValue")
        if secret.deleted:
            raise error("InvalidRequestException", "PutSecretValue")
        token, value = kw["ClientRequestToken"], kw["SecretString"]
        if not 32 <= len(token) <= 64:
            raise error("ValidationException", "PutSecretValue")
        if token in secret.values:
            if secret.values[token] != value:
                raise error("ResourceExistsException", "PutSecretValue")
            return {"VersionId": token, "VersionStages": list(secret.stages[token])}
        self._new_version(secret, token, value, list(kw.get("VersionStages", [CURRENT])))
        return {"VersionId": token, "VersionStages": list(secret.stages[token])}

    def update_secret_version_stage(self, **kw: Any) -> dict[str, Any]:
        operation = "UpdateSecretVersionStage"
        self._enter(operation)
        secret = self._secret(kw["SecretId"], operation)
        label, to, away = (
            kw["VersionStage"],
            kw.get("MoveToVersionId"),
            kw.get("RemoveFromVersionId"),
        )
        holder = secret.holder(label)
        if away is not None and holder != away:
            raise error("InvalidParameterException", operation)
        if to is not None and holder not in (None, to) and away != holder:
            raise error("InvalidParameterException", operation)
        if to is not None and to not in secret.stages:
            raise error("ResourceNotFoundException", operation)
        if to is None and away is not None:
            secret.stages[away].remove(label)
        elif to is not None:
            secret.attach(label, to)
        return {"Name": secret.name}

    def get_secret_value(self, **kw: Any) -> dict[str, Any]:
        self._enter("GetSecretValue")
        secret = self._secret(kw["SecretId"], "GetSecretValue")
        vid = kw.get("VersionId") or secret.holder(kw.get("VersionStage", CURRENT))
        if vid is None or vid not in secret.values:
            raise error("ResourceNotFoundException", "GetSecretValue")
        return {"VersionId": vid, "SecretString": secret.values[vid]}

    def tag_resource(self, **kw: Any) -> dict[str, Any]:
        self._enter("TagResource")
        secret = self._secret(kw["SecretId"], "TagResource")
        secret.tags.update({tag["Key"]: tag["Value"] for tag in kw["Tags"]})
        if len(secret.tags) > MAX_TAGS:
            raise error("LimitExceededException", "TagResource")
        return {}

    def untag_resource(self, **kw: Any) -> dict[str, Any]:
        self._enter("UntagResource")
        secret = self._secret(kw["SecretId"], "UntagResource")
        for key in kw["TagKeys"]:
            secret.tags.pop(key, None)
        return {}

    # --- what tests look at -----------------------------------------------------------------

    def labels(self, name: str) -> Mapping[str, list[str]]:
        return self.secrets[name].stages

    def value(self, name: str, stage: str = CURRENT) -> str:
        return self.get_secret_value(SecretId=name, VersionStage=stage)["SecretString"]  # type: ignore[no-any-return]

    # --- helpers ----------------------------------------------------------------------------

    def _enter(self, operation: str) -> None:
        self.calls.append(operation)
        if self.down:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9/")
        if operation in self.deny:
            raise error("AccessDeniedException", operation)
        if operation in self.fail:
            raise error(self.fail.pop(operation), operation)

    def _secret(self, name: str, operation: str) -> FakeSecret:
        if name not in self.secrets:
            raise error("ResourceNotFoundException", operation)
        return self.secrets[name]

    @staticmethod
    def _new_version(secret: FakeSecret, token: str, value: str, labels: list[str]) -> None:
        first = secret.holder(CURRENT) is None
        secret.values[token] = value
        secret.stages[token] = []
        for label in labels:
            secret.attach(label, token)
        if first:
            secret.attach(CURRENT, token)
