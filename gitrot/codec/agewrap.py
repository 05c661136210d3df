"""The data key wrapped to one age recipient: the ``enc`` of a SOPS age stanza
(docs/sops-format.md 7).

sops age-encrypts the 32-byte data key (or, with key groups, a Shamir share) to each
recipient separately and stores the ASCII-armored result. Pure apart from randomness (a
fresh age file key per wrap). Identities are opaque pyrage objects (``object`` here), found
by :mod:`gitrot.keys.age`; they are never printed.

``pyrage`` is imported inside the functions, when a key is used: a short-lived pre-commit
process that opens no file never pays for it.
"""

from __future__ import annotations

from collections.abc import Sequence

from gitrot.errors import InputError

#: sops' rule: an ``age1`` string with a second ``1`` is a plugin recipient
PLUGIN_HINT = "age plugins are not supported by gitrot; use an X25519 or SSH key"
_RECIPIENT_HINT = (
    "use an X25519 recipient (age1..., as printed by 'age-keygen -y') "
    "or an ssh-ed25519/ssh-rsa public key line"
)


def _parse_recipient(recipient: str) -> object:
    import pyrage  # loaded only when a key is used

    text = recipient.strip()
    if text.startswith("age1") and text.count("1") > 1:
        # sops's rule: an age1 string with a second "1" is a plugin recipient (age1<name>1...)
        raise InputError(f"age plugin recipient {text!r} is not supported", hint=PLUGIN_HINT)
    try:
        if text.startswith("age1"):
            return pyrage.x25519.Recipient.from_str(text)
        if text.startswith("ssh-"):
            return pyrage.ssh.Recipient.from_str(text)
    except pyrage.RecipientError:
        raise InputError(f"invalid age recipient {text!r}", hint=_RECIPIENT_HINT) from None
    raise InputError(f"unknown age recipient type {text!r}", hint=_RECIPIENT_HINT)


def wrap(data_key: bytes, recipient: str) -> str:
    """Age-encrypt ``data_key`` to one recipient; the ASCII-armored text, final newline included."""
    import pyrage  # loaded only when a key is used

    parsed = _parse_recipient(recipient)
    try:
        armored: bytes = pyrage.encrypt(data_key, [parsed], armored=True)
    except pyrage.EncryptError:  # pragma: no cover - not reachable with a parsed recipient
        raise InputError(
            f"cannot encrypt the data key to age recipient {recipient.strip()!r}",
            hint=_RECIPIENT_HINT,
        ) from None
    text = armored.decode("ascii")
    return text if text.endswith("\n") else text + "\n"


def unwrap(enc: str | bytes, identities: Sequence[object]) -> bytes | None:
    """Decrypt an armored (or binary) age payload with any of ``identities``.

    Returns None when no identity fits, or when the payload is not valid age at all, as sops
    then simply tries the next key; nothing about the identities is ever raised.
    """
    if not identities:
        return None
    import pyrage  # loaded only when a key is used

    payload = enc.encode("utf-8") if isinstance(enc, str) else bytes(enc)
    try:
        plaintext: bytes = pyrage.decrypt(payload, list(identities))
    except pyrage.DecryptError:
        return None
    return plaintext
