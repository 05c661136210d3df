"""gitrot.yaml's ``rotators:`` and an intent's ``spec.source``: what loads, each refusal at
its file:line:col, the JSON schemas agreeing, and what the rules see of both."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from gitrot.core.models import RotatorConfig
from gitrot.errors import EXIT_INPUT, ConfigError, InputError
from gitrot.files import repo, resources
from gitrot.policy.input import complete, config_document, input_document, intent_document
from tests.intents import intent_text

HEAD = (
    "apiVersion: gitrot/v1\nkind: Config\nrecipients:\n"
    "  r: age1wzr0ecuqtrxy5nap4ucjpl8a56pr0dmtvv3w90ecka0q98fdrassl8f0sw\n"
    "rotators:\n"
)
LDAP = "  ldap:\n    type: command\n    set: [./rotate, set]\n    test: [./rotate, test]\n"
SOURCE_HINT = "write one of {env: NAME}, {file: PATH}, {secret: <gitrot secret name>}"


def schema(name: str) -> object:
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(resources.schema_text(f"{name}.schema.json")))


def as_data(text: str) -> object:
    from gitrot.codec.tree import to_plain
    from gitrot.files.fields import parse_root

    return to_plain(parse_root(text, "x.yaml", InputError))


def test_rotators_load_as_written() -> None:
    config = repo.parse_config(HEAD + LDAP + "    timeout: 10s\n")
    assert config.rotators == {
        "ldap": RotatorConfig(
            "ldap",
            "command",
            {"set": ["./rotate", "set"], "test": ["./rotate", "test"], "timeout": "10s"},
        )
    }
    assert repo.parse_config(HEAD.replace("rotators:\n", "")).rotators == {}


def test_credentials_are_references(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a rotator type with credential options (postgres, a plugin's) may hold."""
    from gitrot.files import config as config_module

    monkeypatch.setattr(config_module, "check_rotator", lambda *args: None)
    config = repo.parse_config(
        HEAD + "  db:\n    type: vendor\n    admin_password: {env: PGADMIN}\n"
        "    api_token: {file: /run/token}\n    login_secret: {secret: ldap/admin}\n"
        "    bind_token_file: /run/token\n    bind_token_env: BIND\n    empty_password: ''\n"
        "    nested: {db_secret: {secret: ldap/admin}, port: 5}\n"
    )
    assert config.rotators["db"].options == {
        "admin_password": {"env": "PGADMIN"},
        "api_token": {"file": "/run/token"},
        "login_secret": {"secret": "ldap/admin"},
        "bind_token_file": "/run/token",
        "bind_token_env": "BIND",
        "empty_password": "",
        "nested": {"db_secret": {"secret": "ldap/admin"}, "port": 5},
    }


