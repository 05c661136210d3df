"""Valid rotation intents for tests and benchmarks: real SOPS documents, made fast.

Only ``spec.target.ref`` is encrypted and ``mac_only_encrypted`` is on, so the MAC covers
that one value: name, version and reason are cleartext that gitrot (and ``sops``) may change
without the key. One template is encrypted per (class, recipient); every intent is a copy
with its name, version and reason filled in, which keeps 10,000 intents cheap to write.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime

_NAME = "placeholder/name-x0"
_VERSION = 987654321
_REASON = "placeholder reason x0"


def intent_text(
    name: str,
    version: int,
    *,
    klass: str = "database-password",
    recipient: str | None = None,
    reason: str = "Scheduled rotation",
    environment: str = "prod",
) -> str:
    """The text of ``secrets/<name>.yaml`` at ``version``, as ``gitrot new``/``rotate`` write it."""
    template = _template(klass, recipient or default_recipient(), environment)
    return (
        template.replace(_NAME, name)
        .replace(f"version: {_VERSION}", f"version: {version}")
        .replace(_REASON, json.dumps(reason))
    )


@functools.cache
def default_recipient() -> str:
    import pyrage

    return str(pyrage.x25519.Identity.generate().to_public())


@functools.cache
def _template(klass: str, recipient: str, environment: str) -> str:
    from gitrot.codec import document
    from gitrot.codec.tree import Entry, Map, Seq

    metadata = Map(
        [
            Entry("name", _NAME),
            Entry("owner", "team-payments"),
            Entry("environment", environment),
            Entry("class", klass),
        ]
    )
    generate = Map([Entry("length", 32), Entry("alphabet", "A-Za-z0-9")])
    spec = Map(
        [
            Entry("version", _VERSION),
            Entry("reason", _REASON),
            Entry("emergency", False),
            Entry("target", Map([Entry("backend", "local"), Entry("ref", "payments/db")])),
            Entry("value", Map([Entry("generate", generate)])),
            Entry("consumers", Seq(["payments-api"])),
        ]
    )
    tree = Map(
        [
            Entry("apiVersion", "gitrot/v1"),
            Entry("kind", "RotationIntent"),
            Entry("metadata", metadata),
            Entry("spec", spec),
        ]
    )
    options = document.EncryptOptions(
        groups=[[recipient]], selector=("encrypted_regex", "^ref$"), mac_only_encrypted=True
    )
    return document.encrypt([tree], options, now=datetime.now(UTC), fmt="yaml")


def config_text(recipient: str | None = None, classes: dict[str, str | None] | None = None) -> str:
    """A ``gitrot.yaml`` with the local backend and ``classes`` (name -> max_age or None)."""
    if classes is None:
        classes = {"database-password": "90d", "api-key": "30d", "forever": None}
    lines = [
        "apiVersion: gitrot/v1",
        "kind: Config",
        "recipients:",
        f"  reconciler: {recipient or default_recipient()}",
        "backends:",
        "  local: {type: local, path: .gitrot/store}",
        "classes:",
    ]
    for name, max_age in classes.items():
        lines.append(f"  {name}: {{max_age: {max_age}}}" if max_age else f"  {name}: {{}}")
    return "\n".join(lines) + "\n"
