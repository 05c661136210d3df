"""Scalar semantics of go-yaml v3 and sops, in pure Python (SOPS.md 2.2 and 9.1).

* :func:`resolve_plain` types an unquoted YAML scalar the way go-yaml's ``resolve()`` does;
* :func:`plaintext` gives the bytes sops encrypts and hashes, and the ``type:`` name;
* :func:`from_plaintext` reads such bytes back (Go ``Atoi``/``ParseFloat``/``ParseBool``);
* :func:`format_float_yaml` writes a float64 the way go-yaml's encoder does.

Only ``re`` is imported; no ``decimal`` or ``datetime`` (import time counts).
"""

from __future__ import annotations

import re
TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy treats this name as True

from gitrot.errors import InputError
from gitrot.sops.tree import Timestamp

if TYPE_CHECKING:
    from gitrot.sops.tree import Scalar

_INF = float("inf")

_SPECIAL: dict[str, Scalar] = {
    "": None,
    "~": None,
    "null": None,
    "Null": None,
    "NULL": None,
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
    ".nan": float("nan"),
    ".NaN": float("nan"),
    ".NAN": float("nan"),
    ".inf": _INF,
    ".Inf": _INF,
    ".INF": _INF,
    "+.inf": _INF,
    "+.Inf": _INF,
    "+.INF": _INF,
    "-.inf": -_INF,
    "-.Inf": -_INF,
    "-.INF": -_INF,
}

# The first character decides which rules may apply (go-yaml's resolve table).
_HINT_NUMBER = frozenset("0123456789+-")
_HINT_MAP = frozenset("yYnNtTfFoO~.")

_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_GO_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
_GO_INT_DIGITS = {"x": (16, "0123456789abcdefABCDEF"), "o": (8, "01234567"), "b": (2, "01")}

# go-yaml's timestamp layouts, as Go's time.Parse reads them (1-2 digit fields, optional
# fraction with '.' or ',', Z or +hh:mm; the space form has no zone and means UTC).
_TS = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:(?:([Tt])|( +))([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,]([0-9]+))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?)?\Z"
)
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_UINT64_MAX = 2**64 - 1


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _canonical_time(
    fields: tuple[str, ...], frac: str | None, zone: str | None, *, max_offset: int = 24
) -> str | None:
    """Go ``MarshalText`` of a parsed time, or None when Go's parser would refuse it."""
    year, month, day, hour, minute, second = (int(f) for f in fields)
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if frac:
        frac = frac[:9].rstrip("0")
        if frac:
            text += "." + frac
    if zone is None or zone in "Zz":
        return text + "Z"
    zh, zm = int(zone[1:3]), int(zone[4:6])
    if zh > max_offset or zm > 60:
        return None
    offset = zh * 60 + zm
    if offset == 0:
        return text + "Z"
    if offset >= 24 * 60:
        raise InputError(f"timestamp offset {zone} is out of range (sops cannot write it)")
    return f"{text}{zone[0]}{offset // 60:02d}:{offset % 60:02d}"


def _parse_timestamp(text: str) -> str | None:
    m = _TS.match(text)
    if m is None:
        return None
    year, month, day, tee, spaces, hour, minute, second, frac, zone = m.groups()
    if hour is None:
        return _canonical_time((year, month, day, "0", "0", "0"), None, None)
    if spaces is not None and zone is not None:
        return None  # the space-separated layout has no zone
    if tee is not None and zone is None:
        return None  # the T layouts require a zone
    return _canonical_time((year, month, day, hour, minute, second), frac, zone)


def _go_parse_int(text: str) -> int | None:
    """Go ``strconv.ParseInt(text, 0, 0)`` digits, unbounded; None if not an integer."""
    body = text
    negative = False
    if body[:1] in "+-" and body:
        negative = body[0] == "-"
        body = body[1:]
    if not body:
        return None
    if len(body) > 1 and body[0] == "0":
        prefix = body[1].lower()
        if prefix in _GO_INT_DIGITS:
            base, digits = _GO_INT_DIGITS[prefix]
            body = body[2:]
        else:
            base, digits = 8, "01234567"
            body = body[1:]
    else:
        base, digits = 10, "0123456789"
    if not body or any(c not in digits for c in body):
        return None
    value = int(body, base)
    return -value if negative else value


def resolve_plain(text: str) -> Scalar:
    """Type an unquoted plain scalar like go-yaml v3 ``resolve()`` (SOPS.md 9.1)."""
    if not text:
        return None
    first = text[0]
    if first in _HINT_MAP or first in "+-":
        special = _SPECIAL.get(text, _SPECIAL)
        if special is not _SPECIAL:
            return special
    if first == ".":
        if _GO_FLOAT.match(text):
            value = float(text)
            if value not in (_INF, -_INF):
                return value
        return text
    if first not in _HINT_NUMBER:
        return text
    if first not in "+-" and len(text) >= 8 and text[4:5] == "-":
        stamp = _parse_timestamp(text)
        if stamp is not None:
            return Timestamp(stamp)
    plain = text.replace("_", "")
    number = _go_parse_int(plain)
    if number is not None:
        if _INT64_MIN <= number <= _INT64_MAX:
            return number
        if 0 <= number <= _UINT64_MAX and plain[0] != "+":
            raise InputError(
                "integer does not fit in 64 bits (sops cannot handle uint64 values)",
                hint="quote the value to keep it as a string",
            )
    if _YAML_FLOAT.match(plain):
        value = float(plain)
        if value not in (_INF, -_INF):
            return value
    return text


