"""Scalar semantics of go-yaml v3 and sops, in pure Python (docs/sops-format.md 2.2 and 9.1).

* :func:`resolve_plain` types an unquoted YAML scalar the way go-yaml's ``resolve()`` does;
* :func:`plaintext` gives the bytes sops encrypts and hashes, and the ``type:`` name;
* :func:`from_plaintext` reads such bytes back (Go ``Atoi``/``ParseFloat``/``ParseBool``);
* :func:`format_float_yaml` writes a float64 the way go-yaml's encoder does.

No ``re``, ``decimal`` or ``datetime``: str methods only (import time counts).
"""

from __future__ import annotations

import math

from gitrot.codec.tree import Scalar, Timestamp
from gitrot.errors import InputError

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


def _isdigits(s: str) -> bool:
    return s.isascii() and s.isdigit()


def is_float_text(s: str) -> bool:
    """``[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?``: go-yaml's float syntax,
    which is also what Go's ``ParseFloat`` accepts in decimal form."""
    if s[:1] in ("+", "-"):
        s = s[1:]
    e = s.find("e")
    if e < 0:
        e = s.find("E")
    if e >= 0:
        exp = s[e + 1 :]
        if exp[:1] in ("+", "-"):
            exp = exp[1:]
        if not _isdigits(exp):
            return False
        s = s[:e]
    whole, dot, frac = s.partition(".")
    if not whole:
        return bool(dot) and _isdigits(frac)
    return _isdigits(whole) and (not frac or _isdigits(frac))


def _take(s: str, i: int, lo: int, hi: int) -> int:
    """End of a run of lo..hi ASCII digits at ``i``, or -1."""
    j = i
    n = len(s)
    while j < n and j - i < hi and "0" <= s[j] <= "9":
        j += 1
    return j if j - i >= lo else -1


def _split_time(s: str, strict: bool) -> tuple[tuple[str, ...], str | None, str | None, str] | None:
    """Split a YAML/RFC 3339 timestamp into (fields, fraction, zone, separator) or None.

    ``strict`` (RFC 3339 for ``type:time`` plaintext): 2-digit fields, ``T``, a zone.
    Otherwise go-yaml's layouts: 1-2 digit fields, ``T``/``t`` + zone or spaces + no zone,
    or a date alone (separator ``""``).
    """
    lo = 2 if strict else 1
    if _take(s, 0, 4, 4) != 4 or s[4:5] != "-":
        return None
    j = _take(s, 5, lo, 2)
    if j < 0 or s[j : j + 1] != "-":
        return None
    k = _take(s, j + 1, lo, 2)
    if k < 0:
        return None
    date = (s[0:4], s[5:j], s[j + 1 : k])
    if k == len(s):
        return None if strict else ((*date, "0", "0", "0"), None, None, "")
    sep = s[k]
    if sep in "Tt":
        k += 1
    elif sep == " " and not strict:
        while k < len(s) and s[k] == " ":
            k += 1
        sep = " "
    else:
        return None
    h = _take(s, k, lo, 2)
    if h < 0 or s[h : h + 1] != ":":
        return None
    m = _take(s, h + 1, lo, 2)
    if m < 0 or s[m : m + 1] != ":":
        return None
    sec = _take(s, m + 1, lo, 2)
    if sec < 0:
        return None
    fields = (*date, s[k:h], s[h + 1 : m], s[m + 1 : sec])
    frac = None
    if s[sec : sec + 1] in (".", ",") and sec + 1 < len(s):
        end = _take(s, sec + 1, 1, len(s))
        if end < 0:
            return None
        frac, sec = s[sec + 1 : end], end
    zone = s[sec:] or None
    if (
        zone is not None
        and zone not in ("Z", "z")
        and (
            len(zone) != 6
            or zone[0] not in "+-"
            or zone[3] != ":"
            or not _isdigits(zone[1:3] + zone[4:6])
        )
    ):
        return None
    if zone == "z" and not strict:
        return None
    if (sep == " ") == (zone is not None) and not strict:
        return None
    if strict and zone is None:
        return None
    return fields, frac, zone, sep


_GO_INT_DIGITS = {"x": (16, "0123456789abcdefABCDEF"), "o": (8, "01234567"), "b": (2, "01")}
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
        raise InputError(
            f"timestamp offset {zone} is out of range (sops cannot write it)",
            hint="quote the value to keep it as a string",
        )
    return f"{text}{zone[0]}{offset // 60:02d}:{offset % 60:02d}"


def _parse_timestamp(text: str) -> str | None:
    parts = _split_time(text, False)
    if parts is None:
        return None
    fields, frac, zone, _ = parts
    return _canonical_time(fields, frac, zone)


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
    """Type an unquoted plain scalar like go-yaml v3 ``resolve()`` (docs/sops-format.md 9.1)."""
    if not text:
        return None
    first = text[0]
    if text in _SPECIAL:
        return _SPECIAL[text]
    if first == ".":
        if is_float_text(text):
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
    if is_float_text(plain):
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
    if math.isnan(x):
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
    if math.isnan(x):
        return ".nan"
    if x in (_INF, -_INF):
        return ".inf" if x > 0 else "-.inf"
    if x == 0:
        # go-yaml writes -0.0 as "-0", which reads back as the int 0: its MAC bytes ("0")
        # then differ from the float's ("-0") and sops fails its own file. Keep it a float.
        return "-0.0" if str(x)[0] == "-" else "0"
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
    if is_float_text(text):
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
        parts = _split_time(text, True)
        if parts is not None:
            fields, frac, zone, _ = parts
            try:
                canonical = _canonical_time(fields, frac, zone, max_offset=23)
            except InputError:
                canonical = None
            if canonical is not None:
                return Timestamp(canonical)
        return Timestamp(text)
    raise InputError(f"unknown sops value type {type_name!r}")


def has_control_chars(text: str) -> bool:
    """True when ``text`` holds a character libyaml refuses anywhere in a YAML stream.

    Allowed: tab, LF, CR, printable ASCII, U+0085, U+00A0-U+D7FF, U+E000-U+FFFD, U+10000+.
    """
    if text.isascii():
        return not text.translate(_ALLOWED_CONTROLS).isprintable()
    for ch in text:
        o = ord(ch)
        if o < 0x20:
            if ch not in "\t\n\r":
                return True
        elif 0x7F <= o <= 0x9F:
            if o != 0x85:
                return True
        elif 0xD800 <= o <= 0xDFFF or o in (0xFFFE, 0xFFFF):
            return True
    return False


_ALLOWED_CONTROLS = {9: None, 10: None, 13: None}
