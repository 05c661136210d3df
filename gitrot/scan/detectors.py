"""The pure core of ``gitrot scan``: text in, hits out; a hit never holds the secret.

Three families of detectors run over a file's text:

- key material: PEM/OpenSSH/PGP private key blocks (a header followed by key data, so a
  program that merely names the header is not a finding), age identities and age plugin
  identities;
- token shapes, each anchored on both sides: AWS access key ids, GitHub, GitLab, Slack
  (tokens and webhooks), Stripe, Google API keys, npm, PyPI, JWTs, ``Bearer`` tokens in
  assignments and headers;
- assignments whose key names a secret (``password``, ``secret``, ``token``, ``api_key``,
  ``private_key``, ``credential``, ``auth``, ...): a high-entropy value (>= 16 characters,
  Shannon entropy >= 3.0 bits/char for hex, >= 3.5 otherwise) anywhere, and in YAML, JSON and
  env-like files any clear password value at all. SOPS ciphertext (``ENC[...]``), templates
  (``${VAR}``, ``$VAR``, ``{{ ... }}``), placeholders, paths and URLs without credentials
  are never findings.

A hit's ``fingerprint`` is ``hmac:`` and 16 hex digits of an HMAC-SHA256 keyed with the
repository's salt (the ``salt:`` of ``.gitrot-scan-allow.yaml``, made by ``gitrot scan
--init``); a secret shorter than :data:`SHORT_SECRET` characters, which could be guessed,
is first stretched with scrypt (~40 ms and 16 MiB a guess). A fingerprint is stable within
a repository (the allowlist keeps working), matches nothing in another one (no precomputed
table, no correlation across repositories), and whoever reads it in a SARIF upload or a CI
log needs the salt and a scrypt per guess to test a password. Without a salt a run keys
its fingerprints with a random one: stable for that run only. Descriptions name the rule
and the key, never the value. A ``gitrot: allow <reason>`` comment on a line suppresses
that line's hits; the bare
``gitrot: allow`` (no reason) is a finding itself.
"""

from __future__ import annotations

import re
from itertools import pairwise

# -- results -------------------------------------------------------------------------------


class Hit:
    """One finding: where, which rule, and a fingerprint of the secret (never the secret).

    ``digest`` (a domain-separated SHA-256 of the secret, in memory only: never printed,
    serialised or compared outside :meth:`keyed`) lets an allowlist with another salt (the
    PR check's base and head) key the same secret its own way."""

    __slots__ = (
        "_keyed",
        "column",
        "description",
        "digest",
        "fingerprint",
        "line",
        "path",
        "rule",
        "short",
    )

    def __init__(  # noqa: PLR0917 (the documented Hit(rule, path, line, ...) shape)
        self,
        rule: str,
        path: str,
        line: int,
        column: int,
        fingerprint: str,
        description: str,
        *,
        digest: bytes = b"",
        short: bool = False,
    ) -> None:
        self.rule = rule
        self.path = path
        self.line = line
        self.column = column
        self.fingerprint = fingerprint
        self.description = description
        self.digest = digest
        self.short = short
        self._keyed: dict[str, str] = {}

    def keyed(self, salt: str) -> str:
        """The fingerprint of this hit's secret under ``salt`` (cached)."""
        if not self.digest:
            return self.fingerprint
        found = self._keyed.get(salt)
        if found is None:
            found = self._keyed[salt] = keyed(self.digest, salt, stretch=self.short)
        return found

    def key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.rule)

    def render(self) -> str:
        """``path:line:col: error: [rule] description (sha256:...)``."""
        return (
            f"{self.path}:{self.line}:{self.column}: error: [{self.rule}] "
            f"{self.description} ({self.fingerprint})"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.path,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "description": self.description,
            "fingerprint": self.fingerprint,
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hit) and (other.key(), other.fingerprint) == (
            self.key(),
            self.fingerprint,
        )

    def __hash__(self) -> int:
        return hash((self.key(), self.fingerprint))

    def __repr__(self) -> str:
        return f"Hit({self.rule}, {self.path}:{self.line}:{self.column}, {self.fingerprint})"


#: secrets shorter than this (characters) are stretched with scrypt before they are keyed
SHORT_SECRET = 32
FINGERPRINT_PREFIX = "hmac:"
_run_salt: str | None = None


