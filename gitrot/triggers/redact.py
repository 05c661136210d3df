"""Redaction of a trigger's output before it is kept (a receipt's ``detail``, a note, stderr).

A trigger never gets a value, but a consumer does (``gitrot exec``), and a failing one may
print it: ``FATAL: cannot connect to postgres://app:<value>@db``. :func:`redact` replaces
with ``[redacted]``:

- every occurrence of each given value in the encodings a program is likely to print it
  in: plain, base64 (standard and URL-safe, with and without padding), hex (either case),
  URL-encoded and JSON-escaped; and a value's beginning cut off at the end of the text, or
  its end cut off at the start of a line (a tail or a shortened line splits it); and any
  piece of six or more characters of it anywhere (a value printed split across lines or
  in parts);
- defensively, whatever looks like a credential even when no value is given (a delivery
  retried on a later run does not know it): the userinfo of a URL
  (``scheme://user:password@``), ``password=...``-style assignments and long high-entropy
  tokens.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from gitrot.core.ports import Receipt

MARK = "[redacted]"
MIN_PARTIAL = 4  # characters of a cut-off value worth hiding at a boundary
MIN_PIECE = 6  # characters of a value, anywhere in a line, worth hiding (a split value)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@]*@")
_ASSIGNMENT = re.compile(
    r"(?i)\b([\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|"
    r"private[_-]?key|credential|auth)[\w.-]*[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&]+)"
)
_AUTHORIZATION = re.compile(r"(?i)\b(bearer|basic|token)\s+([A-Za-z0-9+/._~=-]{8,})")
_TOKEN = re.compile(r"[A-Za-z0-9+/_=.~-]{20,}")


def variants(value: str) -> list[str]:
    """The encodings of ``value`` worth hiding, longest first, without duplicates."""
    raw = value.encode("utf-8", "surrogatepass")
    found = {
        value,
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        binascii.hexlify(raw).decode(),
        binascii.hexlify(raw).decode().upper(),
        quote(value, safe=""),
        quote_plus(value, safe=""),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }
    return sorted((v for v in found if v), key=len, reverse=True)


def redact(text: str, values: Iterable[str] = ()) -> str:
    """``text`` with each of ``values`` (in every encoding of :func:`variants`) and anything
    shaped like a credential replaced by ``[redacted]``."""
    for value in values:
        if not value:
            continue
        for variant in variants(value):
            text = text.replace(variant, MARK)
        for variant in variants(value):
            text = _cut_off(text, variant)
        for variant in variants(value):
            text = _pieces(text, variant)
    text = _USERINFO.sub(lambda m: f"{m[1]}{MARK}@", text)
    text = _AUTHORIZATION.sub(lambda m: f"{m[1]} {MARK}", text)
    text = _ASSIGNMENT.sub(_assignment, text)
    return _TOKEN.sub(lambda m: MARK if _looks_random(m[0]) else m[0], text)


def redact_receipt(receipt: Receipt, values: Iterable[str] = ()) -> Receipt:
    """``receipt`` with ``values`` and anything shaped like a credential taken out of its
    detail: the reconciler passes every receipt, of any trigger type, through it."""
    return Receipt(
        trigger=receipt.trigger,
        delivery_id=receipt.delivery_id,
        ok=receipt.ok,
        attempts=receipt.attempts,
        detail=redact(str(receipt.detail), values),
        at=receipt.at,
    )


def _assignment(match: re.Match[str]) -> str:
    if match[2] == MARK or match[2].lower() in ("bearer", "basic", "token"):
        return match[0]  # hidden already, or an Authorization scheme (hidden after it)
    return match[1] + MARK


def _cut_off(text: str, variant: str) -> str:
    """Hide a beginning of ``variant`` that ends the text (before an ellipsis) and an end
    of it that starts a line: what is left of a value a cut went through."""
    if len(variant) <= MIN_PARTIAL:
        return text
    body, ellipsis = (text[:-1], text[-1]) if text.endswith("…") else (text, "")
    for size in range(len(variant) - 1, MIN_PARTIAL - 1, -1):
        if body.endswith(variant[:size]):
            body = body[:-size] + MARK
            break
    lines = (body + ellipsis).split("\n")
    for index, line in enumerate(lines):
        for size in range(len(variant) - 1, MIN_PARTIAL - 1, -1):
            if line.startswith(variant[-size:]):
                lines[index] = MARK + line[size:]
                break
    return "\n".join(lines)


def _pieces(text: str, variant: str) -> str:
    """Hide every run of MIN_PIECE or more characters of ``text`` that is a piece of
    ``variant``: what a value split across lines, or printed in parts, leaves in a line."""
    if len(variant) < MIN_PIECE:
        return text
    grams = {variant[i : i + MIN_PIECE] for i in range(len(variant) - MIN_PIECE + 1)}
    hidden = [False] * len(text)
    for start in range(len(text) - MIN_PIECE + 1):
        if text[start : start + MIN_PIECE] in grams:
            hidden[start : start + MIN_PIECE] = [True] * MIN_PIECE
    if not any(hidden):
        return text
    out: list[str] = []
    for index, char in enumerate(text):
        if not hidden[index]:
            out.append(char)
        elif index == 0 or not hidden[index - 1]:
            out.append(MARK)
    return "".join(out)


def _looks_random(token: str) -> bool:
    """A token of 20+ characters that mixes digits, lower and upper case letters with high
    entropy, or 32+ hex digits: a key, a password or an encoding of one (not a word, a path
    or a version)."""
    core = token.strip("=.-_~/")
    if len(core) < 20 or MARK in token:
        return False
    if re.fullmatch(r"[0-9a-fA-F]{32,}", core):
        return True  # a hex digest or key
    if not (re.search(r"[0-9]", core) and re.search(r"[a-z]", core) and re.search(r"[A-Z]", core)):
        return False  # a path, a word, a version
    counts: dict[str, int] = {}
    for char in core:
        counts[char] = counts.get(char, 0) + 1
    entropy = -sum(n / len(core) * math.log2(n / len(core)) for n in counts.values())
    return entropy >= 3.5