@pytest.mark.parametrize(
    ("body", "message", "hint"),
    [
        (
            "  ldap:\n    type: mysql\n",
            "rotators.ldap.type: unknown rotator type 'mysql' (installed: command, postgres)"
            " (gitrot.yaml:7:5)",
            "use one of them, or install a package that registers 'mysql' in gitrot.rotators",
        ),
        (
            "  ldap:\n    set: [x]\n",
            "required key 'rotators.ldap.type' is missing (gitrot.yaml:6:3)",
            None,
        ),
        (
            LDAP + "    timout: 5s\n",
            "rotators.ldap: unknown option 'timout' for a command rotator (gitrot.yaml:10:5)",
            "a command rotator takes: set, test, timeout",
        ),
        (
            "  ldap:\n    type: command\n    test: [./t]\n",
            "rotators.ldap.set must list the command and its arguments (strings; no shell)"
            " (gitrot.yaml:7:5)",
            "like set: [./rotate-ldap, set]; the value comes on standard input",
        ),
        (
            LDAP + "    timeout: -1\n",
            "rotators.ldap.timeout must be more than 0 and at most 1 day, got -1s"
            " (gitrot.yaml:10:5)",
            "give a number of seconds (10, 0.5) or a duration like 30s or 5m",
        ),
        (
            LDAP + "    admin_password: hunter2-literal\n",
            "rotators.ldap.admin_password is a credential written into gitrot.yaml"
            " (gitrot.yaml:10:5)",
            "name where it comes from instead: admin_password: {env: NAME}, {file: PATH} or"
            " {secret: <gitrot secret>} (and rotate the exposed credential)",
        ),
        (
            LDAP + "    auth:\n      api_key: 12345\n",
            "rotators.ldap.auth.api_key is a credential written into gitrot.yaml"
            " (gitrot.yaml:11:7)",
            "name where it comes from instead: api_key: {env: NAME}, {file: PATH} or"
            " {secret: <gitrot secret>} (and rotate the exposed credential)",
        ),
        (
            LDAP + "    admin_password: {env: A, file: /b}\n",
            "rotators.ldap.admin_password needs exactly one of env, file, secret"
            " (gitrot.yaml:10:30)",
            SOURCE_HINT,
        ),
        (
            LDAP + "    admin_password: {}\n",
            "rotators.ldap.admin_password needs exactly one of env, file, secret"
            " (gitrot.yaml:10:5)",
            SOURCE_HINT,
        ),
        (
            LDAP + "    admin_password: {value: hunter2}\n",
            "unknown key 'rotators.ldap.admin_password.value' (gitrot.yaml:10:22)",
            "allowed here: env, file, secret",
        ),
        (
            LDAP + "    admin_password: {env: 'not a name'}\n",
            "rotators.ldap.admin_password.env is not an environment variable name"
            " (gitrot.yaml:10:22)",
            SOURCE_HINT,
        ),
        (
            LDAP + "    admin_password: {secret: ../admin}\n",
            "rotators.ldap.admin_password.secret is not a gitrot secret name (gitrot.yaml:10:22)",
            SOURCE_HINT,
        ),
        (
            LDAP + "    admin_password_env: 'not a name'\n",
            "rotators.ldap.admin_password_env is not an environment variable name"
            " (gitrot.yaml:10:5)",
            None,
        ),
        (
            "  ldap:\n    type: command\n    set: [./r, --password=hunter2]\n    test: [./r]\n",
            "rotators.ldap.set holds a credential: gitrot.yaml is no place for one"
            " (gitrot.yaml:8:5)",
            "the program reads what it needs itself (its own configuration, a file, its "
            "environment); the value it sets comes on standard input",
        ),
    ],
)
def test_each_bad_rotator_is_one_located_error(body: str, message: str, hint: str | None) -> None:
    with pytest.raises(ConfigError) as caught:
        repo.parse_config(HEAD + body)
    error = caught.value
    assert f"{error.message} (gitrot.yaml:{error.line}:{error.column})" == message
    assert error.exit_code == EXIT_INPUT
    assert error.hint == (hint or "the format is described in schemas/config.schema.json")
    assert "hunter2" not in error.message + (error.hint or "")


def test_a_rotator_plugin_refusing_without_an_option_points_at_the_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gitrot.files import config as config_module

    def refuse(name: str, type_: str, options: object) -> None:
        raise ConfigError(f"rotators.{name}: the plugin says no")

    monkeypatch.setattr(config_module, "check_rotator", refuse)
    with pytest.raises(ConfigError) as caught:
        repo.parse_config(HEAD + LDAP)
    assert (caught.value.message, caught.value.line) == ("rotators.ldap: the plugin says no", 7)


def test_the_config_schema_agrees() -> None:
    validator = schema("config")
    good = HEAD + LDAP + "    timeout: 10s\n"
    assert not list(validator.iter_errors(as_data(good)))
    for bad in (
        LDAP + "    admin_password: hunter2\n",
        LDAP + "    admin_password: {env: A, file: b}\n",
        LDAP + "    shell: true\n",
        "  ldap:\n    type: command\n    test: [./t]\n",
        "  ldap:\n    set: [./s]\n",
    ):
        assert list(validator.iter_errors(as_data(HEAD + bad))), bad
    postgres = (
        "  db:\n    type: postgres\n    host: 127.0.0.1\n    port: 5432\n"
        "    admin_user: postgres\n    admin_password: {env: PGADMIN_PASSWORD}\n"
        "    strategy: alternating\n    roles: [app_a, app_b]\n"
    )
    assert not list(validator.iter_errors(as_data(HEAD + postgres)))
    assert list(validator.iter_errors(as_data(HEAD + postgres.replace("[app_a, app_b]", "[a]"))))


