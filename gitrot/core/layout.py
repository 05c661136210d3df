"""Where things are in a policy repository: every path and file name, decided once.

Pure: strings, one regex and predicates over repo-relative posix paths; no I/O. A module
that needs the name of a file of the policy repository (or to tell an intent path from a
sealed one, or ciphertext from cleartext) takes it from here. The layout is described in
docs/architecture.md ("The policy repository").
"""

from __future__ import annotations

import re

#: the configuration at the root of the policy folder
CONFIG_FILE = "gitrot.yaml"
#: sops' creation rules (which paths are encrypted for whom, which keys)
SOPS_CONFIG = ".sops.yaml"
#: the scanner's allowlist of accepted findings (keyed fingerprints)
SCAN_ALLOWLIST = ".gitrot-scan-allow.yaml"
#: intents ``secrets/<name>.yaml`` and sealed values ``secrets/<name>.v<N>.sealed.yaml``
SECRETS_DIR = "secrets"
SECRETS_PREFIX = SECRETS_DIR + "/"
INTENT_SUFFIX = ".yaml"
SEALED_SUFFIX = ".sealed.yaml"
#: a sealed value document's repo-relative path: its intent name and version
SEALED_PATH = re.compile(r"secrets/(?P<name>.+)\.v(?P<version>[1-9][0-9]*)\.sealed\.yaml")

#: the reconciler's git-ignored folder (0700) in the policy folder
STATE_DIR = ".gitrot"
#: the reconciler's age identity (``gitrot init``; 0600, git-ignored)
RECONCILER_KEY = STATE_DIR + "/reconciler.key"
#: the reconciler's Ed25519 key that signs refs/gitrot/state (0600, git-ignored)
SIGNING_KEY = STATE_DIR + "/signing.key"
#: the local backend's default store
LOCAL_STORE = STATE_DIR + "/store"

#: how every sops-encrypted value starts (sops has one cipher)
ENCRYPTED_PREFIX = "ENC[AES256_GCM,"
#: one sops-encrypted value: its data, iv, tag and type fields (docs/sops-format.md)
ENCRYPTED_VALUE = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]")


def is_encrypted(value: object) -> bool:
    """Whether ``value`` is one sops-encrypted value (``ENC[AES256_GCM,data:...]``): the one
    test of "this value is ciphertext" used by the loader, the rules and the codec."""
    return (
        isinstance(value, str)
        and value.startswith(ENCRYPTED_PREFIX)
        and ENCRYPTED_VALUE.match(value) is not None
    )


def intent_path(name: str) -> str:
    """``secrets/<name>.yaml``, the repo-relative path of the intent called ``name``."""
    return f"{SECRETS_PREFIX}{name}{INTENT_SUFFIX}"


def sealed_path(name: str, version: int) -> str:
    """``secrets/<name>.v<version>.sealed.yaml``: the value supplied for that version."""
    return f"{SECRETS_PREFIX}{name}.v{version}{SEALED_SUFFIX}"


def in_secrets(path: str) -> bool:
    """Whether the repo-relative ``path`` is under ``secrets/``."""
    return path.startswith(SECRETS_PREFIX)


def is_intent_path(path: str) -> bool:
    """``secrets/**/*.yaml`` except ``*.sealed.yaml``."""
    return in_secrets(path) and path.endswith(INTENT_SUFFIX) and not path.endswith(SEALED_SUFFIX)


def is_sealed_path(path: str) -> bool:
    """``secrets/**/*.sealed.yaml``."""
    return in_secrets(path) and path.endswith(SEALED_SUFFIX)


def name_of_path(path: str) -> str | None:
    """The intent name for a repo-relative ``secrets/<name>.yaml`` path (None otherwise)."""
    if not is_intent_path(path):
        return None
    return path[len(SECRETS_PREFIX) : -len(INTENT_SUFFIX)]


def relative_to_secrets(path: str) -> str:
    """``path`` without its leading ``secrets/`` (how an intent names its sealed file)."""
    return path.removeprefix(SECRETS_PREFIX)
