"""The token formats ``gitrot scan`` knows, as data: one :class:`Detector` per vendor format.

To add a vendor's format, add one entry to :data:`DETECTORS`: its rule id (several formats
of one vendor share one; the rule's help is in :data:`gitrot.scan.detectors.RULE_DETAILS`),
a regex whose group ``s`` is the secret, anchored on both sides, the vendor's published
format as ``source``, ``keywords`` (one must occur in the text, case-sensitively, before
the regex runs: the cheap prefilter), an entropy floor (Shannon bits per character of the
secret: ``ghp_xxxx...`` is a placeholder, not a token) and the documented example keys
that must stay quiet. A ``check`` names an extra structural test of the match
(:func:`jwt_header`: the header decodes to JSON with ``alg``).
"""

from __future__ import annotations

import binascii
import re


class Lazy:
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


class Detector:
    """One vendor token format (see the module docstring for each field)."""

    __slots__ = ("check", "description", "entropy", "examples", "id", "keywords", "regex", "source")

    def __init__(  # noqa: PLR0917 (a table row)
        self,
        id: str,
        description: str,
        regex: str,
        source: str,
        keywords: tuple[str, ...],
        entropy: float = 3.0,
        examples: frozenset[str] = frozenset(),
        check: str = "",
    ) -> None:
        self.id = id
        self.description = description
        self.regex = Lazy(regex)
        self.source = source
        self.keywords = keywords
        self.entropy = entropy
        self.examples = examples
        self.check = check


_BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
# anchors: no token character right before or after the match
_B = r"(?<![A-Za-z0-9_-])"
_E = r"(?![A-Za-z0-9_-])"

# documented example keys, quiet wherever they appear
_AWS_EXAMPLES = frozenset(("AKIAIOSFODNN7EXAMPLE", "AKIAI44QH8DHBEXAMPLE", "ASIAIOSFODNN7EXAMPLE"))
# https://github.com/firebase/firebase-android-sdk (test and sample google-services.json)
_GOOGLE_EXAMPLES = frozenset(
    (
        "AIzaSyabcdefghijklmnopqrstuvwxyz1234567",
        "AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs",
        "AIzaSyCkEhVjf3pduRDt6d1yKOMitrUEke8agEM",
        "AIzaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU",
        "AIzaSyD3asb-2pEZVqMkmL6M9N6nHZRR_znhrh0",
        "AIzayDNSXIbFmlXbIE6mCzDLQAqITYefhixbX4A",
        "AIzaSyAdOS2zB6NCsk1pCdZ4-P6GBdi_UUPwX7c",
        "AIzaSyASWm6HmTMdYWpgMnjRBjxcQ9CKctWmLd4",
        "AIzaSyANUvH9H9BsUccjsu2pCmEkOPjjaXeDQgY",
        "AIzaSyA5_iVawFQ8ABuTZNUdcwERLJv_a_p4wtM",
        "AIzaSyA4UrcGxgwQFTfaI3no3t7Lt1sjmdnP5sQ",
        "AIzaSyDSb51JiIcB6OJpwwMicseKRhhrOq1cS7g",
        "AIzaSyBF2RrAIm4a0mO64EShQfqfd2AFnzAvvuU",
        "AIzaSyBcE-OOIbhjyR83gm4r2MFCu4MJmprNXsw",
        "AIzaSyB8qGxt4ec15vitgn44duC5ucxaOi4FmqE",
        "AIzaSyA8vmApnrHNFE0bApF4hoZ11srVL_n0nvY",
    )
)
# GitHub's documentation (about authentication, "creating a personal access token")
_GITHUB_EXAMPLES = frozenset(
    ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", "gho_16C7e42F292c6912E7710c838347Ae178B4a")
)
# Slack's documentation (token types; webhooks)
_SLACK_EXAMPLES = frozenset(
    (
        "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    )
)
# Stripe's API reference key (sk_test_4eC39HqLyjWDarjtT1zdp7dc) with live_ put in, as
# tutorials copy it
_STRIPE_EXAMPLES = frozenset(
    ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "rk_live_4eC39HqLyjWDarjtT1zdp7dc")
)

# AWS's documentation key pair (IAM user guide), quiet as values of any name too
_AWS_SECRET_EXAMPLES = frozenset(
    ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")
)