def fingerprint(secret: str, salt: str | None = None) -> str:
    """``hmac:`` + 16 hex digits of HMAC-SHA256(salt, secret), scrypt-stretched when the
    secret is short; ``salt`` None: this run's random salt (stable for the run only)."""
    return keyed(digest(secret), salt, stretch=len(secret) < SHORT_SECRET)


def digest(secret: str) -> bytes:
    """What a fingerprint is keyed from: a domain-separated SHA-256 (memory only)."""
    from hashlib import sha256

    return sha256(b"gitrot-scan\0" + secret.encode("utf-8", "surrogatepass")).digest()


def keyed(data: bytes, salt: str | None, *, stretch: bool) -> str:
    """The fingerprint of ``data`` (a :func:`digest`) under ``salt``. Stretching costs a
    guesser one scrypt (n=2**14, r=8) per guessed password; without the repository's salt
    the key is random, unknown to anyone, and nothing needs stretching."""
    import hashlib
    import hmac

    if salt is None:
        global _run_salt  # noqa: PLW0603 - one random salt per process
        if _run_salt is None:
            import secrets

            _run_salt = secrets.token_hex(16)
        salt, stretch = _run_salt, False
    key = salt.encode("utf-8")
    if stretch:
        data = hashlib.scrypt(data, salt=key, n=2**14, r=8, p=1, dklen=32)
    return FINGERPRINT_PREFIX + hmac.new(key, data, "sha256").hexdigest()[:16]


class _Lazy:
    """A regex compiled on first use: a scan compiles only what the file needs (~15 ms)."""

    __slots__ = ("_compiled", "flags", "source")

    def __init__(self, source: str, flags: int = 0) -> None:
        self.source = source
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    def get(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.source, self.flags)
        return self._compiled


# -- token shapes ----------------------------------------------------------------------------

_BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"

# (rule, description, substrings one of which must occur, regex; group "s" is the secret)
_TOKEN_RULES: tuple[tuple[str, str, tuple[str, ...], _Lazy], ...] = (
    (
        "age-identity",
        "age secret key (identity)",
        ("AGE-SECRET-KEY-",),
        _Lazy(
            rf"(?<![A-Za-z0-9-])(?P<s>AGE-SECRET-KEY-(?:PQ-)?1[{_BECH32}]{{58,}})(?![A-Za-z0-9])"
        ),
    ),
    (
        "age-plugin-identity",
        "age plugin identity",
        ("AGE-PLUGIN-",),
        _Lazy(
            rf"(?<![A-Za-z0-9-])(?P<s>AGE-PLUGIN-[A-Z0-9_-]+?-1[{_BECH32}]{{20,}})(?![A-Za-z0-9])"
        ),
    ),
    (
        "aws-access-key-id",
        "AWS access key id",
        ("AKIA", "ASIA"),
        _Lazy(r"(?<![A-Za-z0-9])(?P<s>(?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Za-z0-9])"),
    ),
    (
        "github-token",
        "GitHub token",
        ("gh",),
        _Lazy(r"(?<![A-Za-z0-9_])(?P<s>gh[pousr]_[A-Za-z0-9]{36})(?![A-Za-z0-9_])"),
    ),
    (
        "github-token",
        "GitHub fine-grained personal access token",
        ("github_pat_",),
        _Lazy(r"(?<![A-Za-z0-9_])(?P<s>github_pat_[A-Za-z0-9_]{82})(?![A-Za-z0-9_])"),
    ),
    (
        "gitlab-token",
        "GitLab personal access token",
        ("glpat-",),
        _Lazy(
            r"(?<![\w-])(?P<s>glpat-[A-Za-z0-9_-]{20}(?:[A-Za-z0-9_.-]{0,80}[A-Za-z0-9_])?)(?![\w-])"
        ),
    ),
    (
        "slack-token",
        "Slack token",
        ("xox",),
        _Lazy(r"(?<![\w-])(?P<s>xox[baprs]-[0-9A-Za-z]+(?:-[0-9A-Za-z]+){1,5})(?![\w-])"),
    ),
    (
        "slack-webhook",
        "Slack incoming webhook URL",
        ("hooks.slack.com",),
        _Lazy(
            r"(?P<s>https://hooks\.slack\.com/services/T[A-Za-z0-9_]{6,}/B[A-Za-z0-9_]{6,}"
            r"/[A-Za-z0-9_]{16,})(?![A-Za-z0-9_])"
        ),
    ),
    (
        "stripe-key",
        "Stripe live secret or restricted key",
        ("_live_",),
        _Lazy(r"(?<![A-Za-z0-9_])(?P<s>(?:sk|rk)_live_[0-9A-Za-z]{24,247})(?![A-Za-z0-9_])"),
    ),
    (
        "google-api-key",
        "Google API key",
        ("AIza",),
        _Lazy(r"(?<![\w-])(?P<s>AIza[0-9A-Za-z_-]{35})(?![\w-])"),
    ),
    (
        "npm-token",
        "npm access token",
        ("npm_",),
        _Lazy(r"(?<![A-Za-z0-9_])(?P<s>npm_[A-Za-z0-9]{36})(?![A-Za-z0-9_])"),
    ),
    (
        "pypi-token",
        "PyPI API token",
        ("pypi-AgEIcHlwaS5vcmc",),
        _Lazy(r"(?<![\w-])(?P<s>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})(?![\w-])"),
    ),
    (
        "jwt",
        "JSON Web Token",
        ("eyJ",),
        _Lazy(
            r"(?<![\w.-])(?P<s>eyJ[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,})"
            r"(?![\w.-])"
        ),
    ),
)

