"""gitrot.yaml's ``audit:`` section: what loads, the defaults, each refusal at its
gitrot.yaml:LINE:COL, and the JSON schema agreeing with the loader."""

from __future__ import annotations

import json

import pytest

from gitrot.core.models import AuditSettings
from gitrot.errors import ConfigError, InputError
from gitrot.files import repo, resources

HEAD = (
    "apiVersion: gitrot/v1\nkind: Config\nrecipients:\n"
    "  r: age1wzr0ecuqtrxy5nap4ucjpl8a56pr0dmtvv3w90ecka0q98fdrassl8f0sw\n"
)


def validator() -> object:
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(resources.schema_text("config.schema.json")))


def as_data(text: str) -> object:
    from gitrot.codec.tree import to_plain
    from gitrot.files.fields import parse_root

    return to_plain(parse_root(text, "gitrot.yaml", InputError))


def test_audit_settings_load_and_default() -> None:
    text = (
        HEAD
        + "audit:\n  allowed_signers: .gitrot/allowed_signers\n  require_signatures: true\n  main: trunk\n"
    )
    assert repo.parse_config(text).audit == AuditSettings(
        allowed_signers=".gitrot/allowed_signers", require_signatures=True, main="trunk"
    )
    assert validator().is_valid(as_data(text))  # type: ignore[attr-defined]
    assert repo.parse_config(HEAD).audit == AuditSettings()


@pytest.mark.parametrize(
    ("section", "where", "words"),
    [
        ("audit:\n  signers: x\n", "6:3", "signers"),
        ("audit:\n  allowed_signers: /etc/allowed\n", "6:3", "allowed_signers"),
        ("audit:\n  allowed_signers: ../outside\n", "6:3", "allowed_signers"),
        ("audit:\n  require_signatures: yes please\n", "6:3", "require_signatures"),
    ],
)
def test_a_bad_audit_section_is_refused_at_its_line(section: str, where: str, words: str) -> None:
    with pytest.raises(ConfigError) as refused:
        repo.parse_config(HEAD + section)
    error = refused.value
    assert f"{error.location()}".endswith(where), error.location()
    assert words in error.message + (error.hint or "")
    assert not validator().is_valid(as_data(HEAD + section))  # type: ignore[attr-defined]
