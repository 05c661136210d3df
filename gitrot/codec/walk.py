"""Encrypting and decrypting a document tree the way sops walks it (docs/sops-format.md 3 to 6).

The walk is depth-first in document order. Entering a map value appends its key to the
path; entering a list does not. Each non-null leaf is "visited": the selector decides
whether it is encrypted, its AAD is the path joined with ``:`` plus a trailing ``:``, and
its canonical plaintext feeds one SHA-512 over the whole file (the MAC). Comments are
visited too (encrypted, never hashed). Both walks build new trees; inputs are not mutated.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from gitrot.codec.cipher import Cipher
from gitrot.codec.gotypes import from_plaintext, plaintext
from gitrot.codec.tree import Comment, Entry, Map, Scalar, Seq, Value
from gitrot.core.layout import ENCRYPTED_PREFIX
from gitrot.errors import InputError, IntegrityError

#: typing costs ~2 ms at start-up, which `gitrot decrypt FILE` in a build job does not pay;
#: mypy reads this name as True
TYPE_CHECKING = False
if TYPE_CHECKING:  # a name of typeshed's only; importing hashlib loads OpenSSL (~5 ms)
    from hashlib import _Hash

# SHA-256("sops"): fed first when mac_only_encrypted is set (docs/sops-format.md 6)
MAC_ONLY_ENCRYPTED_INIT = bytes.fromhex(
    "8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69"
)


@functools.cache
def _sha512_constructor() -> Callable[[], _Hash]:
    """SHA-512 from the interpreter's own module: importing hashlib loads OpenSSL (~5 ms)."""
    try:
        from _sha2 import sha512  # type: ignore[import-not-found]  # Python >= 3.12
    except ImportError:
        try:
            from _sha512 import sha512  # type: ignore[import-not-found]  # Python 3.11
        except ImportError:  # pragma: no cover - a build without the builtin module
            from hashlib import sha512
    return sha512  # type: ignore[no-any-return]


def _sha512() -> _Hash:
    return _sha512_constructor()()


class Selector:
    """Which leaves are encrypted: one of the six sops selectors (docs/sops-format.md 5)."""

    __slots__ = ("_regex", "kind", "value")

    def __init__(self, kind: str, value: str) -> None:
        self.kind = kind
        self.value = value
        try:
            self._regex = re.compile(value) if kind.endswith("regex") else None
        except re.error as exc:
            raise InputError(
                f"{kind} {value!r} is not a valid regular expression ({exc.msg})",
                hint="fix the selector in .sops.yaml, on the command line or in the file",
            ) from None

    def encrypts(self, path: list[str], comments: list[list[str]], is_comment: bool) -> bool:
        kind, value, regex = self.kind, self.value, self._regex
        if kind == "unencrypted_suffix":
            return not any(part.endswith(value) for part in path)
        if kind == "encrypted_suffix":
            return any(part.endswith(value) for part in path)
        assert regex is not None  # noqa: S101 - every other kind is a regex
        if kind == "unencrypted_regex":
            return not any(regex.search(part) for part in path)
        if kind == "encrypted_regex":
            return any(regex.search(part) for part in path)
        if kind == "unencrypted_comment_regex":
            return not any(regex.search(c) for level in comments for c in level)
        # encrypted_comment_regex: the matching comment line itself stays clear
        last = len(comments) - 1
        for i, level in enumerate(comments):
            for j, text in enumerate(level):
                if is_comment and i == last and j == len(level) - 1:
                    continue
                if regex.search(text):
                    return True
        return False


