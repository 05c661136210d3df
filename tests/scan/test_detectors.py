"""Every detector: what it finds, what it must not find; the secret never leaks."""

from __future__ import annotations

import hashlib
import random
import string
from pathlib import Path

import pytest

from gitrot.scan.detectors import RULES, Hit, file_kind, fingerprint, scan_text, shannon_entropy

ROOT = Path(__file__).resolve().parents[2]
ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


def rand(n: int, alphabet: str = ALNUM, seed: int = 7) -> str:
    """Secrets are built at run time, so this file itself scans clean."""
    rng = random.Random(seed * 1000 + n)
    return "".join(rng.choice(alphabet) for _ in range(n))


# base64url of {"alg":"HS256","typ":"JWT"}: a header that decodes to JSON with alg
JWT_HEAD = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"


def rules(text: str, path: str = "f.txt") -> list[str]:
    return [hit.rule for hit in scan_text(text, path=path)]


def pem(kind: str) -> str:
    body = "\n".join(rand(64, ALNUM + "+/", seed=i) for i in range(4))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


# (rule, path, text, secret) - built lazily so no secret literal sits in the source
def positive_cases() -> list[tuple[str, str, str, str]]:
    cases: list[tuple[str, str, str, str]] = []
    for kind in (
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "DSA PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "PRIVATE KEY",
    ):
        block = pem(kind)
        cases.append(("private-key", "id", block, block.strip()))
    pgp = (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n"
        + rand(64, ALNUM + "+/")
        + "\n-----END PGP PRIVATE KEY BLOCK-----"
    )
    cases.append(("private-key", "k.asc", pgp, pgp))
    escaped = (
        "-----BEGIN RSA PRIVATE KEY-----\\n"
        + rand(64, ALNUM + "+/")
        + "\\n-----END RSA PRIVATE KEY-----"
    )
    cases.append(("private-key", "sa.json", '{"private_key": "' + escaped + '"}', escaped))
    age = "AGE-SECRET-KEY-1" + rand(58, BECH32)
    cases.append(("age-identity", "keys.txt", f"# created\n{age}\n", age))
    plugin = "AGE-PLUGIN-YUBIKEY-1" + rand(30, BECH32)
    cases.append(("age-plugin-identity", "keys.txt", plugin, plugin))
    akid = "AKIA" + rand(16, UPPER)
    cases.append(("aws-access-key-id", "creds", f"aws_access_key_id = {akid}\n", akid))
    asia = "ASIA" + rand(16, UPPER, seed=3)
    cases.append(("aws-access-key-id", "x.py", f'KEY = "{asia}"\n', asia))
    aws_secret = rand(40, ALNUM + "/+")
    cases.append(
        (
            "aws-secret-access-key",
            "credentials",
            f"aws_secret_access_key = {aws_secret}\n",
            aws_secret,
        )
    )
    for prefix in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"):
        token = prefix + rand(36)
        cases.append(("github-token", "ci.sh", f"export GH={token}\n", token))
    pat = "github_pat_" + rand(82, ALNUM + "_")
    cases.append(("github-token", "x.md", f"use {pat} here", pat))
    glpat = "glpat-" + rand(20, ALNUM + "-_")
    cases.append(("gitlab-token", "x.md", f"token {glpat}.", glpat))
    slack = "xoxb-" + rand(12, string.digits) + "-" + rand(13, string.digits) + "-" + rand(24)
    cases.append(("slack-token", "x.md", slack, slack))
    hook = f"https://hooks.slack.com/services/T{rand(8, UPPER)}/B{rand(10, UPPER)}/{rand(24)}"
    cases.append(("slack-webhook", "x.md", f"url: {hook}", hook))
    for prefix in ("sk_live_", "rk_live_"):
        stripe = prefix + rand(24)
        cases.append(("stripe-key", "app.js", f"const k = '{stripe}';", stripe))
    google = "AIza" + rand(35, ALNUM + "-_")
    cases.append(("google-api-key", "x.html", f"key={google}&", google))
    npm = "npm_" + rand(36)
    cases.append(("npm-token", ".npmrc", f"//registry.npmjs.org/:_authToken={npm}\n", npm))
    pypi = "pypi-AgEIcHlwaS5vcmc" + rand(60, ALNUM + "-_")
    cases.append(
        ("pypi-token", ".pypirc", f"[pypi]\n  username = __token__\n  pw = {pypi}\n", pypi)
    )
    jwt = JWT_HEAD + ".eyJ" + rand(40, ALNUM) + "." + rand(43, ALNUM + "-_")
    cases.append(("jwt", "x.md", f"curl -H {jwt}", jwt))
    sendgrid = "SG." + rand(22, ALNUM + "_-") + "." + rand(43, ALNUM + "_-")
    cases.append(("sendgrid-api-key", "app.py", f'KEY = "{sendgrid}"\n', sendgrid))
    twilio = "SK" + rand(32, "0123456789abcdef")
    cases.append(("twilio-api-key", "notes.md", f"sid {twilio}\n", twilio))
    conn = rand(14, ALNUM)
    cases.append(
        ("connection-string", ".env", f"DATABASE_URL=postgres://app:{conn}@db/app\n", conn)
    )
    bearer = rand(40, ALNUM + "-._")
    cases.append(
        ("bearer-token", "x.py", f'headers = {{"Authorization": "Bearer {bearer}"}}', bearer)
    )
    for path, line in (
        ("settings.py", 'API_KEY = "{v}"'),
        ("config.yaml", "api_key: {v}"),
        ("config.json", '{{"client_secret": "{v}"}}'),
        (".env", "STRIPE_TOKEN={v}"),
        ("main.go", 'authToken := "{v}"'),
        ("app.toml", "private_key = '{v}'"),
    ):
        value = rand(32, ALNUM + "+/")
        cases.append(("high-entropy-secret", path, line.format(v=value) + "\n", value))
    hexa = rand(40, "0123456789abcdef")
    cases.append(("high-entropy-secret", "x.ini", f"secret = {hexa}", hexa))
    for path, line, value in (
        ("config.yaml", "db:\n  password: hunter2\n", "hunter2"),
        ("config.yml", "passwd: 'correct horse battery staple'\n", "correct horse battery staple"),
        ("app.json", '{"db": {"dbPassword": "hunter2"}}', "hunter2"),
        (".env", "DB_PASS=hunter2  # prod\n", "hunter2"),
        ("prod.env", "export PGPASSWORD=s3cr3t!\n", "s3cr3t!"),
        ("x.yaml", "url: postgres://app:hunter2@db:5432/app\npassword_url: x\n", ""),
    ):
        if value:
            cases.append(("plaintext-password", path, line, value))
    cases.append(
        ("connection-string", "db.yaml", "dsn_password: postgres://app:hunter2@db/app\n", "hunter2")
    )
    return cases


