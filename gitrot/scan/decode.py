"""Encoded material, decoded and scanned: hits are reported at the encoded value.

- a Kubernetes Secret's ``data:`` (and ``binaryData:``) values: base64, each decoded value
  scanned as the value of its key (``password: <base64>`` is a clear password);
- kubeconfig ``client-key-data:`` (a base64 PEM private key) and any ``*-key-data``;
- ``.dockerconfigjson`` / ``.dockercfg`` (base64 JSON) and Docker ``"auth"`` fields
  (base64 ``user:password``): the password is scanned as a password.

Decoding goes two levels deep at most (a Secret's ``.dockerconfigjson``, then its
``auth``); a value that is not strict base64 of UTF-8 text is left alone.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Iterator

from gitrot.scan.formats import Lazy
from gitrot.scan.values import lines_with

Found = list[tuple[int, int, str, str, str]]
Collect = Callable[[str, str, int], Found]


_B64 = r"[A-Za-z0-9+/]{8,}={0,2}"
_DATA_BLOCK = Lazy(r"(?m)^(?P<indent>[ \t]*)(?:data|binaryData):[ \t]*\r?$")
_ENTRY = Lazy(
    r"[ \t]*[\"']?(?P<key>[\w.-]+)[\"']?[ \t]*:[ \t]*[\"']?(?P<v>" + _B64 + r")[\"']?[ \t]*\r?$"
)
_KEY_DATA = Lazy(
    r"(?m)[\"']?(?P<key>[\w.-]*-key-data|\.dockerconfigjson|\.dockercfg)[\"']?[ \t]*:[ \t]*"
    r"[\"']?(?P<v>" + _B64 + r")"
)
_AUTH = Lazy(r"[\"']auth[\"'][ \t]*:[ \t]*[\"'](?P<v>" + _B64 + r")[\"']")
_KIND_SECRET = Lazy(r"(?m)^kind:[ \t]*[\"']?Secret[\"']?[ \t]*$")
MAX_DEPTH = 2


def decoded(text: str, collect: Collect, depth: int = 0) -> Found:
    """Hits in the encoded values of ``text`` (positions in ``text``). ``collect(decoded,
    path, depth)`` scans a decoded text as a file named ``path``."""
    hits: Found = []
    if depth >= MAX_DEPTH:
        return hits
    seen: set[int] = set()
    if "Secret" in text and _KIND_SECRET.get().search(text):
        for start, end, key, value in _secret_data(text):
            seen.add(start)
            hits += _rebased(_decoded_value(key, value, collect, depth), start, end)
    if "-key-data" in text or ".docker" in text:
        for match in _on_lines(_KEY_DATA, text, ("-key-data", ".docker")):
            if match.start("v") not in seen:
                seen.add(match.start("v"))
                found = _decoded_value(match.group("key"), match.group("v"), collect, depth)
                hits += _rebased(found, match.start("v"), match.end("v"))
    if '"auth"' in text or "'auth'" in text:
        for match in _on_lines(_AUTH, text, ('"auth"', "'auth'")):
            if match.start("v") in seen:
                continue
            plain = _b64(match.group("v"))
            user, colon, password = (plain or "").partition(":")
            if colon and user and password:
                found = collect(f"password: {password}\n", "auth.yaml", depth + 1)
                hits += _rebased(found, match.start("v"), match.end("v"))
    return hits


def _on_lines(pattern: Lazy, text: str, words: tuple[str, ...]) -> Iterator[re.Match[str]]:
    for start, end in lines_with(text, words):
        yield from pattern.get().finditer(text, start, end)


def _secret_data(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, key, base64) of each entry under a Secret's ``data:`` blocks."""
    entries: list[tuple[int, int, str, str]] = []
    for block in _DATA_BLOCK.get().finditer(text):
        indent = len(block.group("indent").expandtabs())
        pos = block.end() + 1
        while pos < len(text):
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            line = text[pos:end]
            if line.strip() and not line.lstrip().startswith("#"):
                if len(line) - len(line.lstrip()) <= indent:
                    break
                match = _ENTRY.get().match(line)
                if match is not None:
                    entries.append(
                        (
                            pos + match.start("v"),
                            pos + match.end("v"),
                            match.group("key"),
                            match.group("v"),
                        )
                    )
            pos = end + 1
    return entries


def _decoded_value(key: str, value: str, collect: Collect, depth: int) -> Found:
    plain = _b64(value)
    if plain is None or not plain.strip():
        return []
    if "\n" in plain.strip() or key.startswith(".docker") or plain.lstrip().startswith("{"):
        name = "decoded.json" if plain.lstrip().startswith(("{", "[")) else key
        return collect(plain, name, depth + 1)
    import json  # ~1 ms, paid only by a base64 value that decodes to text

    return collect(f"{key}: {json.dumps(plain)}\n", "decoded.yaml", depth + 1)


def _b64(value: str) -> str | None:
    if len(value) % 4:
        return None
    import base64  # ~1 ms, paid only by base64-looking material

    try:
        plain = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if any(ord(c) < 32 and c not in "\t\r\n" for c in plain):
        return None
    return plain


def _rebased(found: Found, start: int, end: int) -> Found:
    """Hits of a decoded text, placed at the encoded value (the secret stays the decoded)."""
    return [(start, end, rule, description, secret) for _, _, rule, description, secret in found]
