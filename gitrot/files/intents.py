"""Writing intent and sealed-value documents: the SOPS side of ``new`` and ``rotate``.

Everything here needs only public keys: the recipients come from the repository's
``.sops.yaml`` creation rules, exactly as ``sops -e`` would choose them.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from gitrot.codec import document
from gitrot.codec.tree import Comment, Entry, Map, Seq
from gitrot.core.layout import ENCRYPTED_PREFIX, SECRETS_DIR, SOPS_CONFIG, intent_path, sealed_path
from gitrot.core.models import is_valid_name
from gitrot.core.secret import SecretValue
from gitrot.errors import InputError
from gitrot.files.fsutil import inside, write_atomic
from gitrot.files.resources import schema_line
from gitrot.keys import creation_rules as rules


def creation_options(root: str, relpath: str) -> document.EncryptOptions:
    """The encryption settings the repository's ``.sops.yaml`` gives ``relpath``."""
    config = Path(inside(root, rules.CONFIG_NAME))
    if not config.is_file():
        raise InputError(
            "the repository has no .sops.yaml",
            where=root,
            hint="run 'gitrot init' to create it with the repository's recipients",
        )
    rule_list, _ = rules.load_rules(config)
    rule = rules.match_rule(rule_list, Path(root) / relpath, Path(root))
    return document.EncryptOptions(
        groups=rule.key_groups,
        threshold=rule.shamir_threshold,
        selector=rule.selector,
        mac_only_encrypted=rule.mac_only_encrypted,
    )


def check_name(name: str) -> None:
    if not is_valid_name(name):
        raise InputError(
            f"invalid secret name {name!r}",
            hint="use lower-case segments of a-z, 0-9, '.', '_' and '-' separated by '/', "
            f"e.g. payments/db-password; the file lives under {SECRETS_DIR}/",
        )


def new_intent_text(
    name: str,
    *,
    owner: str,
    rotation_class: str,
    backend: str,
    ref: str,
    environment: str | None,
    consumers: list[str],
    length: int,
    alphabet: str,
    options: document.EncryptOptions,
    now: datetime,
    rotator: str | None = None,
) -> str:
    """A version-1 intent as a SOPS document; only ``spec.target.ref`` is encrypted.
    ``rotator``: the ``spec.source.rotator`` that changes it at its source."""
    metadata = [Entry("name", name), Entry("owner", owner)]
    if environment:
        metadata.append(Entry("environment", environment))
    metadata.append(Entry("class", rotation_class))
    spec = Map(
        [
            Entry("version", 1),
            Entry("reason", "Initial version"),
            Entry("emergency", False),
            *([Entry("source", Map([Entry("rotator", rotator)]))] if rotator else []),
            Entry("target", Map([Entry("backend", backend), Entry("ref", ref)])),
            Entry(
                "value",
                Map(
                    [Entry("generate", Map([Entry("length", length), Entry("alphabet", alphabet)]))]
                ),
            ),
            Entry("consumers", Seq(list(consumers))),
        ]
    )
    tree = Map(
        [
            Comment(schema_line("intent", intent_path(name))),
            Entry("apiVersion", "gitrot/v1"),
            Entry("kind", "RotationIntent"),
            Entry("metadata", Map(list[Entry | Comment](metadata))),
            Entry("spec", spec),
        ]
    )
    text = document.encrypt([tree], options, now=now, fmt="yaml")
    if "ref: " + ENCRYPTED_PREFIX not in text:
        raise InputError(
            "the creation rule for secrets/ does not encrypt spec.target.ref",
            where=SOPS_CONFIG,
            hint="use encrypted_regex: ^ref$ (as 'gitrot init' writes it)",
        )
    return text


def sealed_text(
    name: str, version: int, secret: SecretValue, *, options: document.EncryptOptions, now: datetime
) -> str:
    """A value someone else issued, sealed for one version with a fresh data key."""
    tree = Map(
        [
            Comment(schema_line("sealed", sealed_path(name, version))),
            Entry("apiVersion", "gitrot/v1"),
            Entry("kind", "SealedValue"),
            Entry("metadata", Map([Entry("name", name), Entry("version", version)])),
            Entry("value", secret.reveal()),
        ]
    )
    text = document.encrypt([tree], options, now=now, fmt="yaml")
    if "value: " + ENCRYPTED_PREFIX not in text:
        raise InputError(
            "the creation rule for sealed values does not encrypt 'value'",
            where=SOPS_CONFIG,
            hint="use encrypted_regex: ^value$ for ^secrets/.*\\.sealed\\.yaml$",
        )
    return text


def create_file(root: str, relpath: str, text: str) -> None:
    """Write a new file atomically; refuse to replace an existing one, and to write through
    a folder that is a symlink leaving the repository."""
    path = inside(root, relpath)
    if os.path.lexists(path):
        raise InputError("already exists; refusing to overwrite it", where=relpath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, text, mode=0o644)


__all__ = [
    "check_name",
    "create_file",
    "creation_options",
    "intent_path",
    "new_intent_text",
    "sealed_path",
    "sealed_text",
]
