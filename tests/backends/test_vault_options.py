"""The vault backend's options: refused at gitrot.yaml:LINE:COL by the loader (what
``gitrot validate`` runs), by the registry's check and by the backend; nothing contacted."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gitrot.backends.registry import check_backend, installed_types
from gitrot.backends.vault import VaultOptions, check_options
from gitrot.errors import ConfigError
from gitrot.files import repo

HEAD = (
    "apiVersion: gitrot/v1\nkind: Config\nrecipients:\n"
    "  r: age1wzr0ecuqtrxy5nap4ucjpl8a56pr0dmtvv3w90ecka0q98fdrassl8f0sw\n"
    "backends:\n  prod:\n    type: vault\n"
)


def test_the_defaults() -> None:
    assert check_options("prod", {"url": "https://vault.example:8200/"}) == VaultOptions(
        url="https://vault.example:8200",
        mount="secret",
        field="value",
        token_env="VAULT_TOKEN",
        token_file=None,
        namespace=None,
        ca_cert=None,
    )
    options = {
        "url": "http://[::1]:8200",
        "mount": "teams/kv/",
        "token_file": "~/.vault-token",
        "namespace": "team-a/sub",
        "ca_cert": "certs/ca.pem",
        "field": "password",
    }
    checked = check_options("prod", options)
    assert (checked.mount, checked.token_env, checked.token_file) == (
        "teams/kv",
        None,
        "~/.vault-token",
    )
    assert (checked.namespace, checked.field) == ("team-a/sub", "password")
    assert "vault" in installed_types()


@pytest.mark.parametrize(
    ("options", "message", "option"),
    [
        (
            {"url": "https://v", "tokn_env": "X"},
            "backends.prod: unknown option 'tokn_env'",
            "tokn_env",
        ),
        (
            {"url": "https://v", "token_env": "A", "token_file": "f"},
            "backends.prod: give token_env or token_file, not both",
            "token_file",
        ),
        ({"url": "https://v", "token_env": "1X"}, "backends.prod.token_env must name", "token_env"),
        (
            {"url": "https://v", "token_file": ""},
            "backends.prod.token_file must be a non-empty",
            "token_file",
        ),
        (
            {"url": "https://v", "ca_cert": ["x"]},
            "backends.prod.ca_cert must be a non-empty",
            "ca_cert",
        ),
        ({}, "backends.prod.url must be the server's URL", "url"),
        ({"url": "https://v a"}, "backends.prod.url must be the server's URL", "url"),
        ({"url": "https://v:99999"}, "backends.prod.url is not a URL", "url"),
        (
            {"url": "https://u:p@v"},
            "backends.prod.url must not carry credentials or a query",
            "url",
        ),
        ({"url": "https://v/?token=x"}, "backends.prod.url must not carry credentials", "url"),
        ({"url": "ftp://v"}, "backends.prod.url must be an http(s) URL with a host", "url"),
        ({"url": "http://vault.example:8200"}, "backends.prod.url must use https", "url"),
        ({"url": "http://10.0.0.1"}, "backends.prod.url must use https", "url"),
        ({"url": "https://v", "mount": "a/../b"}, "backends.prod.mount must be a path", "mount"),
        (
            {"url": "https://v", "namespace": "a b"},
            "backends.prod.namespace must be a path",
            "namespace",
        ),
        (
            {"url": "https://v", "field": "gitrot_version"},
            "backends.prod.field must be a data key",
            "field",
        ),
        ({"url": "https://v", "field": "a/b"}, "backends.prod.field must be a data key", "field"),
    ],
)
def test_refused_options(options: dict[str, object], message: str, option: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_options("prod", options)
    assert info.value.message.startswith(message)
    assert info.value.option == option  # type: ignore[attr-defined]
    assert "u:p" not in info.value.message and "token=x" not in info.value.message
    with pytest.raises(ConfigError, match=r"backends\.prod"):
        check_backend("prod", "vault", options)


@pytest.mark.parametrize(
    ("lines", "message", "where"),
    [
        ("    url: https://v\n    mount: ../x\n", "backends.prod.mount must be a path", "9:5"),
        ("    url: http://vault.example\n", "backends.prod.url must use https", "8:5"),
        ("    url: https://v\n    address: x\n", "backends.prod: unknown option 'address'", "9:5"),
        ("    url: https://v\n    token: hvs.abc\n", "backends.prod.token is a credential", "9:5"),
        ("    mount: secret\n", "required key 'backends.prod.url' is missing", "6:3"),
    ],
)
def test_refused_at_their_line(lines: str, message: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        repo.parse_config(HEAD + lines)
    rendered = info.value.render()
    assert message in rendered
    assert f"(gitrot.yaml:{where})" in rendered
    assert "hvs.abc" not in rendered


def test_validation_never_imports_the_client() -> None:
    config = HEAD + "    url: https://v\n    token_env: PROD_VAULT_TOKEN\n"
    script = (
        "import sys\nfrom gitrot.files import repo\n"
        f"repo.parse_config({config!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('hvac', 'requests')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