class _Walk:
    """State shared by one walk over all documents of a file."""

    __slots__ = ("cipher", "decrypting", "digest", "mac_only", "selector", "where")

    def __init__(
        self, cipher: Cipher, selector: Selector, mac_only: bool, decrypting: bool, where: str
    ) -> None:
        self.cipher = cipher
        self.selector = selector
        self.mac_only = mac_only
        self.decrypting = decrypting
        self.where = where
        self.digest = _sha512()
        if mac_only:
            self.digest.update(MAC_ONLY_ENCRYPTED_INIT)

    def map(self, node: Map, path: list[str], stack: list[list[str]]) -> Map:
        active: list[str] = []
        stack = [*stack, active]
        items: list[Entry | Comment] = []
        for item in node.items:
            if isinstance(item, Comment):
                active.append(item.text)
                items.append(self.comment(item, path, stack))
                continue
            child_path = [*path, item.key]
            items.append(
                Entry(item.key, self.value(item.value, child_path, stack, item.line), item.line)
            )
            active.clear()
        return Map(items, node.line)

    def seq(self, node: Seq, path: list[str], stack: list[list[str]], line: int) -> Seq:
        active: list[str] = []
        stack = [*stack, active]
        items: list[Value | Comment] = []
        for item in node.items:
            if isinstance(item, Comment):
                active.append(item.text)
                items.extend(self.seq_comment(item, path, stack))
                continue
            if self.decrypting and isinstance(item, str) and item.endswith(",type:comment]"):
                items.append(self.open_seq_comment(item, path, stack, line))
                continue
            items.append(self.value(item, path, stack, line))
            active.clear()
        return Seq(items, node.line)

    def seq_comment(
        self, item: Comment, path: list[str], stack: list[list[str]]
    ) -> list[Value | Comment]:
        """sops writes an encrypted comment of a list as a list item, not as a ``#`` line.

        (Its walk over lists does not turn the encrypted text back into a comment.) An empty
        comment would come back as an empty-string item, so it is dropped instead.
        """
        if self.decrypting or not self.selector.encrypts(path, stack, True):
            return [self.comment(item, path, stack)]
        if item.text == "":
            return []
        return [self.cipher.encrypt(item.text.encode(), "comment", ":".join(path) + ":")]

    def open_seq_comment(
        self, item: str, path: list[str], stack: list[list[str]], line: int
    ) -> Value | Comment:
        if not self.selector.encrypts(path, stack, False):
            return self.value(item, path, stack, line)
        try:
            data, _ = self.cipher.decrypt(item, ":".join(path) + ":")
        except IntegrityError:
            raise IntegrityError(
                f"an encrypted comment in the list at '{'.'.join(path)}' failed authentication",
                where=self.where,
                line=line,
            ) from None
        return Comment(data.decode("utf-8", "replace"), line)

    def value(self, node: Value, path: list[str], stack: list[list[str]], line: int) -> Value:
        if isinstance(node, Map):
            return self.map(node, path, stack)
        if isinstance(node, Seq):
            return self.seq(node, path, stack, line or node.line)
        if node is None:
            return None
        encrypted = self.selector.encrypts(path, stack, False)
        if self.decrypting:
            return self.open_leaf(node, path, encrypted, line)
        return self.seal_leaf(node, path, encrypted)

    def seal_leaf(self, node: Scalar, path: list[str], encrypted: bool) -> Value:
        data, type_name = plaintext(node)
        if encrypted or not self.mac_only:
            self.digest.update(data)
        if not encrypted or data == b"":
            return node
        return self.cipher.encrypt(data, type_name, ":".join(path) + ":")

    def open_leaf(self, node: Scalar, path: list[str], encrypted: bool, line: int) -> Value:
        if not encrypted:
            if not self.mac_only:
                self.digest.update(plaintext(node)[0])
            return node
        if node == "":
            return ""
        if not isinstance(node, str):
            raise IntegrityError(
                f"the value at '{'.'.join(path)}' should be encrypted but is not",
                where=self.where,
                line=line,
            )
        try:
            data, type_name = self.cipher.decrypt(node, ":".join(path) + ":")
        except IntegrityError as exc:
            raise IntegrityError(
                f"cannot decrypt the value at '{'.'.join(path)}': {exc.message}",
                where=self.where,
                line=line,
            ) from None
        if type_name == "comment":
            raise IntegrityError(
                f"the value at '{'.'.join(path)}' is an encrypted comment",
                where=self.where,
                line=line,
            )
        value = from_plaintext(data, type_name)
        # Go hashes the re-encoded value; for canonical writers that is the same bytes
        self.digest.update(data if type_name == "str" else plaintext(value)[0])
        return value

    def comment(self, item: Comment, path: list[str], stack: list[list[str]]) -> Comment:
        if not self.selector.encrypts(path, stack, True) or item.text == "":
            return item
        aad = ":".join(path) + ":"
        if not self.decrypting:
            return Comment(self.cipher.encrypt(item.text.encode(), "comment", aad), item.line)
        if not item.text.startswith(ENCRYPTED_PREFIX):
            return item  # sops keeps comments it cannot decrypt (older files), so do we
        try:
            data, type_name = self.cipher.decrypt(item.text, aad)
        except IntegrityError:
            raise IntegrityError(
                "an encrypted comment failed authentication", where=self.where, line=item.line
            ) from None
        if type_name != "comment":
            raise IntegrityError(
                "a comment holds an encrypted value", where=self.where, line=item.line
            )
        return Comment(data.decode("utf-8", "replace"), item.line)

    def mac(self) -> str:
        return self.digest.hexdigest().upper()


def encrypt_documents(
    docs: list[Map], cipher: Cipher, selector: Selector, *, mac_only: bool
) -> tuple[list[Map], str]:
    """Encrypt every selected leaf; returns the new documents and the MAC (hex, upper)."""
    walk = _Walk(cipher, selector, mac_only, decrypting=False, where="")
    out = [walk.map(doc, [], []) for doc in docs]
    return out, walk.mac()


def decrypt_documents(
    docs: list[Map], cipher: Cipher, selector: Selector, *, mac_only: bool, where: str
) -> tuple[list[Map], str]:
    """Decrypt every selected leaf; returns the plaintext documents and the computed MAC."""
    walk = _Walk(cipher, selector, mac_only, decrypting=True, where=where)
    out = [walk.map(doc, [], []) for doc in docs]
    return out, walk.mac()
