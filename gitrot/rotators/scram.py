"""SCRAM-SHA-256 password verifiers, computed client-side (RFC 5802, RFC 7677), in the form
PostgreSQL stores in ``pg_authid.rolpassword`` and accepts in ``ALTER ROLE ... PASSWORD``
(docs/rotators.md, "postgres")::

    SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>     (base64 each)

A server given a verifier stores it as it is, so the plain password never reaches it, its
log (``log_statement=all``) or ``pg_stat_statements``. The password is prepared as
PostgreSQL and libpq prepare it (:func:`saslprep`), so a client that logs in with the same
password derives the same keys. Pure: the standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stringprep
import unicodedata

ITERATIONS = 4096  # PostgreSQL's default scram_iterations
SALT_BYTES = 16  # as PostgreSQL's own (SCRAM_DEFAULT_SALT_LEN)
PREFIX = "SCRAM-SHA-256"

_PROHIBITED = (
    stringprep.in_table_c12,
    stringprep.in_table_c21_c22,
    stringprep.in_table_c3,
    stringprep.in_table_c4,
    stringprep.in_table_c5,
    stringprep.in_table_c6,
    stringprep.in_table_c7,
    stringprep.in_table_c8,
    stringprep.in_table_c9,
    stringprep.in_table_a1,  # unassigned code points: prohibited in stored strings
)


def saslprep(password: str) -> bytes:
    """The bytes SCRAM hashes for ``password``, as PostgreSQL's ``pg_saslprep`` makes them
    (RFC 4013 for stored strings): ASCII as it is; otherwise non-ASCII spaces mapped to a
    space, "commonly mapped to nothing" characters removed, NFKC, then the UTF-8 of the
    result, or the password's own UTF-8 when it holds a prohibited character or breaks the
    bidirectional rules (PostgreSQL then uses the raw bytes too). A character in both
    tables (U+200B) is a space, as PostgreSQL maps it."""
    raw = password.encode("utf-8", "surrogatepass")
    if password.isascii():
        return raw
    mapped = "".join(
        " " if stringprep.in_table_c12(char) else char
        for char in password
        if stringprep.in_table_c12(char) or not stringprep.in_table_b1(char)
    )
    prepared = unicodedata.ucd_3_2_0.normalize("NFKC", mapped)
    if not prepared or any(check(char) for char in prepared for check in _PROHIBITED):
        return raw
    if any(stringprep.in_table_d1(char) for char in prepared) and (
        any(stringprep.in_table_d2(char) for char in prepared)
        or not stringprep.in_table_d1(prepared[0])
        or not stringprep.in_table_d1(prepared[-1])
    ):
        return raw
    return prepared.encode()


def verifier(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier of ``password`` with ``salt`` (default: 16 random bytes).
    The verifier does not reveal the password, but is a secret of the server's: it lets one
    impersonate the server to a client, so it too never goes to an error or a log of ours."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", saslprep(password), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    return f"{PREFIX}${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
