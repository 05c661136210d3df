"""Encoded material at its edges: what is decoded (the finding keyed as the decoded secret,
at the encoded value), how deep, and what is left alone; values that read as no secret.

A fingerprint keyed with a known salt tells which text a finding was made of: the decoded
secret, or the encoded text itself."""

from __future__ import annotations

import base64
import json
import random
import string

import pytest

from gitrot.scan import allowlist
from gitrot.scan.detectors import Hit, fingerprint, scan_text

SALT = "ab" * 16
ALNUM = string.ascii_letters + string.digits


def rand(n: int, seed: int) -> str:
    """Secrets are made at run time, so this file scans clean."""
    rng = random.Random(seed)
    return "".join(rng.choice(ALNUM) for _ in range(n))


PASSWORD = rand(40, 1)  # long: keyed without scrypt


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def found(text: str, path: str = "s.yaml") -> list[tuple[str, int, int, str]]:
    """(rule, line, column, which) of each hit; which: 'decoded' when keyed as PASSWORD,
    'auth' as user:PASSWORD, else 'encoded'."""
    marks = {fingerprint(PASSWORD, SALT): "decoded", fingerprint("user:" + PASSWORD, SALT): "auth"}
    return [
        (hit.rule, hit.line, hit.column, marks.get(hit.fingerprint, "encoded"))
        for hit in scan_text(text, path=path, salt=SALT)
    ]


def secret(data: str) -> str:
    return f"kind: Secret\ndata:\n{data}"


LEVEL_1 = secret(f"  password: {b64(PASSWORD)}\n")
LEVEL_2 = secret(f"  config: {b64(LEVEL_1)}\n")
LEVEL_3 = secret(f"  config: {b64(LEVEL_2)}\n")


def test_a_secrets_data_is_decoded_two_levels_deep_and_no_deeper() -> None:
    assert found(LEVEL_1) == [("high-entropy-secret", 3, 13, "decoded")]
    # a Secret inside a Secret's value: found, placed at the outer encoded value
    assert found(LEVEL_2) == [("high-entropy-secret", 3, 11, "decoded")]
    # a third level is not decoded: what is reported is the random-looking encoded text
    assert found(LEVEL_3) == [("high-entropy-secret", 3, 11, "encoded")]


def test_blank_and_comment_lines_stay_inside_the_data_block_a_key_at_its_indent_ends_it() -> None:
    text = secret(f"\n  # the database\n  password: {b64(PASSWORD)}\n")
    assert found(text) == [("high-entropy-secret", 5, 13, "decoded")]
    after = secret(f"other:\n  password: {b64(PASSWORD)}\n")
    assert found(after) == [("high-entropy-secret", 4, 13, "encoded")]


@pytest.mark.parametrize(
    "value",
    [
        b64(PASSWORD)[:-1],  # not a multiple of 4 characters
        b64("\x01" + PASSWORD),  # decodes to a control character
        base64.b64encode(b"\xff\xfe" + PASSWORD.encode()).decode(),  # not UTF-8
    ],
    ids=["length", "control", "not-utf8"],
)
def test_a_value_that_is_not_strict_base64_of_text_is_not_decoded(value: str) -> None:
    assert all(which == "encoded" for *_, which in found(secret(f"  password: {value}\n")))


def test_a_value_that_decodes_to_blank_gives_no_decoded_finding() -> None:
    assert all(which == "encoded" for *_, which in found(secret(f"  password: {b64(' ' * 8)}\n")))


def test_docker_auth_is_decoded_once_and_needs_user_and_password() -> None:
    auth = b64("user:" + PASSWORD)
    # the Secret's data entry named auth is the one finding (not again as a Docker auth)
    assert found(secret(f'  "auth": "{auth}"\n')) == [("high-entropy-secret", 3, 12, "auth")]
    config = json.dumps({"auths": {"registry": {"auth": auth}}})
    assert found(config, "config.json") == [("high-entropy-secret", 1, 34, "decoded")]
    nested = secret(f"  .dockerconfigjson: {b64(config)}\n")
    assert found(nested) == [("high-entropy-secret", 3, 22, "decoded")]
    no_colon = json.dumps({"auths": {"registry": {"auth": b64("user" + PASSWORD)}}})
    assert found(no_colon, "config.json") == []


