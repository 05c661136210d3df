"""Age keys as sops reads them and age-keygen writes them: the key file format, the
recipient of an identity, a new identity (docs/sops-format.md 11).

Identities are opaque pyrage objects (``object`` here). They are never printed: error
messages name the source (a variable, a file and a line number), not its content. Where
identities come from (the environment, key files, ``SOPS_AGE_KEY_CMD``) is
:mod:`gitrot.keys.identities`; wrapping the data key for recipients and unwrapping it is
:mod:`gitrot.codec.agewrap`.

``pyrage`` is imported inside the functions that use a key, so importing this module stays
cheap for a short-lived pre-commit process.
"""

from __future__ import annotations

from gitrot.codec.agewrap import PLUGIN_HINT
from gitrot.errors import InputError

#: mypy reads this name as True; finding identities (every decrypt) needs no datetime
TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

IDENTITY_HINT = (
    "each line of an age key file must be an AGE-SECRET-KEY-1... identity, "
    "a '#' comment, or empty (the layout age-keygen writes)"
)


def parse_identities(text: str, *, source: str) -> list[object]:
    """Parse an age key file: one identity per line, empty lines and ``#`` comments skipped.

    ``source`` names the origin (a path, or a variable name) for error messages, which carry
    the line number but never the line itself.
    """
    import pyrage  # loaded only when a key is used

    identities: list[object] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("AGE-SECRET-KEY-1"):
            try:
                identities.append(pyrage.x25519.Identity.from_str(line))
            except pyrage.IdentityError:
                raise InputError(
                    "invalid age identity (AGE-SECRET-KEY-1... with a bad encoding)",
                    where=source,
                    line=number,
                    hint=IDENTITY_HINT,
                ) from None
        elif line.startswith("AGE-PLUGIN-"):
            raise InputError(
                "age plugin identities are not supported",
                where=source,
                line=number,
                hint=PLUGIN_HINT,
            )
        elif line.startswith("AGE-SECRET-KEY-PQ-"):
            raise InputError(
                "post-quantum age identities are not supported (sops 3.11 cannot use them)",
                where=source,
                line=number,
                hint=IDENTITY_HINT,
            )
        elif line.startswith(("-----BEGIN AGE ENCRYPTED FILE-----", "age-encryption.org/")):
            raise InputError(
                "passphrase-protected age key files are not supported",
                where=source,
                line=number,
                hint="decrypt it to a private file, or use SOPS_AGE_KEY_CMD='age -d FILE'",
            )
        else:
            raise InputError("not an age identity", where=source, line=number, hint=IDENTITY_HINT)
    return identities


def recipient_of(identity: object) -> str | None:
    """The ``age1...`` recipient of an X25519 identity; None for other kinds (SSH)."""
    import pyrage  # loaded only when a key is used

    if isinstance(identity, pyrage.x25519.Identity):
        return str(identity.to_public())
    return None


# --- key generation ------------------------------------------------------------------------


def generate_identity() -> tuple[str, str]:
    """A new X25519 identity for ``gitrot keygen``: (``AGE-SECRET-KEY-1...``, ``age1...``)."""
    import pyrage  # loaded only when a key is used

    identity = pyrage.x25519.Identity.generate()
    return str(identity), str(identity.to_public())


def format_key_file(identity_text: str, recipient: str, created: datetime) -> str:
    """A key file in age-keygen's layout; ``created`` is written as Go's ``time.RFC3339``.

    A naive ``created`` is taken as local time, as age-keygen uses the local clock.
    """
    if created.tzinfo is None:
        created = created.astimezone()
    stamp = created.replace(microsecond=0).isoformat()
    if stamp.endswith("+00:00"):
        stamp = stamp[: -len("+00:00")] + "Z"
    return f"# created: {stamp}\n# public key: {recipient}\n{identity_text}\n"