POSITIVES = positive_cases()


@pytest.mark.parametrize(
    ("rule", "path", "text", "secret"), POSITIVES, ids=[f"{c[0]}-{c[1]}" for c in POSITIVES]
)
def test_each_detector_finds_its_secret(rule: str, path: str, text: str, secret: str) -> None:
    hits = scan_text(text, path=path)
    assert [h.rule for h in hits] == [rule], hits
    hit = hits[0]
    assert hit.fingerprint == fingerprint(secret)  # keyed with this run's random salt
    assert hashlib.sha256(secret.encode()).hexdigest()[:16] not in hit.fingerprint
    assert secret not in hit.fingerprint and hit.fingerprint != secret
    assert hit.keyed(SALT) == fingerprint(secret, SALT) != hit.fingerprint
    rendered = hit.render() + repr(hit) + str(hit.as_dict())
    assert secret not in rendered
    body = "".join(line for line in secret.splitlines() if not line.startswith("-----"))
    for chunk in (body[i : i + 6] for i in range(0, len(body) - 6, 3)):
        assert chunk not in hit.description or chunk.isalpha(), chunk


def test_every_rule_has_a_positive_case() -> None:
    covered = {rule for rule, *_ in POSITIVES} | {"allow-without-reason"}
    assert covered == set(RULES)


