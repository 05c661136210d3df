"""files/config: each wrong gitrot.yaml is one ConfigError at gitrot.yaml:line:col (exit 2)
with a hint, and the optional sections read as written when they are right."""

from __future__ import annotations

import pytest

from gitrot.core.models import RotationClass
from gitrot.errors import EXIT_INPUT, ConfigError
from gitrot.files import repo

HEAD = (
    "apiVersion: gitrot/v1\nkind: Config\nrecipients:\n"
    "  r: age1wzr0ecuqtrxy5nap4ucjpl8a56pr0dmtvv3w90ecka0q98fdrassl8f0sw\n"
)
DATE_HINT = 'write dates as quoted strings: "2026-12-20"'
PATH_HINT = "paths in gitrot.yaml are relative to the repository root, without '..'"


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        (
            "apiVersion: gitrot/v1\nkind: Config\nrecipients: {}\n",
            "recipients must name at least one age recipient (gitrot.yaml:3:1)",
            None,
        ),
        (
            HEAD + "policy:\n  owners: ['bad login!']\n",
            "policy.owners: 'bad login!' is not a login (gitrot.yaml:6:3)",
            "write user names",
        ),
        (
            HEAD + "policy:\n  paths: ['../x/']\n",
            "policy.paths must be a relative path inside the repository, got '../x/'"
            " (gitrot.yaml:6:3)",
            PATH_HINT,
        ),
        (
            HEAD + "policy:\n  waivers: /etc/w.yaml\n",
            "policy.waivers must be a relative path inside the repository, got '/etc/w.yaml'"
            " (gitrot.yaml:6:3)",
            PATH_HINT,
        ),
        (
            HEAD + "reconciler:\n  signing_key: ssh-rsa AAAA\n",
            "reconciler.signing_key is not an Ed25519 public key (ssh-ed25519 AAAA...)"
            " (gitrot.yaml:6:3)",
            "gitrot init writes it; print it again with ssh-keygen -y -f .gitrot/signing.key",
        ),
        (
            HEAD + "backends:\n  v:\n    type: vault\n    url: https://v\n"
            "    token_env: DEPLOY_HOST\n    mount: kv\n"
            "triggers:\n  t:\n    type: command\n    argv: [x]\n    env: [DEPLOY_HOST]\n",
            "triggers.t.env must not pass DEPLOY_HOST to a command: backends.v.token_env"
            " reads a credential from it (gitrot.yaml:15:5)",
            "a command trigger never gets gitrot's credentials; give the consumer its own"
            " (or use a webhook)",
        ),
        (
            HEAD + "classes:\n  a:\n    max_age: 0d\n",
            "classes.a.max_age must be longer than 0 (gitrot.yaml:7:5)",
            None,
        ),
        (
            HEAD + "freezes: {a: 1}\n",
            "freezes must be a list, got a mapping (gitrot.yaml:5:1)",
            None,
        ),
        (
            HEAD + "freezes:\n  - 3\n",
            "freezes must be a list of mappings, got an integer (gitrot.yaml:5:1)",
            None,
        ),
        (
            HEAD + "freezes:\n  - {from: '2025-1-01', to: '2025-01-02', environments: [prod]}\n",
            "freezes[0].from is not a date (YYYY-MM-DD): '2025-1-01' (gitrot.yaml:6:6)",
            DATE_HINT,
        ),
        (
            HEAD + "freezes:\n  - {from: '2025-02-30', to: '2025-01-02', environments: [prod]}\n",
            "freezes[0].from is not a date (YYYY-MM-DD): '2025-02-30' (gitrot.yaml:6:6)",
            DATE_HINT,
        ),
        (
            HEAD + "freezes:\n  - {from: 2025-01-01, to: '2025-01-02', environments: [prod]}\n",
            "freezes[0].from must be a quoted date string, got a timestamp (gitrot.yaml:6:6)",
            DATE_HINT,
        ),
    ],
)
def test_a_wrong_config_is_one_error_at_its_place(
    text: str, message: str, hint: str | None
) -> None:
    with pytest.raises(ConfigError) as caught:
        repo.parse_config(text)
    assert caught.value.render() == f"gitrot: error: {message}"
    assert caught.value.exit_code == EXIT_INPUT
    assert caught.value.hint == (hint or "the format is described in schemas/config.schema.json")


def test_optional_sections_read_as_written() -> None:
    config = repo.parse_config(
        HEAD + "policy:\n  paths: null\n  waivers: null\n  owners: [alice]\n"
        "  max_waiver_days: 30\n"
        "classes:\n  plain:\n  b: {max_age: 90d, min_interval: 1d, source: x}\n"
        "reconciler: {}\n"
        "triggers:\n  t: {type: command, argv: [x], env: [HOME]}\n"
    )
    assert config.policy_paths == ("policies/",)  # null keeps the default
    assert config.waivers_path is None  # null turns waivers off
    assert config.owners == ("alice",)
    assert config.max_waiver_days == 30
    assert config.classes == {
        "plain": RotationClass("plain"),
        "b": RotationClass("b", 90 * 86400, 86400, "x"),
    }
    assert config.signing_key is None
    assert config.triggers["t"].options == {"argv": ["x"], "env": ["HOME"]}
    assert config.backends == {}
    assert repo.parse_config(HEAD).classes == {}
