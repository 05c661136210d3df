"""Whole SOPS files: parse, open the data key, decrypt, encrypt, re-key (docs/sops-format.md 12).

This is the library API the commands use. It is pure apart from randomness: identities,
recipients and the clock are passed in.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from gitrot.codec import agewrap, shamir
from gitrot.codec.cipher import Cipher
from gitrot.codec.metadata import DEFAULT_SELECTOR, AgeStanza, Metadata, from_map
from gitrot.codec.tree import Entry, Map
from gitrot.codec.walk import Selector, decrypt_documents, encrypt_documents
from gitrot.errors import InputError, IntegrityError, NoKeyError

#: mypy reads this name as True; datetime loads only when a file needs it
TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

FORMATS = ("yaml", "json", "dotenv", "binary")
_EXTENSIONS = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".env": "dotenv"}


def detect_format(path: str, override: str | None = None) -> str:
    """sops chooses the store by extension; anything unknown is the binary store."""
    if override:
        if override not in FORMATS:
            raise InputError(
                f"unknown file format {override!r}", hint="use one of: " + ", ".join(FORMATS)
            )
        return override
    name = posixpath.basename(path)
    extension = posixpath.splitext(name)[1] or (name if name.startswith(".") else "")
    return _EXTENSIONS.get(extension.lower(), "binary")  # sops: a file named ".env" is dotenv


def parse_plain(text: str, fmt: str, *, where: str) -> list[Map]:
    if fmt == "yaml":
        from gitrot.codec import yaml_parse

        return yaml_parse.parse(text, filename=where)
    if fmt == "json":
        from gitrot.codec import json_store

        return json_store.parse(text, filename=where)
    if fmt == "dotenv":
        from gitrot.codec import dotenv_store

        return dotenv_store.parse(text, filename=where)
    return [Map([Entry("data", text)])]


def emit(docs: list[Map], fmt: str, *, indent: int = 4) -> str:
    if fmt == "yaml":
        from gitrot.codec import yaml_emit

        return yaml_emit.emit(docs, indent=indent)
    if fmt == "json":
        from gitrot.codec import json_store

        return json_store.emit(docs)
    if fmt == "dotenv":
        from gitrot.codec import dotenv_store

        return dotenv_store.emit(docs)
    value = docs[0].get("data") if docs else None
    if not isinstance(value, str):
        raise InputError("a binary sops file must hold one string under 'data'")
    return value


class SopsFile:
    """An encrypted file as read: documents without ``sops``, plus the metadata."""

    __slots__ = ("docs", "fmt", "metadata", "where")

    def __init__(self, docs: list[Map], metadata: Metadata, fmt: str, where: str) -> None:
        self.docs = docs
        self.metadata = metadata
        self.fmt = fmt
        self.where = where

    @classmethod
    def parse(cls, text: str, *, fmt: str, where: str) -> SopsFile:
        docs = parse_plain(text, _envelope(fmt), where=where)
        if not docs or "sops" not in docs[0]:
            raise InputError(
                "not a sops-encrypted file (no 'sops' metadata)",
                where=where,
                hint="encrypt it first with 'gitrot encrypt -i FILE'",
            )
        metadata = from_map(docs[0].get("sops"), where=where)
        stripped = [
            Map([i for i in doc.items if not (isinstance(i, Entry) and i.key == "sops")], doc.line)
            for doc in docs
        ]
        return cls(stripped, metadata, fmt, where)


class Opened:
    """A decrypted file: the plaintext documents and what is needed to write it back."""

    __slots__ = ("cipher", "data_key", "docs", "source")

    def __init__(self, docs: list[Map], data_key: bytes, cipher: Cipher, source: SopsFile) -> None:
        self.docs = docs
        self.data_key = data_key
        self.cipher = cipher
        self.source = source


def open_data_key(metadata: Metadata, identities: Sequence[object], *, where: str) -> bytes:
    """Unwrap the data key with any of the identities; Shamir-combine key groups."""
    shares: list[bytes] = []
    for group in metadata.groups:
        for stanza in group:
            piece = agewrap.unwrap(stanza.enc, identities)
            if piece is not None:
                shares.append(piece)
                break
    if len(metadata.groups) == 1:
        if not shares:
            raise _no_key(metadata, where, identities)
        key = shares[0]
    else:
        needed = metadata.threshold or len(metadata.groups)
        if len(shares) < needed:
            raise _no_key(metadata, where, identities, got=len(shares), needed=needed)
        key = shamir.combine(shares[:needed])
    if len(key) != 32:
        raise IntegrityError("the unwrapped data key is not 32 bytes long", where=where)
    return key


def _no_key(
    metadata: Metadata,
    where: str,
    identities: Sequence[object],
    *,
    got: int = 0,
    needed: int = 1,
) -> NoKeyError:
    recipients = sorted({r for group in metadata.recipients() for r in group})
    if not identities:
        message = "no age identity found to decrypt the file"
    elif needed > 1:
        message = f"the identities found open {got} of the {needed} key groups needed"
    else:
        message = "none of the age identities found is a recipient of the file"
    shown = ", ".join(r[:16] + "..." for r in recipients[:3])
    return NoKeyError(message, where=where, hint=f"the file is encrypted for: {shown}")


def decrypt(source: SopsFile, identities: Sequence[object], *, verify_mac: bool = True) -> Opened:
    """Decrypt every value and check the MAC; raise IntegrityError on any mismatch."""
    meta = source.metadata
    data_key = open_data_key(meta, identities, where=source.where)
    cipher = Cipher(data_key)
    docs, digest = decrypt_documents(
        source.docs,
        cipher,
        Selector(*meta.selector),
        mac_only=meta.mac_only_encrypted,
        where=source.where,
    )
    if verify_mac:
        check_mac(meta, cipher, digest, where=source.where)
    return Opened(docs, data_key, cipher, source)


def check_mac(meta: Metadata, cipher: Cipher, digest: str, *, where: str) -> None:
    try:
        aad = mac_aad(meta.lastmodified)
    except IntegrityError as exc:  # not a time at all: say so, not "the MAC was changed"
        raise exc.at(where) from None
    try:
        stored, _ = cipher.decrypt(meta.mac, aad)
    except IntegrityError:
        raise IntegrityError(
            "the MAC could not be decrypted (the 'mac' or 'lastmodified' field was changed)",
            where=where,
        ) from None
    if stored.decode("ascii", "replace") != digest:
        raise IntegrityError(
            "MAC mismatch: the file's values were changed, reordered or removed "
            "outside sops/gitrot",
            where=where,
        )


def mac_aad(lastmodified: str) -> str:
    """Go parses ``lastmodified`` as RFC 3339 and re-formats it at second precision."""
    if len(lastmodified) == 20 and lastmodified[10] == "T" and lastmodified[19] == "Z":
        return lastmodified  # already canonical: what sops and gitrot write

    from datetime import UTC, datetime  # rare: files sops and gitrot write are canonical

    try:
        moment = datetime.fromisoformat(lastmodified.replace("Z", "+00:00"))
    except ValueError:
        raise IntegrityError(f"invalid lastmodified timestamp {lastmodified!r}") from None
    if moment.tzinfo is None:
        raise IntegrityError(f"lastmodified {lastmodified!r} has no time zone")
    offset = moment.utcoffset()
    moment = moment.replace(microsecond=0)
    if not offset:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat()


class EncryptOptions:
    """What a creation rule (or the command line) decides for a new file."""

    __slots__ = ("groups", "mac_only_encrypted", "selector", "threshold")

    def __init__(
        self,
        *,
        groups: list[list[str]],
        threshold: int = 0,
        selector: tuple[str, str] | None = None,
        mac_only_encrypted: bool = False,
    ) -> None:
        if not groups or not all(groups):
            raise InputError(
                "no age recipients to encrypt for",
                hint="pass --age RECIPIENT or add a creation rule with 'age:' to .sops.yaml",
            )
        if len(groups) > 1 and threshold and not 2 <= threshold <= len(groups):
            raise InputError(
                f"shamir_threshold {threshold} is not between 2 and the {len(groups)} key groups"
            )
        self.groups = groups
        self.threshold = threshold
        self.selector = selector or DEFAULT_SELECTOR
        self.mac_only_encrypted = mac_only_encrypted


def encrypt(
    docs: list[Map],
    options: EncryptOptions,
    *,
    now: datetime,
    fmt: str,
    indent: int = 4,
    previous: Opened | None = None,
) -> str:
    """Encrypt plaintext documents; with ``previous``, reuse its data key, nonces and wraps.

    Reuse keeps every unchanged ``ENC[...]`` byte-identical; if nothing at all changed the
    previous ``lastmodified`` and MAC are kept too, so the output equals the input file.
    """
    for doc in docs:
        if "sops" in doc:
            raise InputError(
                "the file already has a top-level 'sops' key (is it already encrypted?)",
                hint="decrypt it first, or edit it with 'gitrot edit'",
            )
    import secrets  # decryption never needs randomness (~4.7 ms at start-up)

    data_key = previous.data_key if previous else secrets.token_bytes(32)
    cipher = previous.cipher if previous else Cipher(data_key)
    selector = Selector(*options.selector)
    encrypted, digest = encrypt_documents(
        docs, cipher, selector, mac_only=options.mac_only_encrypted
    )
    groups = _wrap(data_key, options, previous)
    threshold = (options.threshold or len(groups)) if len(groups) > 1 else 0
    meta = Metadata(
        groups=groups,
        threshold=threshold,
        selector=options.selector,
        mac_only_encrypted=options.mac_only_encrypted,
    )
    old = previous.source.metadata if previous else None
    if (
        previous is not None
        and old is not None
        and docs == previous.docs
        and old.selector == meta.selector
        and old.mac_only_encrypted == meta.mac_only_encrypted
        and _same_mac(previous, old, digest)
    ):
        meta.lastmodified, meta.mac = old.lastmodified, old.mac
    else:
        meta.lastmodified = _rfc3339_seconds(now)
        meta.mac = cipher.encrypt(digest.encode(), "str", meta.lastmodified)
    return emit(with_metadata(encrypted, meta), _envelope(fmt), indent=indent)


def _envelope(fmt: str) -> str:
    """The binary store keeps its encrypted envelope as JSON."""
    return "json" if fmt == "binary" else fmt


def _same_mac(previous: Opened, old: Metadata, digest: str) -> bool:
    try:
        stored, _ = previous.cipher.decrypt(old.mac, mac_aad(old.lastmodified))
    except IntegrityError:
        return False
    return stored.decode("ascii", "replace") == digest


def with_metadata(docs: list[Map], meta: Metadata) -> list[Map]:
    block = meta.to_map()
    return [Map([*doc.items, Entry("sops", block)], doc.line) for doc in docs] or [
        Map([Entry("sops", block)])
    ]


def _wrap(
    data_key: bytes, options: EncryptOptions, previous: Opened | None
) -> list[list[AgeStanza]]:
    """Wrap the data key (or one Shamir share per group) for every recipient.

    A recipient that already held the same data key keeps its stanza, so rewriting a file
    does not churn its metadata.
    """
    old_groups = previous.source.metadata.groups if previous else []
    if len(options.groups) == 1:
        kept = {s.recipient: s for group in old_groups if len(old_groups) == 1 for s in group}
        return [[kept.get(r) or AgeStanza(r, agewrap.wrap(data_key, r)) for r in options.groups[0]]]
    old_recipients = [[s.recipient for s in group] for group in old_groups]
    old_threshold = previous.source.metadata.threshold if previous else 0
    if old_recipients == options.groups and old_threshold == (
        options.threshold or len(options.groups)
    ):
        return old_groups
    shares = shamir.split(data_key, len(options.groups), options.threshold or len(options.groups))
    return [
        [AgeStanza(r, agewrap.wrap(share, r)) for r in group]
        for group, share in zip(options.groups, shares, strict=True)
    ]


def rewrap(opened: Opened, options: EncryptOptions, *, fmt: str, indent: int = 4) -> str:
    """updatekeys: same data key and values, wrapped for the recipients ``options`` names."""
    meta = opened.source.metadata
    groups = _wrap(opened.data_key, options, opened)
    new = Metadata(
        groups=groups,
        threshold=(options.threshold or len(groups)) if len(groups) > 1 else 0,
        lastmodified=meta.lastmodified,
        mac=meta.mac,
        selector=meta.selector,
        mac_only_encrypted=meta.mac_only_encrypted,
        version=meta.version,
    )
    return emit(with_metadata(opened.source.docs, new), _envelope(fmt), indent=indent)


def _rfc3339_seconds(now: datetime) -> str:
    from datetime import UTC

    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
