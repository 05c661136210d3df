"""Secret values: generated from an intent's settings, or opened from a sealed document.

Values live in :class:`~gitrot.core.secret.SecretValue` and in memory only.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from gitrot.codec.document import SopsFile, decrypt
from gitrot.codec.metadata import from_map
from gitrot.codec.tree import Entry, Map
from gitrot.core.models import GeneratedValue, expand_alphabet
from gitrot.core.secret import SecretValue
from gitrot.errors import InputError


def generate(settings: GeneratedValue) -> SecretValue:
    """``length`` characters drawn uniformly from the alphabet with :mod:`secrets`."""
    alphabet = expand_alphabet(settings.alphabet)
    return SecretValue("".join(secrets.choice(alphabet) for _ in range(settings.length)))


def open_field(text: str, where: str, identities: Sequence[object], key: str) -> str:
    """The decrypted top-level ``key.…`` string (``spec.target.ref``, ``value``) of a SOPS
    YAML document; the MAC is checked. InputError/IntegrityError on failure."""
    return _field(SopsFile.parse(text, fmt="yaml", where=where), where, identities, key)


def open_tree_field(root: Map, where: str, identities: Sequence[object], key: str) -> str:
    """:func:`open_field` of a document already parsed (a gitrot file: one document)."""
    block = root.get("sops")
    if block is None:
        raise InputError("not a sops-encrypted file (no 'sops' metadata)", where=where)
    metadata = from_map(block, where=where)
    stripped = Map(
        [i for i in root.items if not (isinstance(i, Entry) and i.key == "sops")], root.line
    )
    return _field(SopsFile([stripped], metadata, "yaml", where), where, identities, key)


def _field(source: SopsFile, where: str, identities: Sequence[object], key: str) -> str:
    opened = decrypt(source, identities)
    node: object = opened.docs[0]
    for part in key.split("."):
        node = node.get(part) if isinstance(node, Map) else None
    if not isinstance(node, str):
        raise InputError(f"{key} is not a string once decrypted", where=where)
    return node


def open_sealed(text: str, where: str, identities: Sequence[object]) -> SecretValue:
    """The value of a sealed document (``secrets/<name>.v<N>.sealed.yaml``)."""
    return SecretValue(open_field(text, where, identities, "value"))
