"""What a value looks like: random (a token), a password, a sentence, a placeholder.

Shared by the assignment, connection-string and token detectors. Placeholders match on
whole tokens (``example-password``, ``yourPasswordHere``, ``xxxx``), never inside a random
token (a PyPI token whose body holds ``xxxX`` is still a token).
"""

from __future__ import annotations

from itertools import pairwise
from math import log2

from gitrot.scan.formats import EXAMPLES, Lazy

HEX_THRESHOLD = 3.0
BASE64_THRESHOLD = 3.5
MIN_ENTROPY_LENGTH = 16

CAMEL = Lazy(r"(?<=[a-z0-9])(?=[A-Z])")
_ACRONYM = Lazy(r"(?<=[A-Z])(?=[A-Z][a-z])")  # HTTPServer, IAmSensitive
_TEMPLATE = Lazy(r"\{\{|\$\{|%\(|#\{|\{[A-Za-z_][\w.]*\}|<%")
_PRINTF = Lazy(r"%[-+ #0]*\d*(?:\.\d+)?[sdifxXrvqu]")
_TOKENS = Lazy(r"[A-Za-z0-9]+")
_PLACEHOLDER_WORDS = frozenset(
    (
        "changeme",
        "changeit",
        "example",
        "examples",
        "placeholder",
        "redacted",
        "dummy",
        "sample",
        "your",
        "replace",
        "replaceme",
        "todo",
        "fixme",
        "tbd",
    )
)
#: whole values that documentation writes where a password goes
DOC_PASSWORDS = frozenset(
    (
        "pass",
        "password",
        "passwd",
        "pwd",
        "pw",
        "secret",
        "mypassword",
        "yourpassword",
        "mysecret",
        "dbpassword",
        "userpassword",
        "token",
        "apikey",
        "api_key",
        "secretkey",
        "changeme",
        "foobar",
        "foo",
        "bar",
        "test",
        "xxx",
    )
)
# passwords the literature uses as examples (bash.org, xkcd 936, tutorials)
_FAMOUS = frozenset(
    (
        "hunter2",
        "tr0ub4dor&3",
        "correcthorsebatterystaple",
        "p@ssw0rd",
        "passw0rd",
        "p4ssw0rd",
        "s3cr3t",
        "letmein",
        "qwerty",
        "123456",
        "12345678",
        "password1",
        "password123",
        "secret123",
        "admin123",
        "s3cret",
    )
)
_NOT_VALUES = frozenset(("null", "none", "nil", "~", "true", "false", "yes", "no", "[]", "{}"))
_WORDLIKE_SEGMENT = Lazy(r"[a-z]{1,12}|[A-Z][a-z]{0,11}|[A-Z]{1,8}|[0-9]{1,4}")
_WORD_SEPARATORS = Lazy(r"[-_./:@ =,]+")
_HEX = frozenset("0123456789abcdefABCDEF-")
_ENV_NAME = Lazy(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_WINDOWS_PATH = Lazy(r"[A-Za-z]:\\")
# a reference to a secret store, resolved at run time: Azure App Service Key Vault
# references, vals/helm-secrets ref+ URIs, 1Password op://, Vault paths, ARNs, ((var))
_REFERENCE = Lazy(
    r"@Microsoft\.KeyVault\(|\(\(|(?:ref\+[a-z0-9]+|op|vault|arn|ssm|awssm|awssecrets|gcpsm"
    r"|azurekeyvault|akv|secretsmanager|sm|bws|doppler|k8s|sops):"
)
_SECRETISH = ("password", "passwort", "passwd", "secret", "token", "key", "mot de passe")


def doc_password(value: str) -> bool:
    """A password documentation writes (``password``, ``secret``, ``hunter2``, ``xxx``)."""
    low = value.lower()
    return low in DOC_PASSWORDS or low.rstrip("!?.-_") in _FAMOUS


def env_name(value: str) -> bool:
    """``DATABASE_PASSWORD``: the name of a variable that holds the value, not the value."""
    return _ENV_NAME.get().fullmatch(value) is not None


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value`` under its own character frequencies."""
    if not value:
        return 0.0
    counts: dict[str, int] = {}
    for char in value:
        counts[char] = counts.get(char, 0) + 1
    size = len(value)
    return -sum(n / size * log2(n / size) for n in counts.values())


def placeholder(value: str) -> bool:
    """``changeme``, ``example-password``, ``<your-token>``, ``xxxx``, ``****``, ``...``:
    a placeholder word as a whole token (camelCase words split), never inside random text."""
    if "***" in value or "..." in value or "\u2026" in value or "EXAMPLE" in value:
        return True  # AWS's documented keys end in EXAMPLE, EXAMPLEKEY
    for token in _TOKENS.get().findall(value):
        low = token.lower()
        if low in _PLACEHOLDER_WORDS or (len(low) >= 3 and set(low) == {"x"}):
            return True
        if low.startswith("change") and low.endswith("me"):
            return True
        if token != low and wordlike(token):
            for word in CAMEL.get().split(token):
                piece = word.lower()
                if piece in _PLACEHOLDER_WORDS or (len(piece) >= 3 and set(piece) == {"x"}):
                    return True
    return False


def not_a_secret(value: str, *, quoted: bool = False) -> bool:
    """Values that are obviously not secrets: ciphertext, templates, placeholders, paths.
    A quoted value may start with ``!``, ``*``, ``&``, ``%``, ``|``, ``>`` (a password in
    code); unquoted, those are YAML tags, aliases, anchors and blocks."""
    if not value or value.lower() in _NOT_VALUES or len(set(value)) == 1:
        return True

    if value in EXAMPLES:
        return True
    if value.startswith(("ENC[", "ENC\\[", "$")):
        return True  # sops ciphertext, $VAR/${VAR}/$(cmd)
    if not quoted and value.startswith(("!", "&", "*", "|", ">", "%")):
        return True  # YAML tags, anchors, aliases, block scalars; templating
    if value.startswith(("{", "[", "=", "(")) or (":" in value and _REFERENCE.get().match(value)):
        return True  # structures, references to a secret store
    if _PRINTF.get().fullmatch(value) or (value.startswith("%") and _PRINTF.get().search(value)):
        return True
    if value.startswith("<") and value.endswith(">"):
        return True
    if value.startswith(("/", "./", "../", "~/", "file:")) or _WINDOWS_PATH.get().match(value):
        return True
    return bool(_TEMPLATE.get().search(value) or placeholder(value))


def looks_random(value: str, *, quoted: bool = False) -> bool:
    """A token, not a word, a name or a sentence: long, mixed, high Shannon entropy."""
    if len(value) < MIN_ENTROPY_LENGTH or any(c.isspace() for c in value):
        return False
    if not_a_secret(value, quoted=quoted) or wordlike(value):
        return False
    bits = shannon_entropy(value)
    if set(value) <= _HEX:
        return bits >= HEX_THRESHOLD
    has_digit = any(c.isdigit() for c in value)
    if not has_digit and not any(c in "+/" for c in value):
        # letters only: a run of words (camelCase names) unless long and very mixed
        switches = sum(1 for a, b in pairwise(value) if a.isupper() != b.isupper())
        return len(value) >= 20 and bits >= 4.0 and switches >= len(value) // 3
    return bits >= BASE64_THRESHOLD


def password_shape(value: str) -> bool:
    """A literal that reads as a password rather than a word, a name or a prompt: 6 to 200
    characters, no whitespace, two kinds of characters at least (lower, upper, digit,
    symbol), not a run of words."""
    if not 6 <= len(value) <= 200 or any(c.isspace() for c in value):
        return False
    if doc_password(value) or wordlike(value.strip("#.:-_/@*!?")):
        return False
    kinds = (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )
    return kinds >= 2


def sentence(value: str) -> bool:
    """Words meant for people (an i18n string, a prompt, a help text), not a passphrase:
    two words or more, and a capital first letter, closing punctuation, a placeholder in
    braces, letters outside ASCII, or a word naming a secret."""
    words = value.split()
    if len(words) < 2:
        return False
    if value[0].isupper() or value.rstrip()[-1] in ".?!:;…)" or "{" in value or "%" in value:
        return True
    if not value.isascii():
        return True
    low = value.lower()
    return any(word in low for word in _SECRETISH)


def wordlike(value: str) -> bool:
    """``my-app-token-2024``, ``gitrot.commands.scan``, ``CamelCaseName``: names, not tokens."""
    segments = [s for s in _WORD_SEPARATORS.get().split(value) if s]
    if not segments:
        return True
    pieces = [p for s in segments for p in CAMEL.get().split(s)]
    if all(_WORDLIKE_SEGMENT.get().fullmatch(p) for p in pieces):
        return True
    # split at acronyms too, when that leaves words, not the short runs of random letters
    pieces = [q for p in pieces for q in _ACRONYM.get().split(p)]
    if sum(map(len, pieces)) < 3.5 * len(pieces):
        return False
    return all(_WORDLIKE_SEGMENT.get().fullmatch(p) for p in pieces)


def lines_with(text: str, words: tuple[str, ...], also: str = "") -> list[tuple[int, int]]:
    """The (start, end) of each line of ``text`` where one of ``words`` occurs (and
    ``also`` too): the only lines the costly regexes read."""
    positions: list[int] = []
    find = text.find
    for word in words:
        pos = find(word)
        while pos >= 0:
            positions.append(pos)
            pos = find(word, pos + len(word))
    positions.sort()
    spans: list[tuple[int, int]] = []
    last_end = -1
    for pos in positions:
        if pos < last_end:
            continue
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        last_end = len(text) if end < 0 else end
        if not also or also in text[start:last_end]:
            spans.append((start, last_end))
    return spans
