"""The postgres rotator without a server: its options, prepare() of each strategy, the
refusals that come before any connection, and the SCRAM verifier against RFC 7677's
example exchange."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gitrot.core.ports import RotatorContext
from gitrot.core.secret import SecretValue
from gitrot.errors import ConfigError, RotatorError
from gitrot.rotators import scram
from gitrot.rotators.postgres import PostgresOptions, PostgresRotator, check_options
from gitrot.triggers.options import OptionError

SINGLE = {
    "host": "127.0.0.1",
    "admin_user": "rotator",
    "admin_password": {"env": "PGADMIN_PASSWORD"},
    "role": "app",
}
ALTERNATING = {
    "host": "127.0.0.1",
    "admin_user": "rotator",
    "admin_password": {"env": "PGADMIN_PASSWORD"},
    "strategy": "alternating",
    "roles": ["app_a", "app_b"],
}


def context(root: Path | str = ".", **secrets: str) -> RotatorContext:
    def read_secret(name: str) -> SecretValue:
        if name not in secrets:
            raise RotatorError(f"the secret {name} has no current value")
        return SecretValue(secrets[name])

    return RotatorContext(name="db-password", version=1, root=str(root), read_secret=read_secret)


def refusal(options: dict[str, Any]) -> OptionError:
    with pytest.raises(OptionError) as caught:
        check_options("payments-db", options)
    assert isinstance(caught.value, ConfigError)
    assert caught.value.where == "gitrot.yaml"
    return caught.value


def test_defaults_of_a_single_rotator() -> None:
    assert check_options("payments-db", SINGLE) == PostgresOptions(
        host="127.0.0.1",
        port=5432,
        dbname="postgres",
        admin_user="rotator",
        admin_password=("env", "PGADMIN_PASSWORD"),
        strategy="single",
        roles=("app",),
        connect_timeout=5,
    )


def test_every_option_of_an_alternating_rotator() -> None:
    options = {
        **ALTERNATING,
        "port": 6543,
        "dbname": "payments",
        "connect_timeout": "10s",
        "admin_password": {"file": "secrets/pgadmin"},
    }
    checked = check_options("payments-db", options)
    assert checked.strategy == "alternating"
    assert checked.roles == ("app_a", "app_b")
    assert (checked.port, checked.dbname, checked.connect_timeout) == (6543, "payments", 10)
    assert checked.admin_password == ("file", "secrets/pgadmin")
    assert check_options("x", {**SINGLE, "connect_timeout": 2.5}).connect_timeout == 3
    assert check_options(
        "x", {**SINGLE, "admin_password": {"secret": "pg-admin"}}
    ).admin_password == (
        "secret",
        "pg-admin",
    )


@pytest.mark.parametrize(
    ("change", "option", "words"),
    [
        ({"passwrd": "x"}, "passwrd", "unknown option 'passwrd' for type postgres"),
        ({"host": None}, "host", "must be one host name or address, got nothing"),
        ({"host": "a b"}, "host", "got an invalid one"),
        ({"host": 5}, "host", "got a int"),
        ({"port": "5432"}, "port", "must be a port number from 1 to 65535"),
        ({"port": True}, "port", "must be a port number"),
        ({"port": 70000}, "port", "must be a port number"),
        (
            {"dbname": ""},
            "dbname",
            "must be a PostgreSQL name (1 to 63 bytes), got a string of 0 bytes",
        ),
        ({"dbname": "d" * 64}, "dbname", "got a string of 64 bytes"),
        ({"admin_user": None}, "admin_user", "must be a PostgreSQL name"),
        ({"admin_user": "app"}, "admin_user", "must not be one of the rotated roles (app)"),
        ({"strategy": "rolling"}, "strategy", "must be single or alternating, got 'rolling'"),
        ({"strategy": 1}, "strategy", "got a int"),
        ({"role": ["app"]}, "role", "must be a PostgreSQL name"),
        ({"roles": ["a", "b"]}, "roles", "is for strategy: alternating"),
        ({"admin_password": None}, "admin_password", "must name one of env, file or secret"),
        (
            {"admin_password": {"vault": "x"}},
            "admin_password",
            "must name one of env, file or secret",
        ),
        ({"admin_password": {"env": "A", "file": "b"}}, "admin_password", "one of env"),
        ({"admin_password": {"file": ""}}, "admin_password", "file: must be a non-empty string"),
        (
            {"admin_password": {"env": "NOT-A-NAME"}},
            "admin_password",
            "env: must name an environment variable",
        ),
        ({"connect_timeout": "soon"}, "connect_timeout", "is not a duration"),
        ({"connect_timeout": [5]}, "connect_timeout", "must be a number of seconds, got a list"),
        ({"connect_timeout": 0}, "connect_timeout", "must be from 1 to 300 seconds, got 0"),
        ({"connect_timeout": "1h"}, "connect_timeout", "got 3600"),
    ],
)
def test_a_single_rotator_refuses(change: dict[str, Any], option: str, words: str) -> None:
    error = refusal({**SINGLE, **change})
    assert error.option == option
    assert words in error.message
    assert error.message.startswith("rotators.payments-db")


@pytest.mark.parametrize(
    ("change", "option", "words"),
    [
        ({"role": "app"}, "role", "is for strategy: single"),
        ({"roles": None}, "roles", "must list exactly two roles, got nothing"),
        ({"roles": ["a"]}, "roles", "must list exactly two roles, got 1 items"),
        ({"roles": ["a", "b", "c"]}, "roles", "got 3 items"),
        ({"roles": ["a", "a"]}, "roles", "must list two different roles, got a twice"),
        ({"roles": ["a", 7]}, "roles", "must be a PostgreSQL name"),
        ({"admin_user": "app_b"}, "admin_user", "must not be one of the rotated roles"),
    ],
)
def test_an_alternating_rotator_refuses(change: dict[str, Any], option: str, words: str) -> None:
    error = refusal({**ALTERNATING, **change})
    assert (error.option, words in error.message) == (option, True)


def test_a_literal_admin_password_is_refused_without_repeating_it() -> None:
    error = refusal({**SINGLE, "admin_password": "hunter2-literal"})  # gitrot: allow made up
    assert error.option == "admin_password"
    assert "must not hold a password" in error.message
    assert "{env: VARIABLE}" in error.hint
    assert "hunter2" not in error.message + error.hint


def test_the_module_loads_without_psycopg() -> None:
    """The validate hook checks the options: it must not pay for psycopg nor SCRAM."""
    code = (
        "import sys; from gitrot.rotators.postgres import check_options; "
        "check_options('x', {'host': 'h', 'admin_user': 'a', "
        "'admin_password': {'env': 'P'}, 'role': 'r'}); "
        "print(sorted(m for m in ('psycopg', 'stringprep', 'gitrot.rotators.scram') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_prepare_single_stores_the_generated_value() -> None:
    rotator = PostgresRotator("payments-db", SINGLE, context())
    generated = SecretValue("s3cret-generated")
    assert rotator.prepare(generated, None) is generated
    assert rotator.prepare(generated, SecretValue("older")) is generated


def test_prepare_alternating_takes_the_role_not_in_use() -> None:
    rotator = PostgresRotator("payments-db", ALTERNATING, context())
    first = rotator.prepare(SecretValue("pw-1"), None)
    assert json.loads(first.reveal()) == {"username": "app_a", "password": "pw-1"}
    second = rotator.prepare(SecretValue("pw-2"), first)
    assert json.loads(second.reveal()) == {"username": "app_b", "password": "pw-2"}
    third = rotator.prepare(SecretValue("pw-3"), second)
    assert json.loads(third.reveal())["username"] == "app_a"
    # a current value that is not the strategy's JSON (set before the rotator was): app_a
    for current in ("plain-password", "[1, 2]", '{"username": 5}', '{"username": "other"}'):
        assert (
            json.loads(rotator.prepare(SecretValue("pw"), SecretValue(current)).reveal())[
                "username"
            ]
            == "app_a"
        )


@pytest.mark.parametrize(
    "pending",
    [
        "not json at all",
        '["app_a", "pw"]',
        '{"username": "app_a"}',
        '{"username": "app_a", "password": ""}',
    ],
)
def test_alternating_refuses_a_pending_value_of_another_shape(pending: str) -> None:
    rotator = PostgresRotator("payments-db", ALTERNATING, context())
    for step, call in (("set", lambda: rotator.set(SecretValue(pending), None)),
                       ("test", lambda: rotator.test(SecretValue(pending)))):  # fmt: skip
        with pytest.raises(RotatorError) as caught:
            call()
        assert caught.value.step == step
        assert caught.value.exit_code == 3
        assert caught.value.message.startswith(f"rotator payments-db failed at {step}: ")
        assert 'not the JSON {"username", "password"}' in caught.value.message
        assert "pw" not in caught.value.message


def test_alternating_refuses_a_role_it_does_not_rotate_and_the_role_in_use() -> None:
    rotator = PostgresRotator("payments-db", ALTERNATING, context())
    stranger = SecretValue(json.dumps({"username": "postgres", "password": "pw-x"}))
    with pytest.raises(
        RotatorError, match=r"names a role that is not in rotators\.payments-db\.roles"
    ):
        rotator.set(stranger, None)
    pending = SecretValue(json.dumps({"username": "app_a", "password": "pw-new"}))
    with pytest.raises(RotatorError, match=r"names the role in use \(app_a\)") as caught:
        rotator.set(pending, SecretValue(json.dumps({"username": "app_a", "password": "pw-old"})))
    assert "pw-" not in caught.value.message + caught.value.hint


def test_a_missing_admin_password_fails_at_set_naming_where_it_was_looked_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PGADMIN_PASSWORD", raising=False)
    cases: list[tuple[dict[str, str], str]] = [
        (
            {"env": "PGADMIN_PASSWORD"},
            "the variable PGADMIN_PASSWORD (rotators.db.admin_password) is not set",
        ),
        (
            {"file": "missing/pw"},
            "cannot read missing/pw (rotators.db.admin_password): No such file",
        ),
        ({"file": "empty"}, "empty (rotators.db.admin_password) is empty"),
        ({"file": "binary"}, "cannot read binary (rotators.db.admin_password): not UTF-8"),
        ({"secret": "pg-admin"}, "the secret pg-admin has no current value"),
    ]
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    for source, words in cases:
        rotator = PostgresRotator("db", {**SINGLE, "admin_password": source}, context(tmp_path))
        with pytest.raises(RotatorError) as caught:
            rotator.set(SecretValue("pw-new-value"), None)
        assert caught.value.step == "set"
        assert words in caught.value.message
        assert "pw-new-value" not in caught.value.message


# --- the SCRAM verifier -------------------------------------------------------------------

RFC7677 = {  # RFC 7677, section 3: user "user", password "pencil"
    "client_first_bare": "n=user,r=rOprNGfwEbeRWgbNEkqO",
    "server_first": "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    "client_final_bare": "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    "proof": "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    "server_signature": "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
}


def test_the_verifier_checks_rfc_7677s_exchange() -> None:
    """The StoredKey and ServerKey of "pencil" with the RFC's salt verify the client's proof
    and make the server's signature of the RFC's example exchange."""
    verifier = scram.verifier("pencil", salt=base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="))
    head, stored_b64, server_b64 = verifier.split("$")[0], *verifier.split("$")[2].split(":")
    assert head == "SCRAM-SHA-256"
    assert verifier.split("$")[1] == "4096:W22ZaJ0SNY7soEsUEjb6gQ=="
    stored, server = base64.b64decode(stored_b64), base64.b64decode(server_b64)
    auth = ",".join(RFC7677[k] for k in ("client_first_bare", "server_first", "client_final_bare"))
    signature = hmac.digest(server, auth.encode(), "sha256")
    assert base64.b64encode(signature).decode() == RFC7677["server_signature"]
    client_signature = hmac.digest(stored, auth.encode(), "sha256")
    proof = base64.b64decode(RFC7677["proof"])
    client_key = bytes(a ^ b for a, b in zip(proof, client_signature, strict=True))
    assert hashlib.sha256(client_key).digest() == stored


def test_each_verifier_has_a_fresh_salt() -> None:
    first, second = scram.verifier("same"), scram.verifier("same")
    assert first != second
    assert len(base64.b64decode(first.split("$")[1].split(":")[1])) == 16
    assert "same" not in first


@pytest.mark.parametrize(
    ("password", "prepared"),
    [
        ("plain ASCII\x01", b"plain ASCII\x01"),  # ASCII: as it is
        ("a\u00a0b", b"a b"),  # a non-ASCII space is a space
        ("x\u200by", b"x y"),  # in both tables: a space, as PostgreSQL maps it
        ("x\u00ady", b"xy"),  # a soft hyphen: mapped to nothing
        ("\ufb01x", b"fix"),  # NFKC
        ("\u00e9t\u00e9", "été".encode()),
        ("\u0221z", "\u0221z".encode()),  # unassigned in Unicode 3.2: the raw bytes
        ("a\u0627", "a\u0627".encode()),  # RandAL with L: the raw bytes
        ("\u0627a\u0628", "\u0627a\u0628".encode()),
        ("\u0627\u0628", "\u0627\u0628".encode()),  # RandAL only: prepared (unchanged)
        ("\u00ad", "\u00ad".encode()),  # nothing left: the raw bytes
    ],
)
def test_saslprep_as_postgresql_does(password: str, prepared: bytes) -> None:
    assert scram.saslprep(password) == prepared


GITROT_YAML = """\
apiVersion: gitrot/v1
kind: Config
recipients:
  reconciler: age1wzr0ecuqtrxy5nap4ucjpl8a56pr0dmtvv3w90ecka0q98fdrassl8f0sw
rotators:
  payments-db:
    type: postgres
    host: 127.0.0.1
    admin_user: rotator
    admin_password: {env: PGADMIN_PASSWORD}
    strategy: alternating
    roles: [app_a, app_b]
"""


@pytest.mark.parametrize(
    ("old", "new", "where", "words"),
    [
        (
            "roles: [app_a, app_b]",
            "roles: [app_a]",
            "gitrot.yaml:12:5",
            "must list exactly two roles",
        ),
        (
            "strategy: alternating",
            "strategy: rolling",
            "gitrot.yaml:11:5",
            "must be single or alternating",
        ),
        (
            "host: 127.0.0.1",
            "host: 127.0.0.1\n    sslmode: require",
            "gitrot.yaml:9:5",
            "unknown option 'sslmode'",
        ),
    ],
)
def test_the_gitrot_yaml_loader_places_the_refusal(
    old: str, new: str, where: str, words: str
) -> None:
    from gitrot.files.repo import parse_config

    config = parse_config(GITROT_YAML)
    assert config.rotators["payments-db"].type == "postgres"
    with pytest.raises(ConfigError) as caught:
        parse_config(GITROT_YAML.replace(old, new))
    assert caught.value.location() == where
    assert words in caught.value.message
