"""Redaction of a trigger's output: the value in every encoding, cut-off pieces of it at
the edges, and whatever looks like a credential when no value is known."""

from __future__ import annotations

import base64
import json
import secrets
from urllib.parse import quote, quote_plus

import pytest

from gitrot.triggers.base import Receipt
from gitrot.triggers.redact import MARK, redact, redact_receipt, variants


def value() -> str:
    return "Pw" + secrets.token_urlsafe(24) + '+/ &"é'


def encodings(text: str) -> dict[str, str]:
    raw = text.encode()
    return {
        "plain": text,
        "base64": base64.b64encode(raw).decode(),
        "base64 unpadded": base64.b64encode(raw).decode().rstrip("="),
        "base64url": base64.urlsafe_b64encode(raw).decode(),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "url-encoded": quote(text, safe=""),
        "form-encoded": quote_plus(text),
        "json": json.dumps(text)[1:-1],
        "json utf-8": json.dumps(text, ensure_ascii=False)[1:-1],
    }


@pytest.mark.parametrize("form", list(encodings("x")))
def test_the_value_is_hidden_in_every_encoding(form: str) -> None:
    secret = value()
    encoded = encodings(secret)[form]
    text = f"FATAL: connect failed with {encoded} (retrying)\nexit"
    hidden = redact(text, [secret])
    assert encoded not in hidden
    assert hidden == f"FATAL: connect failed with {MARK} (retrying)\nexit"


def test_a_value_cut_at_either_edge_is_hidden() -> None:
    secret = "q7Rk2mZp9LwX4vTn"  # gitrot: allow a made-up test value
    assert redact("dsn=app:" + secret[:9] + "…", [secret]).endswith(f"{MARK}…")
    assert redact(secret[-7:] + "@db failed", [secret]) == f"{MARK}@db failed"
    assert redact("x " + secret[:9], [secret]) == f"x {MARK}"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("FATAL: postgres://app:hunter2@db:5432/app", f"FATAL: postgres://{MARK}@db:5432/app"),
        ("redis://:pa55@cache/0 refused", f"redis://{MARK}@cache/0 refused"),  # gitrot: allow fake
        ("DB_PASSWORD=hunter2 make deploy", f"DB_PASSWORD={MARK} make deploy"),
        ('{"api_key": "abc123"}', f'{{"api_key": "{MARK}"}}'),
        ("Authorization: Bearer abcdefgh12345", f"Authorization: Bearer {MARK}"),
        ("sha 0123456789abcdef0123456789abcdef01234567", f"sha {MARK}"),
        ("token wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", f"token {MARK}"),
    ],
)
def test_credentials_are_hidden_without_knowing_them(text: str, shown: str) -> None:
    assert redact(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "make: *** No rule to make target rebuild.",
        "/usr/local/lib/python3.11/site-packages/deploy/cli.py line 12",
        "ModuleNotFoundError: No module named deploy_tools_for_ledger",
        "exit 2: connection refused (db.internal:5432)",
    ],
)
def test_ordinary_output_is_kept(text: str) -> None:
    assert redact(text) == text


def test_variants_are_longest_first_without_duplicates() -> None:
    found = variants("abc")
    assert found == sorted(set(found), key=len, reverse=True)
    assert "abc" in found and "616263" in found and "YWJj" in found


def test_a_receipt_is_redacted_whatever_its_trigger() -> None:
    secret = value()
    receipt = Receipt(
        trigger="pager", delivery_id="d", ok=False, attempts=1, detail=f"bad {secret}", at=5
    )
    clean = redact_receipt(receipt, [secret])
    assert clean.as_dict() == {**receipt.as_dict(), "detail": f"bad {MARK}"}


def test_an_empty_value_hides_nothing_and_a_short_one_is_hidden_whole() -> None:
    assert redact("exit 1: nothing to see", [""]) == "exit 1: nothing to see"
    # a value too short to hide by its cut-off pieces is still hidden where it is whole
    assert redact("login ab failed", ["ab"]) == f"login {MARK} failed"


def test_a_value_split_across_lines_is_hidden_piece_by_piece() -> None:
    secret = "Zq8vLm2Np4Rt"
    text = f"error: bad key Zq8vLm\n2Np4Rt end\nnone of it: {secret[::-1]}"
    assert redact(text, [secret]) == (
        f"error: bad key {MARK}\n{MARK} end\nnone of it: {secret[::-1]}"
    )
    # a text holding no six characters of the value keeps every character
    assert redact("retrying in 5s", [secret]) == "retrying in 5s"


def test_padding_alone_is_not_taken_for_a_token() -> None:
    text = "---------------------------- section ====================x1"
    assert redact(text) == text