_PRIVATE_KEY = _Lazy(
    r"-----BEGIN (?P<kind>(?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY|PGP PRIVATE KEY BLOCK)"
    r"-----"
)
# after the header: the end of the line (a real one, or "\n" escaped in a string) ...
_LINE_END = _Lazy(r"[ \t]*(?:\r?\n|(?:\\r)?\\n)")
# ... and base64 key data within the next few lines (PGP and Proc-Type headers come first)
_KEY_DATA = _Lazy(r"[A-Za-z0-9+/]{32,}")

_BEARER = _Lazy(
    r"[:=][ \t]*[\"']?[ \t]*[Bb]earer[ \t]+(?P<s>[A-Za-z0-9._~+/-]{16,}=*)(?![A-Za-z0-9._~+/=-])"
)

# -- assignments -----------------------------------------------------------------------------

_ASSIGNMENT = _Lazy(
    r"(?<![\w.-])(?P<key>[A-Za-z0-9_.-]*?"
    r"(?:pass|pwd|secret|token|api[_-]?key|private[_-]?key|credential|auth)[A-Za-z0-9_.-]*)"
    r"[\"']?[ \t]*(?::=|=>|=|:)[ \t]*"
    r"(?:\"(?P<dq>[^\"\n]*)\"|'(?P<sq>[^'\n]*)'|(?P<bare>[^\s\"'][^\n]*))",
    re.IGNORECASE,
)
_CAMEL = _Lazy(r"(?<=[a-z0-9])(?=[A-Z])")
_KEY_SPLIT = _Lazy(r"[_.\-]+")
_PASSWORD_WORDS = frozenset(("password", "passwd", "passphrase", "pwd", "pass", "passwords"))
_SECRET_WORDS = _PASSWORD_WORDS | frozenset(
    (
        "secret",
        "secrets",
        "token",
        "tokens",
        "apikey",
        "credential",
        "credentials",
        "auth",
        "privatekey",
        "secretkey",
    )
)
_GLUED_WORDS = ("password", "passwd", "passphrase", "secret", "token", "apikey", "credentials")
_SECRET_PAIRS = frozenset((("api", "key"), ("private", "key")))
# a key ending in one of these names something about a secret, not the secret itself
_NOT_SECRET_SUFFIXES = frozenset(
    (
        "file",
        "files",
        "path",
        "paths",
        "dir",
        "env",
        "var",
        "vars",
        "name",
        "names",
        "id",
        "ids",
        "url",
        "uri",
        "endpoint",
        "host",
        "port",
        "user",
        "username",
        "login",
        "length",
        "len",
        "size",
        "type",
        "types",
        "kind",
        "cmd",
        "command",
        "regex",
        "pattern",
        "suffix",
        "prefix",
        "format",
        "field",
        "fields",
        "ref",
        "version",
        "header",
        "mode",
        "method",
        "enabled",
        "required",
        "policy",
        "rule",
        "rules",
        "class",
        "count",
        "max",
        "min",
        "ttl",
        "expiry",
        "expires",
        "timeout",
        "fingerprint",
        "sha256",
        "digest",
        "checksum",
        "provider",
        "store",
        "backend",
        "source",
        "label",
        "description",
        "help",
        "hint",
        "message",
    )
)
_TEMPLATE = _Lazy(r"\{\{|\$\{|%\(|#\{|\{[A-Za-z_][\w.]*\}")
_PLACEHOLDER = _Lazy(
    r"changeme|change[_-]me|example|placeholder|redacted|your[_-]|dummy|sample|xxxx|\*\*\*|\.\.\.",
    re.IGNORECASE,
)
_URL = _Lazy(r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^/@\s:]*:(?P<password>[^/@\s]+)@)?")
_NOT_VALUES = frozenset(("null", "none", "nil", "~", "true", "false", "yes", "no", "[]", "{}"))
_WORDLIKE_SEGMENT = _Lazy(r"[a-z]{1,12}|[A-Z][a-z]{0,11}|[A-Z]{1,8}|[0-9]{1,4}")
_WORD_SEPARATORS = _Lazy(r"[-_./:@ ]+")
_HEX = frozenset("0123456789abcdefABCDEF-")
_AWS_SECRET = _Lazy(r"[A-Za-z0-9/+]{40}")
_WINDOWS_PATH = _Lazy(r"[A-Za-z]:\\")
_ALLOW = _Lazy(r"gitrot:[ \t]*allow(?![\w-])(?P<reason>[^\n]*)")

