"""gitrot's built-in Python rules: checks a CEL expression cannot state well.

Each is a plain object with the interface of :mod:`gitrot.policy.python_rules`. Their fixtures
live with the YAML rules' in ``gitrot/policies/tests/<id>/``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from gitrot.codec.walk import Selector
from gitrot.core.layout import is_encrypted

#: intent document keys that are not fields of the file
_NOT_IN_FILE = frozenset({"path", "sops"})


class CreationRuleEncrypted:
    """Fields the ``.sops.yaml`` creation rule encrypts are encrypted in the intent."""

    id = "creation-rule-encrypted"
    severity = "error"
    description = (
        "Every field that the repository's .sops.yaml creation rule for the intent's path "
        "says to encrypt is SOPS-encrypted (ENC[AES256_GCM,...]), and the file was "
        "encrypted with that rule's selector: a hand edit or an encryption with other "
        "settings must not leave in cleartext what the organisation chose to hide (where a "
        "credential lives is itself sensitive)."
    )
    hint = (
        "encrypt the file with the repository's rule: gitrot decrypt -i FILE, then "
        "gitrot encrypt -i FILE (it reads .sops.yaml)"
    )

    def check(self, document: Mapping[str, object]) -> Iterator[tuple[str, str]]:
        rule = document.get("creation_rule")
        intent = document.get("intent")
        if not isinstance(rule, dict) or not isinstance(intent, dict):
            return
        wanted = rule.get("selector")
        if not isinstance(wanted, dict):
            return
        kind, value = str(wanted["kind"]), str(wanted["value"])
        sops = intent.get("sops")
        if isinstance(sops, dict) and sops.get("selector") != wanted:
            have = sops.get("selector") or {}
            yield (
                "sops",
                f"the file was encrypted with {have.get('kind')} {have.get('value')!r}; the "
                f".sops.yaml creation rule says {kind} {value!r}",
            )
        selector = Selector(kind, value)
        for keys, leaf in _leaves(intent, []):
            if selector.encrypts(keys, [], False) and not (is_encrypted(leaf)):
                yield (
                    ".".join(keys),
                    f"{'.'.join(keys)} is in cleartext, but the .sops.yaml creation rule "
                    f"({kind} {value!r}) encrypts it",
                )


def _leaves(node: object, keys: list[str]) -> Iterator[tuple[list[str], object]]:
    """``(key path, value)`` of every scalar, keys as sops sees them (list items share
    their parent's path)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not keys and key in _NOT_IN_FILE:
                continue
            yield from _leaves(value, [*keys, str(key)])
    elif isinstance(node, list):
        for item in node:
            yield from _leaves(item, keys)
    elif node is not None:
        yield keys, node


RULES = (CreationRuleEncrypted(),)