def shortest_digits(x: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of abs(x) and the decimal point position."""
    r = repr(abs(x))
    mantissa, _, exp = r.partition("e")
    whole, _, frac = mantissa.partition(".")
    if frac == "0":
        frac = ""
    digits = whole + frac
    point = len(whole) + (int(exp) if exp else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    if not digits:
        return "0", 1
    return digits, point


def _format_fixed(x: float) -> str:
    digits, point = shortest_digits(x)
    if point <= 0:
        text = "0." + "0" * -point + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    return "-" + text if x < 0 or (x == 0 and str(x)[0] == "-") else text


def format_float_go(x: float) -> str:
    """Go ``strconv.FormatFloat(x, 'f', -1, 64)``: never an exponent (sops plaintext)."""
    if x != x:
        return "NaN"
    if x in (_INF, -_INF):
        return "+Inf" if x > 0 else "-Inf"
    return _format_fixed(x)


def format_float_yaml(x: float) -> str:
    """How go-yaml v3 writes a float64: Go ``FormatFloat(x, 'g', -1, 64)``.

    Exponent form when the decimal exponent is < -4 or >= 6 (Go's shortest 'g' uses a
    precision of 6 for that decision): ``1e+06``, ``1.234567e+06``, ``1e-05``. Integral values
    lose their point (``1.0`` is written ``1``) exactly as sops writes them.
    """
    if x != x:
        return ".nan"
    if x in (_INF, -_INF):
        return ".inf" if x > 0 else "-.inf"
    if x == 0:
        return "-0" if str(x)[0] == "-" else "0"
    digits, point = shortest_digits(x)
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        sign = "-" if exp < 0 else "+"
        text = f"{mantissa}e{sign}{abs(exp):02d}"
        return "-" + text if x < 0 else text
    return _format_fixed(x)


def plaintext(value: Scalar) -> tuple[bytes, str]:
    """The bytes sops encrypts and hashes for ``value``, and its ``type:`` name."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass"), "str"
    if isinstance(value, bool):
        return (b"True" if value else b"False"), "bool"
    if isinstance(value, int):
        return str(value).encode(), "int"
    if isinstance(value, float):
        return format_float_go(value).encode(), "float"
    if isinstance(value, Timestamp):
        return value.text.encode(), "time"
    if isinstance(value, bytes):
        return value, "bytes"
    raise TypeError(f"no sops plaintext for {type(value).__name__}")


_GO_BOOLS = {
    "1": True,
    "t": True,
    "T": True,
    "TRUE": True,
    "true": True,
    "True": True,
    "0": False,
    "f": False,
    "F": False,
    "FALSE": False,
    "false": False,
    "False": False,
}


def _go_parse_float(text: str) -> float | None:
    if _GO_FLOAT.match(text):
        value = float(text)
        return None if value in (_INF, -_INF) else value
    lower = text.lower()
    body = lower[1:] if lower[:1] in "+-" else lower
    if body in ("inf", "infinity"):
        return -_INF if lower[0] == "-" else _INF
    if lower == "nan":
        return float("nan")
    if body.startswith("0x") and "_" not in body and "p" in body:
        try:
            return float.fromhex(text)
        except ValueError:
            return None
    return None


def from_plaintext(data: bytes, type_name: str) -> Scalar:
    """Decode decrypted sops plaintext of the given ``type:`` (inverse of :func:`plaintext`)."""
    if type_name == "bytes":
        return data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"a value of type {type_name} is not valid UTF-8") from None
    if type_name == "str":
        return text
    if type_name == "int":
        body = text[1:] if text[:1] in "+-" else text
        if body and body.isascii() and body.isdigit():
            value = int(text)
            if _INT64_MIN <= value <= _INT64_MAX:
                return value
        raise InputError("a value of type int is not a 64-bit decimal integer")
    if type_name == "float":
        number = _go_parse_float(text)
        if number is None:
            raise InputError("a value of type float is not a number")
        return number
    if type_name == "bool":
        flag = _GO_BOOLS.get(text)
        if flag is None:
            raise InputError("a value of type bool is not a boolean")
        return flag
    if type_name == "time":
        m = _RFC3339.match(text)
        if m is not None:
            g = m.groups()
            try:
                canonical = _canonical_time(g[:6], g[6], g[7], max_offset=23)
            except InputError:
                canonical = None
            if canonical is not None:
                return Timestamp(canonical)
        return Timestamp(text)
    raise InputError(f"unknown sops value type {type_name!r}")
