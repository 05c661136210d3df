"""Shamir's secret sharing over GF(2^8), byte-compatible with sops (docs/sops-format.md 7.1).

sops splits the data key with a copy of HashiCorp Vault's ``shamir`` package when a file has
several key groups. Each share is ``len(secret) + 1`` bytes: byte *i* is the value at *x* of
a random polynomial whose constant term is secret byte *i*, and the last byte is *x* itself.
The field is the AES field, GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (0x11B); addition is XOR.

Combining evaluates the Lagrange interpolation polynomial at x = 0.

The log/exp tables (generator 3) are built once at import; it costs 255 steps. Pure apart
from randomness (the polynomials of a split).
"""

from __future__ import annotations

from gitrot.errors import InputError

_POLY = 0x11B


def _build_tables() -> tuple[list[int], list[int]]:
    exp = [0] * 510
    log = [0] * 256
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        # multiply by the generator 3 = x + 1: value * x  XOR  value
        doubled = value << 1
        if doubled & 0x100:
            doubled ^= _POLY
        value = doubled ^ value
    for power in range(255, 510):
        exp[power] = exp[power - 255]
    return exp, log


_EXP, _LOG = _build_tables()


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    if b == 0:  # pragma: no cover - callers never divide by zero
        raise ZeroDivisionError("division by zero in GF(2^8)")
    if a == 0:
        return 0
    return _EXP[(_LOG[a] - _LOG[b]) % 255]


def split(secret: bytes, parts: int, threshold: int) -> list[bytes]:
    """Split ``secret`` into ``parts`` shares, any ``threshold`` of which recover it.

    The x coordinates are a random permutation of 1..255, as in Vault's implementation;
    share *i* is what sops wraps for key group *i*.
    """
    if not secret:
        raise InputError("cannot split an empty secret")
    if threshold < 2 or threshold > 255:
        raise InputError(f"shamir threshold must be between 2 and 255, not {threshold}")
    if parts < threshold:
        raise InputError(f"cannot split into {parts} parts with a threshold of {threshold}")
    if parts > 255:
        raise InputError(f"cannot split into more than 255 parts, not {parts}")

    import secrets  # decryption never needs randomness (~4.7 ms at start-up)

    rng = secrets.SystemRandom()
    xs = [x + 1 for x in rng.sample(range(255), parts)]
    shares = [bytearray(len(secret) + 1) for _ in range(parts)]
    for share, x in zip(shares, xs, strict=True):
        share[-1] = x
    degree = threshold - 1
    for index, byte in enumerate(secret):
        # coefficients[0] is the secret byte, the others are random
        coefficients = [byte, *secrets.token_bytes(degree)]
        for share, x in zip(shares, xs, strict=True):
            # Horner's rule, highest degree first
            y = 0
            for coefficient in reversed(coefficients):
                y = _mul(y, x) ^ coefficient
            share[index] = y
    return [bytes(share) for share in shares]


def combine(shares: list[bytes]) -> bytes:
    """Recover the secret from ``threshold`` or more shares made by :func:`split`.

    With fewer shares than the threshold the result is a wrong secret, not an error:
    Shamir's scheme cannot tell (sops then fails to decrypt the MAC).
    """
    if len(shares) < 2:
        raise InputError("at least two shares are needed to recover a shamir-split key")
    length = len(shares[0])
    if length < 2:
        raise InputError("shamir shares must be at least two bytes long")
    if any(len(share) != length for share in shares):
        raise InputError("shamir shares have different lengths")
    xs = [share[-1] for share in shares]
    if len(set(xs)) != len(xs):
        raise InputError("duplicate shamir share (two shares with the same x coordinate)")

    # Lagrange basis polynomials evaluated at 0: prod_{j != i} x_j / (x_i - x_j);
    # subtraction is XOR in GF(2^8).
    weights = []
    for i, xi in enumerate(xs):
        weight = 1
        for j, xj in enumerate(xs):
            if i != j:
                weight = _mul(weight, _div(xj, xi ^ xj))
        weights.append(weight)

    secret = bytearray(length - 1)
    for index in range(length - 1):
        value = 0
        for share, weight in zip(shares, weights, strict=True):
            value ^= _mul(share[index], weight)
        secret[index] = value
    return bytes(secret)