def test_location_is_the_secret_s_line_and_column() -> None:
    token = "ghp_" + rand(36)
    hits = scan_text(f"a: 1\nb:\n  c: x {token}\n", path="f.yaml")
    assert (hits[0].line, hits[0].column) == (3, 8)
    hits = scan_text("\n\ndb:\n  password: hunter2\n", path="f.yaml")
    assert (hits[0].line, hits[0].column) == (4, 13)


NEGATIVES = [
    ("sops.yaml", "password: ENC[AES256_GCM,data:abc=,iv:def=,tag:ghi=,type:str]\n"),
    ("sops.env", "DB_PASSWORD=ENC[AES256_GCM,data:abc=,iv:def=,tag:ghi=,type:str]\n"),
    ("t.yaml", "password: ${DB_PASSWORD}\n"),
    ("t.yaml", "password: $DB_PASSWORD\n"),
    ("t.yaml", 'password: "{{ vault_db_password }}"\n'),
    ("t.yaml", "password: <your password here>\n"),
    ("t.yaml", "password: changeme\n"),
    ("t.yaml", "password: example-password\n"),
    ("t.yaml", "password: xxxxxxxx\n"),
    ("t.yaml", "password: '********'\n"),
    ("t.yaml", "password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n"),
    ("t.yaml", "password_file: /run/secrets/db\n"),
    ("t.yaml", "password: /run/secrets/db\n"),
    ("t.yaml", "token_url: https://auth.example.com/oauth/token\n"),
    ("t.yaml", "auth: https://auth.internal/login\n"),
    ("t.yaml", "password:\n  min_length: 12\n"),
    ("t.yaml", "password: null\n"),
    ("t.yaml", "password: ''\n"),
    ("t.yaml", "author: Jane Doe\ntoken_type: bearer\n"),
    ("t.yaml", "secretRef:\n  name: db-credentials\n"),
    ("t.json", '{"password": {"type": "string", "minLength": 12}}'),
    ("t.py", 'password = os.environ["DB_PASSWORD"]\n'),
    ("t.py", 'password = "hunter2"  # a famous example password, in code\n'),
    ("t.py", 'password = "password"\n'),
    ("t.py", 'PASSWORD_PROMPT = "Enter your password:"\n'),
    ("t.py", "token = self._next_token()\n"),
    ("t.py", 'SECRET_KEY_ENV = "GITROT_SECRET_KEY_FOR_SIGNING"\n'),
    ("t.py", 'token = f"{prefix}_{name}_token_value"\n'),
    ("t.py", 'BEGIN = "-----BEGIN OPENSSH PRIVATE KEY-----"\n'),
    ("t.py", 'if line.startswith("AGE-SECRET-KEY-1"):\n'),
    ("t.md", "Set `password: <value>` in the config; `token = ${{ secrets.TOKEN }}`.\n"),
    ("t.md", "curl -H 'Authorization: Bearer $TOKEN' https://api\n"),
    ("t.md", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"),
    ("t.md", "secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
    ("t.md", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p is a recipient\n"),
    ("t.md", "-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBh\n"),
    ("t.md", "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n"),
    ("t.md", "token: my-application-token-2024\n"),
    ("t.md", "secret: gitrot.commands.scan.module\n"),
    ("t.yaml", "api_key: getApiKeyFromEnvironment\n"),
    ("t.md", "sha: 9fceb02d0ae598e95dc970b74767f19372d61af8\n"),
    ("t.md", "ghp_short and xoxb-1 and sk_test_" + "a" * 30 + "\n"),
    ("t.md", "https://hooks.slack.com/services/T000/B000/XXXX\n"),
    ("t.md", "ghp_" + "x" * 36 + "\n"),
]


@pytest.mark.parametrize(("path", "text"), NEGATIVES, ids=[t[:30] for _, t in NEGATIVES])
def test_not_secrets(path: str, text: str) -> None:
    assert scan_text(text, path=path) == []


def test_token_boundaries_are_anchored() -> None:
    token = "ghp_" + rand(36)
    assert rules(token + "X") == []  # 37 characters: not a GitHub token shape
    assert rules("A" + token) == []
    assert rules("AKIA" + rand(16, UPPER) + "Z") == []
    assert rules("AIza" + rand(36)) == []


def test_repository_sources_and_docs_scan_clean() -> None:
    """The realistic negative corpus: gitrot's own code, schemas and docs."""
    paths = [
        p for p in (ROOT / "gitrot").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ]
    paths += [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / "Makefile"]
    corpus = ROOT / "tests" / "fixtures" / "scan" / "corpus"  # fake secrets on purpose
    paths += [p for p in (ROOT / "tests").rglob("*.py") if not p.is_relative_to(corpus)]
    hits = []
    for path in paths:
        data = path.read_bytes()
        if b"\0" not in data:
            hits += scan_text(data.decode("utf-8", "replace"), path=str(path.relative_to(ROOT)))
    deliberate = {  # fake secret values under test
        "tests/commands/test_init_new_rotate.py",
        "tests/triggers/test_redact.py",
    }
    assert [h for h in hits if h.path not in deliberate] == []


def test_inline_allow_needs_a_reason() -> None:
    token = "ghp_" + rand(36)
    allowed = scan_text(f"x = '{token}'  # gitrot: allow revoked demo token\n", path="a.py")
    assert allowed == []
    bare = scan_text(f"x = '{token}'  # gitrot: allow\n", path="a.py")
    assert sorted(h.rule for h in bare) == ["allow-without-reason", "github-token"]
    punctuation = scan_text(f"<!-- {token} gitrot: allow -->\n", path="a.html")
    assert sorted(h.rule for h in punctuation) == ["allow-without-reason", "github-token"]
    assert rules("# gitrot: allow   \n") == ["allow-without-reason"]
    other_line = scan_text(f"# gitrot: allow fixture\nx = '{token}'\n", path="a.py")
    assert [h.rule for h in other_line] == ["github-token"]


def test_a_token_in_an_assignment_is_reported_once_by_its_precise_rule() -> None:
    token = "ghp_" + rand(36)
    assert rules(f'GITHUB_TOKEN: "{token}"\n', "ci.yaml") == ["github-token"]
    jwt = JWT_HEAD + ".eyJ" + rand(40) + "." + rand(43)
    assert rules(f"Authorization: Bearer {jwt}\n") == ["jwt"]


def test_file_kinds_and_entropy() -> None:
    assert file_kind("a/b/config.yaml") == "config"
    assert file_kind(".env.production") == "config"
    assert file_kind("x.py") == "code"
    assert file_kind("README.md") == "docs"
    assert file_kind("Dockerfile") == "other"
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == 2.0
    assert fingerprint("s").startswith("hmac:") and len(fingerprint("s")) == 21


SALT = "0123456789abcdef" * 2


def test_fingerprints_are_keyed_stable_per_salt_and_stretched_when_short() -> None:
    import hmac

    short, long = "hunter2", "x" * 40
    assert fingerprint(short, SALT) == fingerprint(short, SALT) != fingerprint(short, SALT[::-1])
    data = hashlib.sha256(b"gitrot-scan\0" + long.encode()).digest()
    plain = hmac.new(SALT.encode(), data, "sha256").hexdigest()[:16]
    assert fingerprint(long, SALT) == "hmac:" + plain  # long: HMAC alone
    data = hashlib.sha256(b"gitrot-scan\0" + short.encode()).digest()
    assert (
        fingerprint(short, SALT)
        != "hmac:" + hmac.new(SALT.encode(), data, "sha256").hexdigest()[:16]
    )
    for mark in (fingerprint(short), fingerprint(short, SALT)):
        assert hashlib.sha256(short.encode()).hexdigest()[:16] not in mark


def test_hit_equality() -> None:
    a = Hit("r", "p", 1, 2, "sha256:0", "d")
    assert a == Hit("r", "p", 1, 2, "sha256:0", "other words") and len({a, a}) == 1


def test_large_text_is_fast() -> None:
    import time

    text = ("name: value\npassword: ENC[AES256_GCM,data:x]\n# a comment with token words\n") * 50000
    start = time.perf_counter()
    assert scan_text(text, path="big.yaml") == []
    assert time.perf_counter() - start < 3.0