DETECTORS: tuple[Detector, ...] = (
    Detector(
        "age-identity",
        "age secret key (identity)",
        rf"(?<![A-Za-z0-9-])(?P<s>AGE-SECRET-KEY-(?:PQ-)?1[{_BECH32}]{{58,}})(?![A-Za-z0-9])",
        "age-encryption.org/v1: Bech32, HRP AGE-SECRET-KEY- (post-quantum: AGE-SECRET-KEY-PQ-)",
        ("AGE-SECRET-KEY-",),
    ),
    Detector(
        "age-plugin-identity",
        "age plugin identity",
        rf"(?<![A-Za-z0-9-])(?P<s>AGE-PLUGIN-[A-Z0-9_-]+?-1[{_BECH32}]{{20,}})(?![A-Za-z0-9])",
        "age plugin spec (C2SP age-plugin.md): Bech32, HRP AGE-PLUGIN-<NAME>-",
        ("AGE-PLUGIN-",),
    ),
    Detector(
        "aws-access-key-id",
        "AWS access key id",
        r"(?<![A-Za-z0-9])(?P<s>(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})(?![A-Za-z0-9])",
        "AWS IAM identifiers: unique ID prefixes AKIA (access key), ASIA (temporary), ABIA "
        "(STS service bearer token), ACCA (context-specific credential); 16 upper-case letters and "
        "digits",
        ("AKIA", "ASIA", "ABIA", "ACCA"),
        examples=_AWS_EXAMPLES,
    ),
    Detector(
        "github-token",
        "GitHub token",
        r"(?<![A-Za-z0-9_])(?P<s>gh[pousr]_[A-Za-z0-9]{36})(?![A-Za-z0-9_])",
        "GitHub: 'Behind GitHub's new authentication token formats' (2021): ghp_, gho_, ghu_, "
        "ghs_, ghr_ and 36 base62 characters (30 random + a CRC32 checksum)",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        examples=_GITHUB_EXAMPLES,
    ),
    Detector(
        "github-token",
        "GitHub fine-grained personal access token",
        r"(?<![A-Za-z0-9_])(?P<s>github_pat_[A-Za-z0-9_]{82})(?![A-Za-z0-9_])",
        "GitHub fine-grained personal access tokens (2022): github_pat_ and 82 characters",
        ("github_pat_",),
    ),
    Detector(
        "gitlab-token",
        "GitLab personal access token",
        rf"{_B}(?P<s>glpat-[A-Za-z0-9_-]{{20}}(?:[A-Za-z0-9_.-]{{0,300}}[A-Za-z0-9_])?){_E}",
        "GitLab docs, security/tokens 'Token prefixes': glpat- (personal, project and group "
        "access tokens; 20 characters, or the routable form <base64url>.<crc>)",
        ("glpat-",),
    ),
    Detector(
        "gitlab-token",
        "GitLab CI/CD job token",
        rf"{_B}(?P<s>glcbt-[0-9A-Za-z]{{1,5}}_[0-9A-Za-z_-]{{20,}}){_E}",
        "GitLab docs, 'Token prefixes': glcbt- (CI/CD job token, partition id then _)",
        ("glcbt-",),
    ),
    Detector(
        "gitlab-token",
        "GitLab deploy token",
        rf"{_B}(?P<s>gldt-[0-9A-Za-z_-]{{20,}}){_E}",
        "GitLab docs, 'Token prefixes': gldt- (deploy token)",
        ("gldt-",),
    ),
    Detector(
        "gitlab-token",
        "GitLab pipeline trigger token",
        rf"{_B}(?P<s>glptt-[0-9a-f]{{40}}){_E}",
        "GitLab docs, 'Token prefixes': glptt- (pipeline trigger token, 40 hex)",
        ("glptt-",),
    ),
    Detector(
        "gitlab-token",
        "GitLab runner token",
        rf"{_B}(?P<s>(?:glrt-(?:t\d_)?[0-9A-Za-z_-]{{20,}}(?:\.[0-9a-z]{{9}})?"
        rf"|GR1348941[0-9A-Za-z_-]{{20}})){_E}",
        "GitLab docs, 'Token prefixes': glrt- (runner authentication token), GR1348941 "
        "(runner registration token, deprecated)",
        ("glrt-", "GR1348941"),
    ),
    Detector(
        "slack-token",
        "Slack token",
        r"(?<![\w-])(?P<s>xox[baprso]-[0-9A-Za-z]+(?:-[0-9A-Za-z]+){1,5})(?![\w-])",
        "Slack API docs, 'Token types': xoxb- (bot), xoxp- (user), xoxa-/xoxr- (workspace "
        "access/refresh), xoxs-/xoxo- (legacy); numeric ids then a random part",
        ("xox",),
        examples=_SLACK_EXAMPLES,
    ),
    Detector(
        "slack-token",
        "Slack configuration or app-level token",
        r"(?<![\w.-])(?P<s>(?:xoxe\.xox[bp]-\d-[0-9A-Za-z]{100,}|xoxe-\d-[0-9A-Za-z]{100,}"
        r"|xoxe(?:-\d{6,}){3}-[0-9a-f]{32}|xapp-\d-[0-9A-Z]+-\d+-[0-9a-f]{32,}))(?![\w-])",
        "Slack API docs, 'Configuration tokens' (xoxe.xoxp-1-, xoxe.xoxb-1-, refresh xoxe-1-) "
        "and 'App-level tokens' (xapp-1-<app id>-<number>-<hex>)",
        ("xoxe", "xapp-"),
    ),
    Detector(
        "slack-webhook",
        "Slack webhook URL",
        r"(?P<s>https://hooks\.slack\.com/(?:services/T[A-Za-z0-9_]{6,}/B[A-Za-z0-9_]{6,}"
        r"/[A-Za-z0-9_]{16,}|(?:workflows|triggers)/T[A-Za-z0-9_]{6,}/(?:A[A-Za-z0-9_]{6,}/)?"
        r"\d{6,}/[A-Za-z0-9_]{16,}))(?![A-Za-z0-9_])",
        "Slack docs: incoming webhooks (hooks.slack.com/services/T.../B.../...) and Workflow "
        "Builder webhook triggers (hooks.slack.com/workflows|triggers/T.../A.../<id>/<secret>)",
        ("hooks.slack.com",),
        examples=_SLACK_EXAMPLES,
    ),
    Detector(
        "stripe-key",
        "Stripe live secret or restricted key",
        r"(?<![A-Za-z0-9_])(?P<s>(?:sk|rk)_live_[0-9A-Za-z]{24,247})(?![A-Za-z0-9_])",
        "Stripe docs, 'API keys': sk_live_ (secret) and rk_live_ (restricted) keys",
        ("_live_",),
        examples=_STRIPE_EXAMPLES,
    ),
    Detector(
        "google-api-key",
        "Google API key",
        r"(?<![\w-])(?P<s>AIza[0-9A-Za-z_-]{35})(?![\w-])",
        "Google Cloud docs, 'API keys': AIza and 35 base64url characters",
        ("AIza",),
        entropy=3.5,
        examples=_GOOGLE_EXAMPLES,
    ),
    Detector(
        "sendgrid-api-key",
        "SendGrid API key",
        rf"{_B}(?P<s>SG\.[0-9A-Za-z_-]{{22}}\.[0-9A-Za-z_-]{{43}}){_E}",
        "Twilio SendGrid docs, 'API keys': SG. then a 22-character id, a dot and a "
        "43-character secret",
        ("SG.",),
    ),
    Detector(
        "twilio-api-key",
        "Twilio API key",
        r"(?<![A-Za-z0-9])(?P<s>SK[0-9a-fA-F]{32})(?![A-Za-z0-9])",
        "Twilio docs, 'API keys': the key SID is SK and 32 hex digits (its secret is shown "
        "once; the SID marks where it is)",
        ("SK",),
    ),
    Detector(
        "npm-token",
        "npm access token",
        r"(?<![A-Za-z0-9_])(?P<s>npm_[A-Za-z0-9]{36})(?![A-Za-z0-9_])",
        "npm blog 'New npm token format' (2021): npm_ and 36 base62 characters",
        ("npm_",),
    ),
    Detector(
        "pypi-token",
        "PyPI API token",
        rf"{_B}(?P<s>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{{50,}}){_E}",
        "PyPI help, 'API tokens': pypi- and a macaroon whose location is pypi.org "
        "(base64 AgEIcHlwaS5vcmc)",
        ("pypi-AgEIcHlwaS5vcmc",),
    ),
    Detector(
        "pypi-token",
        "TestPyPI API token",
        rf"{_B}(?P<s>pypi-AgENdGVzdC5weXBpLm9yZ[A-Za-z0-9_-]{{50,}}){_E}",
        "TestPyPI: pypi- and a macaroon whose location is test.pypi.org "
        "(base64 AgENdGVzdC5weXBpLm9yZ...)",
        ("pypi-AgENdGVzdC5weXBpLm9yZ",),
    ),
    Detector(
        "jwt",
        "JSON Web Token",
        r"(?<![\w.-])(?P<s>eyJ[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{8,}\.(?:[A-Za-z0-9_-]{16,})?)"
        r"(?![\w.-])",
        "RFC 7519 / RFC 7515 compact serialisation: base64url(JSON header with alg)."
        "base64url(JSON claims).base64url(signature); an unsigned JWT (alg none) has an "
        "empty signature",
        ("eyJ",),
        check="jwt",
    ),
)


def jwt_header(token: str) -> bool:
    """Whether ``token``'s header decodes to a JSON object with ``alg`` (an unsigned one,
    with an empty signature, only when ``alg`` is ``none``)."""
    import base64  # with json ~1.5 ms, paid only by a text that holds a JWT-like token
    import json

    head, _, rest = token.partition(".")
    signature = rest.rpartition(".")[2]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error):
        return False
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        return False
    return bool(signature) or header["alg"].lower() == "none"


# sops' README (getsops/sops): the example value of its walkthroughs
_SOPS_EXAMPLES = frozenset(("jf48t9wfw094gf4nhdf023r",))

#: every documented example key, quiet wherever it appears (a token or an assigned value)
EXAMPLES = (
    _SOPS_EXAMPLES
    | _AWS_EXAMPLES
    | _AWS_SECRET_EXAMPLES
    | _GOOGLE_EXAMPLES
    | _GITHUB_EXAMPLES
    | _SLACK_EXAMPLES
    | _STRIPE_EXAMPLES
)