_CONFIG_SUFFIXES = (
    ".yaml",
    ".yml",
    ".json",
    ".env",
    ".ini",
    ".cfg",
    ".conf",
    ".properties",
    ".toml",
    ".tfvars",
    ".envrc",
    ".netrc",
)
_CODE_SUFFIXES = (
    ".py",
    ".pyi",
    ".js",
    ".mjs",
    ".cjs",
    ".ts",
    ".tsx",
    ".jsx",
    ".go",
    ".java",
    ".kt",
    ".rb",
    ".rs",
    ".c",
    ".h",
    ".cc",
    ".cpp",
    ".hpp",
    ".cs",
    ".php",
    ".swift",
    ".scala",
    ".tf",
    ".hcl",
    ".lua",
    ".pl",
    ".dart",
    ".groovy",
)
CONFIG, CODE, OTHER = "config", "code", "other"

HEX_THRESHOLD = 3.0
BASE64_THRESHOLD = 3.5
MIN_ENTROPY_LENGTH = 16


def file_kind(path: str) -> str:
    """``config`` (YAML, JSON, env-like), ``code`` (values only in quotes) or ``other``."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if name.startswith(".env") or name.endswith(_CONFIG_SUFFIXES):
        return CONFIG
    if name.endswith(_CODE_SUFFIXES):
        return CODE
    return OTHER


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value`` under its own character frequencies."""
    from math import log2

    if not value:
        return 0.0
    counts: dict[str, int] = {}
    for char in value:
        counts[char] = counts.get(char, 0) + 1
    size = len(value)
    return -sum(n / size * log2(n / size) for n in counts.values())


# -- the scan --------------------------------------------------------------------------------


def scan_text(text: str, *, path: str, salt: str | None = None) -> list[Hit]:
    """Every hit in ``text`` (the contents of ``path``), sorted by position, fingerprinted
    with ``salt`` (see :func:`fingerprint`); inline suppressions (an allow comment with a
    reason) are applied, the allowlist file is not."""
    found: list[tuple[int, int, str, str, str]] = []  # start, end, rule, description, secret
    _private_keys(text, found)
    for rule, description, needles, pattern in _TOKEN_RULES:
        if not any(needle in text for needle in needles):
            continue
        for match in pattern.get().finditer(text):
            secret = match.group("s")
            if _PLACEHOLDER.get().search(secret) or (rule == "slack-token" and len(secret) < 24):
                continue
            found.append((match.start("s"), match.end("s"), rule, description, secret))
    taken = [(start, end) for start, end, *_ in found]
    if "earer" in text:
        for match in _BEARER.get().finditer(text):
            secret = match.group("s")
            if _overlaps(taken, match.start("s"), match.end("s")) or not _looks_random(secret):
                continue
            found.append((match.start("s"), match.end("s"), "bearer-token", "Bearer token", secret))
    _assignments(text, file_kind(path), taken, found)
    if not found and "gitrot:" not in text:
        return []

    starts = _line_starts(text)
    allowed: set[int] = set()
    hits: list[Hit] = []
    if "gitrot:" in text:
        for match in _ALLOW.get().finditer(text):
            line, column = _position(starts, match.start())
            if _reason(match.group("reason")):
                allowed.add(line)
            else:
                hits.append(
                    Hit(
                        "allow-without-reason",
                        path,
                        line,
                        column,
                        fingerprint(match.group(0).strip(), salt),
                        "'gitrot: allow' needs a reason (gitrot: allow <why this is not a secret>)",
                    )
                )
    for start, _end, rule, description, secret in found:
        line, column = _position(starts, start)
        if line not in allowed:
            data, short = digest(secret), len(secret) < SHORT_SECRET
            mark = keyed(data, salt, stretch=short)
            hits.append(Hit(rule, path, line, column, mark, description, digest=data, short=short))
    hits.sort(key=Hit.key)
    return hits


