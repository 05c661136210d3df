"""The ``sops:`` block: reading it from a document and writing it back (docs/sops-format.md 8)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from gitrot.codec.tree import Comment, Entry, Map, Scalar, Seq
from gitrot.errors import InputError

SELECTORS = (
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
)
DEFAULT_SELECTOR = ("unencrypted_suffix", "_unencrypted")
FORMAT_VERSION = "3.11.0"  # the sops release whose format gitrot writes and is tested against
FOREIGN_KEY_TYPES = ("kms", "gcp_kms", "azure_kv", "hc_vault", "pgp", "hckms")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+")


class AgeStanza:
    """One ``age:`` entry: the data key (or a Shamir share) wrapped for one recipient."""

    __slots__ = ("enc", "recipient")

    def __init__(self, recipient: str, enc: str) -> None:
        self.recipient = recipient
        self.enc = enc

    def __repr__(self) -> str:
        return f"AgeStanza({self.recipient!r})"


class Metadata:
    """Everything in the ``sops:`` block that gitrot understands.

    ``groups`` holds one list of stanzas per key group; a file without ``key_groups`` has
    exactly one group. ``foreign`` names other master-key types found (pgp, kms, ...), which
    gitrot cannot use but keeps in mind to refuse rewriting a file it would break.
    """

    __slots__ = (
        "foreign",
        "groups",
        "lastmodified",
        "mac",
        "mac_only_encrypted",
        "selector",
        "threshold",
        "version",
    )

    def __init__(
        self,
        *,
        groups: list[list[AgeStanza]],
        threshold: int = 0,
        lastmodified: str = "",
        mac: str = "",
        selector: tuple[str, str] = DEFAULT_SELECTOR,
        mac_only_encrypted: bool = False,
        version: str = FORMAT_VERSION,
        foreign: tuple[str, ...] = (),
    ) -> None:
        self.groups = groups
        self.threshold = threshold
        self.lastmodified = lastmodified
        self.mac = mac
        self.selector = selector
        self.mac_only_encrypted = mac_only_encrypted
        self.version = version
        self.foreign = foreign

    def recipients(self) -> list[list[str]]:
        return [[stanza.recipient for stanza in group] for group in self.groups]

    def to_map(self) -> Map:
        """The block in the field order sops 3.11 writes."""
        items: list[Entry] = []
        if len(self.groups) > 1:
            if self.threshold:
                items.append(Entry("shamir_threshold", self.threshold))
            items.append(
                Entry(
                    "key_groups",
                    Seq(
                        [
                            Map([Entry("hc_vault", Seq()), Entry("age", _stanzas(group))])
                            for group in self.groups
                        ]
                    ),
                )
            )
        elif self.groups and self.groups[0]:
            items.append(Entry("age", _stanzas(self.groups[0])))
        items.append(Entry("lastmodified", self.lastmodified))
        items.append(Entry("mac", self.mac))
        name, value = self.selector
        items.append(Entry(name, value))
        if self.mac_only_encrypted:
            items.append(Entry("mac_only_encrypted", True))
        items.append(Entry("version", self.version))
        return Map(list[Entry | Comment](items))


def _stanzas(group: Iterable[AgeStanza]) -> Seq:
    return Seq([Map([Entry("recipient", s.recipient), Entry("enc", s.enc)]) for s in group])


def from_map(block: object, *, where: str) -> Metadata:
    """Parse a ``sops:`` block; raise InputError naming the field that is wrong."""
    if not isinstance(block, Map):
        raise InputError("the 'sops' metadata is not a mapping", where=where, hint=_HINT)
    line = block.line

    def field(name: str, kind: type | tuple[type, ...], default: Scalar = None) -> object:
        value = block.get(name, default)
        if value is not None and not isinstance(value, kind):
            entry = block.entry(name)
            raise InputError(
                f"sops metadata field '{name}' has the wrong type",
                where=where,
                line=entry.line if entry else line,
                hint=_HINT,
            )
        return value

    selectors = [(name, block.get(name)) for name in SELECTORS if block.get(name)]
    if len(selectors) > 1:
        raise InputError(
            "sops metadata sets more than one of " + ", ".join(SELECTORS),
            where=where,
            line=line,
            hint=_HINT,
        )
    selector = (selectors[0][0], str(selectors[0][1])) if selectors else DEFAULT_SELECTOR
    lastmodified = field("lastmodified", str)
    mac = field("mac", str)
    version = field("version", str)
    if not lastmodified or not mac:
        raise InputError(
            "sops metadata lacks 'lastmodified' or 'mac'", where=where, line=line, hint=_HINT
        )
    if not version or not (_SEMVER.match(str(version)) or str(version).startswith("1.")):
        raise InputError(
            "sops metadata 'version' is not a full X.Y.Z version", where=where, line=line
        )
    threshold = field("shamir_threshold", int, 0)
    groups_node = field("key_groups", Seq)
    foreign: set[str] = set()
    if isinstance(groups_node, Seq) and groups_node.items:
        groups = []
        for group in groups_node.items:
            if not isinstance(group, Map):
                raise InputError("a sops key group is not a mapping", where=where, line=line)
            groups.append(_age_stanzas(group, where, foreign))
    else:
        groups = [_age_stanzas(block, where, foreign)]
    if not any(groups):
        raise InputError(
            "the file has no age recipients",
            where=where,
            line=line,
            hint="gitrot opens files encrypted for age keys only"
            + (f"; this one uses {', '.join(sorted(foreign))}" if foreign else ""),
        )
    return Metadata(
        groups=groups,
        threshold=int(threshold or 0),  # type: ignore[call-overload]
        lastmodified=str(lastmodified),
        mac=str(mac),
        selector=selector,
        mac_only_encrypted=bool(field("mac_only_encrypted", bool, False)),
        version=str(version),
        foreign=tuple(sorted(foreign)),
    )


def _age_stanzas(node: Map, where: str, foreign: set[str]) -> list[AgeStanza]:
    for name in FOREIGN_KEY_TYPES:
        value = node.get(name)
        if isinstance(value, Seq) and value.items:
            foreign.add(name)
    entries = node.get("age")
    if entries is None:
        return []
    if not isinstance(entries, Seq):
        raise InputError("sops metadata 'age' is not a list", where=where, line=node.line)
    stanzas = []
    for item in entries.items:
        if not isinstance(item, Map):
            continue
        recipient, enc = item.get("recipient"), item.get("enc")
        if not isinstance(recipient, str) or not isinstance(enc, str):
            raise InputError(
                "a sops 'age' entry lacks 'recipient' or 'enc'", where=where, line=item.line
            )
        stanzas.append(AgeStanza(recipient, enc))
    return stanzas


_HINT = "the file's sops metadata is damaged; restore it from git history"