def test_a_finding_inside_a_private_key_block_is_the_blocks() -> None:
    body = rand(64, 2)
    inner = b64(f"user: me\npassword: {PASSWORD}\n")
    block = (
        f"-----BEGIN RSA PRIVATE KEY-----\n{body}\nclient-key-data: {inner}\n"
        "-----END RSA PRIVATE KEY-----\n"
    )
    assert found(block, "k.yaml") == [("private-key", 1, 1, "encoded")]
    assert found(f"client-key-data: {inner}\n", "k.yaml") == [
        ("high-entropy-secret", 1, 18, "decoded")
    ]


@pytest.mark.parametrize(
    ("line", "path"),
    [
        ("password: change4Xq9z7Lme\n", "config.yaml"),  # change...me
        ("password: yourXxxxToken\n", "config.yaml"),  # a camelCase placeholder piece
        ("password: MyExampleSecret\n", "config.yaml"),
        ("password: mot de passe très secrète\n", "config.yaml"),  # a sentence
        ("password: été hiver\n", "config.yaml"),  # words outside ASCII
        ('password = "#.#.#."\n', "app.py"),  # punctuation only
        ("api_token: |\n\n\n\n", "config.yaml"),  # an empty block scalar
        ("api_token: |\nZx8Qv2Lp9Rt4Wm7Kc3Nb\n", "config.yaml"),  # not indented: not its block
        ("api_token: |\n  Zx8Qv2Lp9Rt4Wm7Kc3Nb\n  Yx8Qv2Lp9Rt4Wm7Kc3Nb\n", "config.yaml"),  # lines
        ("note: xoxb-12-Ab3dEf9Qz\n", "config.yaml"),  # shorter than any Slack token
    ],
)
def test_values_that_read_as_no_secret(line: str, path: str) -> None:
    assert scan_text(line, path=path) == []


def test_values_that_read_as_secrets() -> None:
    assert found(f"api_token: |\n  {PASSWORD}\n", "c.yaml") == [
        ("high-entropy-secret", 2, 3, "decoded")
    ]
    slack = "xoxb-1234567890-" + rand(20, 3)
    assert [hit.rule for hit in scan_text(f"note: {slack}\n", path="c.yaml")] == ["slack-token"]


def test_an_allow_without_reason_is_keyed_with_each_allowlists_salt() -> None:
    (hit,) = scan_text("x = 1  # gitrot: allow\n", path="a.py", salt=SALT)
    assert hit.rule == "allow-without-reason" and (hit.line, hit.column) == (1, 10)
    assert hit.fingerprint == fingerprint("gitrot: allow", SALT)
    entry = allowlist.AllowEntry(hit.fingerprint, "the scanner's own tests", salt=SALT)
    assert allowlist.apply([hit], [entry]) == []
    # the head's allowlist (another salt) in a PR check scanned with the base's salt
    other = "cd" * 16
    head = allowlist.AllowEntry(fingerprint("gitrot: allow", other), "allowed", salt=other)
    assert allowlist.apply([hit], [head]) == []
    stale = allowlist.AllowEntry(hit.fingerprint, "keyed with the base's salt", salt=other)
    assert allowlist.apply([hit], [stale]) == [hit]


def test_a_hit_made_without_a_digest_keeps_its_fingerprint_under_any_salt() -> None:
    hit = Hit("r", "p", 1, 1, "hmac:0123456789abcdef", "d")
    assert hit.keyed(SALT) == "hmac:0123456789abcdef"


def test_many_findings_in_one_file_each_at_its_line_and_column() -> None:
    text = "".join(f"{'  ' * (n % 3)}key = ghp_{rand(36, n)}\n" for n in range(40))
    hits = scan_text(text, path="many.txt")
    assert [(hit.line, hit.column) for hit in hits] == [(n + 1, 7 + 2 * (n % 3)) for n in range(40)]
    assert {hit.rule for hit in hits} == {"github-token"}