def _private_keys(text: str, found: list[tuple[int, int, str, str, str]]) -> None:
    if "PRIVATE KEY" not in text:
        return
    for match in _PRIVATE_KEY.get().finditer(text):
        tail = text[match.end() : match.end() + 400]
        if not _LINE_END.get().match(tail) or not _KEY_DATA.get().search(tail):
            continue  # a program or a document naming the header, not a key
        kind = match.group("kind")
        end_marker = f"-----END {kind}-----"
        end = text.find(end_marker, match.end(), match.end() + 64 * 1024)
        stop = end + len(end_marker) if end >= 0 else match.end() + len(tail)
        label = kind.removesuffix(" BLOCK").removesuffix(" PRIVATE KEY").removesuffix("PRIVATE KEY")
        description = f"{label.strip() or 'PKCS#8'} private key block"
        found.append((match.start(), stop, "private-key", description, text[match.start() : stop]))


def _assignments(
    text: str, kind: str, taken: list[tuple[int, int]], found: list[tuple[int, int, str, str, str]]
) -> None:
    for match in _ASSIGNMENT.get().finditer(text):
        key = match.group("key")
        parts = [p for p in _KEY_SPLIT.get().split(_CAMEL.get().sub("_", key).lower()) if p]
        if not parts or parts[-1] in _NOT_SECRET_SUFFIXES or not _names_secret(parts):
            continue
        value, start = _value(match, kind)
        if value is None:
            continue
        url = _URL.get().match(value)
        if url is not None:
            if url.group("password") is None:
                continue  # a URL without credentials
            start += url.start("password")
            value = url.group("password")
        if _not_a_secret(value):
            continue
        end = start + len(value)
        if _overlaps(taken, start, end):
            continue  # a token rule already reported it, more precisely
        label = key.strip("\"'")
        if "aws" in parts and "secret" in parts and _AWS_SECRET.get().fullmatch(value):
            found.append((start, end, "aws-secret-access-key", "AWS secret access key", value))
        elif _looks_random(value):
            bits = shannon_entropy(value)
            description = f"high-entropy value assigned to '{label}' ({bits:.1f} bits/char)"
            found.append((start, end, "high-entropy-secret", description, value))
        elif kind == CONFIG and _names_password(parts):
            description = f"plaintext password in '{label}' (encrypt it with sops)"
            found.append((start, end, "plaintext-password", description, value))


def _names_secret(parts: list[str]) -> bool:
    if _SECRET_WORDS.intersection(parts):
        return True
    if any(part.endswith(_GLUED_WORDS) for part in parts):
        return True  # PGPASSWORD, dbpassword, accesstoken
    return any(pair in _SECRET_PAIRS for pair in pairwise(parts))


def _names_password(parts: list[str]) -> bool:
    return bool(_PASSWORD_WORDS.intersection(parts)) or any(
        part.endswith(("password", "passwd", "passphrase")) for part in parts
    )


def _value(match: re.Match[str], kind: str) -> tuple[str | None, int]:
    for group in ("dq", "sq"):
        value = match.group(group)
        if value is not None:
            return value, match.start(group)
    if kind == CODE:
        return None, 0  # in code, an unquoted value is an expression
    value = match.group("bare")
    start = match.start("bare")
    if kind == CONFIG:
        for comment in (" #", "\t#"):
            cut = value.find(comment)
            if cut >= 0:
                value = value[:cut]
        value = value.rstrip().rstrip(",;").rstrip()
    else:
        value = value.split()[0].rstrip(",;)")
    return value, start