# -- spec.source ----------------------------------------------------------------------------


def with_source(source: str, name: str = "payments/db") -> str:
    text = intent_text(name, 2)
    return text.replace("    consumers:\n", source + "    consumers:\n", 1)


def test_an_intent_names_its_rotator() -> None:
    intent = repo.parse_intent(
        with_source("    source:\n        rotator: ldap\n"), "secrets/payments/db.yaml"
    )
    assert intent.rotator == "ldap"
    assert intent.position("spec.source.rotator") == (20, 9)
    plain = repo.parse_intent(intent_text("payments/db", 2), "secrets/payments/db.yaml")
    assert plain.rotator is None
    assert intent != plain  # the rotator is part of what an intent says


@pytest.mark.parametrize(
    ("source", "message", "hint"),
    [
        (
            "    source:\n        rotator: ldap\n        role: app_admin\n",
            "unknown key 'spec.source.role' (secrets/payments/db.yaml:21:9)",
            "allowed here: rotator",
        ),
        (
            "    source: ldap\n",
            "spec.source must be a mapping, got a string (secrets/payments/db.yaml:19:5)",
            None,
        ),
        (
            "    source: {}\n",
            "required key 'spec.source.rotator' is missing (secrets/payments/db.yaml:19:5)",
            None,
        ),
        (
            "    source:\n        rotator: ''\n",
            "spec.source.rotator must not be empty (secrets/payments/db.yaml:20:9)",
            None,
        ),
        (
            "    sources:\n        rotator: ldap\n",
            "unknown key 'spec.sources' (did you mean 'source'?) (secrets/payments/db.yaml:19:5)",
            None,
        ),
    ],
)
def test_a_bad_source_is_one_located_error(source: str, message: str, hint: str | None) -> None:
    with pytest.raises(InputError) as caught:
        repo.parse_intent(with_source(source), "secrets/payments/db.yaml")
    error = caught.value
    assert f"{error.message} ({error.where}:{error.line}:{error.column})" == message
    if hint is not None:
        assert error.hint == hint


def test_the_intent_schema_agrees() -> None:
    validator = schema("intent")
    good = as_data(with_source("    source:\n        rotator: ldap\n"))
    assert not list(validator.iter_errors(good))
    for bad in ("    source:\n        rotator: ldap\n        role: x\n", "    source: {}\n"):
        assert list(validator.iter_errors(as_data(with_source(bad)))), bad


# -- what the rules see -----------------------------------------------------------------------


def test_the_policy_input_holds_the_source_and_the_rotators() -> None:
    intent = repo.parse_intent(
        with_source("    source:\n        rotator: ldap\n"), "secrets/payments/db.yaml"
    )
    config = repo.parse_config(HEAD + LDAP)
    assert intent_document(intent)["spec"]["source"] == {"rotator": "ldap"}  # type: ignore[index]
    plain = repo.parse_intent(intent_text("payments/db", 2), "secrets/payments/db.yaml")
    assert intent_document(plain)["spec"]["source"] is None  # type: ignore[index]
    assert config_document(config)["rotators"] == {
        "ldap": {
            "type": "command",
            "options": {"set": ["./rotate", "set"], "test": ["./rotate", "test"]},
        }
    }
    document = input_document(intent, config, now=datetime(2026, 1, 2, tzinfo=UTC))
    validator = schema("policy-input")
    assert not list(validator.iter_errors(document))


def test_fixtures_may_omit_the_source_and_the_rotators() -> None:
    done = complete({"intent": {"spec": {"version": 1}}, "config": {"backends": {}}})
    assert done["intent"] == {
        "spec": {"retired": False, "source": None, "version": 1},
        "sops": None,
    }
    assert done["config"] == {"backends": {}, "rotators": {}}
    kept = complete(
        {"intent": {"spec": {"source": {"rotator": "x"}}}, "config": {"rotators": {"x": {}}}}
    )
    assert kept["intent"]["spec"]["source"] == {"rotator": "x"}  # type: ignore[index]
    assert kept["config"] == {"rotators": {"x": {}}}