def _not_a_secret(value: str) -> bool:
    """Values that are obviously not secrets: ciphertext, templates, placeholders, paths."""
    if not value or value.lower() in _NOT_VALUES or len(set(value)) == 1:
        return True
    if value.startswith(("ENC[", "ENC\\[", "$", "!", "&", "*", "|", ">", "{", "[", "=", "(", "%")):
        return True  # sops ciphertext, $VAR/${VAR}/$(cmd), YAML tags/anchors/blocks, structures
    if value.startswith("<") and value.endswith(">"):
        return True
    if value.startswith(("/", "./", "../", "~/", "file:")) or _WINDOWS_PATH.get().match(value):
        return True
    return bool(_TEMPLATE.get().search(value) or _PLACEHOLDER.get().search(value))


def _looks_random(value: str) -> bool:
    """A token, not a word, a name or a sentence: long, mixed, high Shannon entropy."""
    if len(value) < MIN_ENTROPY_LENGTH or any(c.isspace() for c in value):
        return False
    if _not_a_secret(value) or _wordlike(value):
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


def _wordlike(value: str) -> bool:
    """``my-app-token-2024``, ``gitrot.commands.scan``, ``CamelCaseName``: names, not tokens."""
    segments = [s for s in _WORD_SEPARATORS.get().split(value) if s]
    if not segments:
        return True
    pieces = [p for s in segments for p in _CAMEL.get().split(s)]
    return all(_WORDLIKE_SEGMENT.get().fullmatch(p) for p in pieces)


def _reason(text: str) -> str:
    reason = text.strip()
    for closer in ("-->", "*/", "#}", "%>", "*)"):
        reason = reason.removesuffix(closer).strip()
    reason = reason.lstrip(":-=–— \t")  # noqa: RUF001 (dashes people type before a reason)
    return reason if any(c.isalnum() for c in reason) else ""


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in spans)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    find = text.find
    pos = find("\n")
    while pos >= 0:
        starts.append(pos + 1)
        pos = find("\n", pos + 1)
    return starts


def _position(starts: list[int], offset: int) -> tuple[int, int]:
    from bisect import bisect_right

    line = bisect_right(starts, offset)
    return line, offset - starts[line - 1] + 1


# the one detector table a reader (or a test) can walk: rule id -> what it finds
RULES: dict[str, str] = {
    "private-key": "PEM, OpenSSH or PGP private key block",
    **{rule: description for rule, description, _, _ in _TOKEN_RULES},
    "bearer-token": "Bearer token in an assignment or header",
    "aws-secret-access-key": "AWS secret access key in an assignment",
    "high-entropy-secret": "high-entropy value assigned to a secret-named key",
    "plaintext-password": "clear password value in a YAML, JSON or env-like file",
    "allow-without-reason": "'gitrot: allow' without a reason",
}
# two shapes share the id; the table names both
RULES["github-token"] = "GitHub token (classic or fine-grained)"

_REVOKE = (
    "Revoke it at its issuer and issue a new one: anyone who can read the repository, a "
    "clone or a fork can use it, and git history keeps it after the line is deleted. Keep "
    "the new one out of git (in a secret manager, or a SOPS-encrypted file that gitrot "
    "manages) and remove this one from the change (rewrite the branch if it was committed). "
    "If it is not a secret (a test fixture, an example), write 'gitrot: allow <why>' on its "
    "line, or add its fingerprint with a reason to .gitrot-scan-allow.yaml in a change "
    "merged first."
)

#: What each rule finds, at length, and what to do about a hit (the help of SARIF and the
#: reports): ``(description, help, precision, security severity)``. Precision is how often
#: a hit is a real secret (``very-high``, ``high``, ``medium``); the security severity is a
#: CVSS-like score of a leaked credential of that kind ("" for a rule that finds no secret).
RULE_DETAILS: dict[str, tuple[str, str, str, str]] = {
    "private-key": (
        "A PEM, OpenSSH or PGP private key block: a BEGIN ... PRIVATE KEY header followed by "
        "key data. Whoever holds it can sign, decrypt or log in as its owner.",
        _REVOKE,
        "very-high",
        "9.5",
    ),
    "age-identity": (
        "An age secret key (AGE-SECRET-KEY-1...): it decrypts every file encrypted to its "
        "recipient, including SOPS files.",
        _REVOKE + " For an age identity: make a new key, re-encrypt the files to the new "
        "recipient (gitrot updatekeys) and remove the old recipient.",
        "very-high",
        "9.5",
    ),
    "age-plugin-identity": (
        "An age plugin identity (AGE-PLUGIN-...): it names a key held by a plugin (a "
        "hardware token, a cloud KMS) and, with it, decrypts files encrypted to it.",
        _REVOKE,
        "very-high",
        "8.0",
    ),
    "aws-access-key-id": (
        "An AWS access key id (AKIA... or ASIA...): one half of an AWS credential; its "
        "secret access key is usually near it.",
        _REVOKE + " Deactivate the access key in IAM and create a new one.",
        "high",
        "7.5",
    ),
    "aws-secret-access-key": (
        "An AWS secret access key assigned to a key that names it: with the access key id, "
        "it signs AWS API requests as its IAM user or role.",
        _REVOKE + " Deactivate the access key in IAM and create a new one.",
        "high",
        "9.0",
    ),
    "github-token": (
        "A GitHub token: a classic personal access, OAuth, user-to-server, server-to-server "
        "or refresh token (ghp_, gho_, ghu_, ghs_, ghr_) or a fine-grained personal access "
        "token (github_pat_). It acts on GitHub with its owner's access.",
        _REVOKE,
        "very-high",
        "8.8",
    ),
    "gitlab-token": (
        "A GitLab personal access token (glpat-): it acts on GitLab with its owner's access.",
        _REVOKE,
        "very-high",
        "8.8",
    ),
    "slack-token": (
        "A Slack bot, user, app or refresh token (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-): it "
        "reads and posts in the workspace as its app or user.",
        _REVOKE,
        "high",
        "8.0",
    ),
    "slack-webhook": (
        "A Slack incoming webhook URL: anyone with it can post into its channel.",
        _REVOKE,
        "very-high",
        "7.0",
    ),
    "stripe-key": (
        "A Stripe live secret or restricted key (sk_live_, rk_live_): it moves money and "
        "reads customer data.",
        _REVOKE,
        "very-high",
        "9.0",
    ),
    "google-api-key": (
        "A Google API key (AIza...): it bills and calls the Google APIs its project enabled.",
        _REVOKE + " Restrict the new key to the APIs and callers that need it.",
        "high",
        "7.5",
    ),
    "npm-token": (
        "An npm access token (npm_): it can publish packages as its owner.",
        _REVOKE,
        "very-high",
        "8.8",
    ),
    "pypi-token": (
        "A PyPI API token (pypi-...): it can upload releases of its owner's projects.",
        _REVOKE,
        "very-high",
        "8.8",
    ),
    "jwt": (
        "A JSON Web Token (three base64url parts, the first two JSON): a signed bearer "
        "credential, valid until it expires.",
        _REVOKE + " Invalidate the token's session, or rotate the key that signed it.",
        "high",
        "7.0",
    ),
    "bearer-token": (
        "A Bearer token in an assignment or an Authorization header: a random-looking value "
        "that authenticates whoever sends it.",
        _REVOKE,
        "high",
        "8.0",
    ),
    "high-entropy-secret": (
        "A random-looking value (at least 16 characters of high Shannon entropy) assigned to "
        "a key whose name says secret, password, token, api_key, private_key, credential or "
        "auth. Templates, SOPS ciphertext, placeholders and paths are not reported.",
        _REVOKE,
        "medium",
        "7.5",
    ),
    "plaintext-password": (
        "A clear password value in a YAML, JSON or env-like file, assigned to a key whose "
        "name says password (passwd, passphrase, pwd, pass).",
        _REVOKE,
        "medium",
        "7.5",
    ),
    "allow-without-reason": (
        "A 'gitrot: allow' comment without a reason. An inline allow hides every hit on its "
        "line, so it must say why the line holds no secret.",
        "Write the reason after it: 'gitrot: allow <why this is not a secret>' (a test "
        "fixture, an example value, a public key).",
        "very-high",
        "",
    ),
}
