"""Where age identities come from: the environment and the files sops 3.11 reads, merged
in its order (docs/sops-format.md 11).

:func:`load_identities` is the one entry: SSH keys, ``SOPS_AGE_KEY``,
``SOPS_AGE_KEY_FILE``, ``SOPS_AGE_KEY_CMD`` and the default key file, each parsed by
:func:`gitrot.keys.age.parse_identities`. Errors name the source (a variable, a file, a
line number), never its content. ``pyrage`` is imported only when an SSH key is read, and
``shlex``/``subprocess`` (~3 ms) only with ``SOPS_AGE_KEY_CMD``: ``gitrot decrypt`` is a
short process that otherwise never loads them.
"""

from __future__ import annotations

import binascii
import os
import sys
from collections.abc import Mapping
from os import PathLike

from gitrot.errors import EnvironmentFailure, InputError
from gitrot.keys.age import IDENTITY_HINT, parse_identities

SOPS_AGE_KEY = "SOPS_AGE_KEY"
SOPS_AGE_KEY_FILE = "SOPS_AGE_KEY_FILE"
SOPS_AGE_KEY_CMD = "SOPS_AGE_KEY_CMD"
SOPS_AGE_SSH_PRIVATE_KEY_FILE = "SOPS_AGE_SSH_PRIVATE_KEY_FILE"

#: Seconds ``SOPS_AGE_KEY_CMD`` may run before gitrot gives up on it.
KEY_CMD_TIMEOUT = 30.0


def _ssh_key_is_encrypted(data: bytes) -> bool:
    """Whether an SSH private key file is passphrase-protected (OpenSSH or PEM format)."""
    text = data.decode("ascii", errors="replace")
    if "ENCRYPTED" in text:  # PEM: "Proc-Type: 4,ENCRYPTED" or "BEGIN ENCRYPTED PRIVATE KEY"
        return True
    begin = "-----BEGIN OPENSSH PRIVATE KEY-----"
    end = "-----END OPENSSH PRIVATE KEY-----"
    start = text.find(begin)
    stop = text.find(end)
    if start < 0 or stop < start:
        return False
    body = "".join(text[start + len(begin) : stop].split())
    import base64  # only for ssh keys

    try:
        blob = base64.b64decode(body)
    except (binascii.Error, ValueError):
        return False
    magic = b"openssh-key-v1\x00"
    if not blob.startswith(magic) or len(blob) < len(magic) + 4:
        return False
    size = int.from_bytes(blob[len(magic) : len(magic) + 4], "big")
    cipher = blob[len(magic) + 4 : len(magic) + 4 + size]
    return cipher != b"none"


def _ssh_identity(data: bytes) -> object | None:
    """An age identity from an SSH private key; None if it is passphrase-protected.

    Raises ValueError for anything else that is not a usable ed25519/RSA key.
    """
    import pyrage  # loaded only when a key is used

    try:
        identity: object = pyrage.ssh.Identity.from_buffer(data)
    except pyrage.IdentityError:
        if _ssh_key_is_encrypted(data):
            return None
        raise ValueError("not an unencrypted ssh-ed25519 or ssh-rsa private key") from None
    return identity


def _ssh_identities(env: Mapping[str, str], home: str) -> list[object]:
    identities: list[object] = []
    explicit = env.get(SOPS_AGE_SSH_PRIVATE_KEY_FILE, "")
    if explicit:
        data = _read_named_file(explicit, SOPS_AGE_SSH_PRIVATE_KEY_FILE)
        try:
            identity = _ssh_identity(data)
        except ValueError:
            raise InputError(
                f"{SOPS_AGE_SSH_PRIVATE_KEY_FILE} does not hold an unencrypted "
                "ssh-ed25519 or ssh-rsa private key",
                where=explicit,
                hint="point it at an OpenSSH private key without a passphrase",
            ) from None
        if identity is not None:
            identities.append(identity)
    # sops 3.11 also loads both default keys, whether or not the variable is set (checked by
    # experiment); keys that are missing, passphrase-protected or unusable are skipped.
    for name in ("id_ed25519", "id_rsa"):
        try:
            with open(os.path.join(home, ".ssh", name), "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        try:
            identity = _ssh_identity(data)
        except ValueError:
            continue
        if identity is not None:
            identities.append(identity)
    return identities


def _read_named_file(path: str, variable: str) -> bytes:
    """The content of the file an environment variable points to; InputError if unreadable."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InputError(
            f"{variable} points to a file that does not exist: {path}",
            where=path,
            hint=f"fix or unset {variable}",
        ) from None
    except OSError as error:
        raise InputError(
            f"cannot read the file {variable} points to: {path} ({error.strerror})",
            where=str(path),
            hint=f"fix or unset {variable}",
        ) from None


def _decode_key_text(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(
            "an age key file must be UTF-8 text", where=source, hint=IDENTITY_HINT
        ) from None


def _run_key_cmd(command: str, env: Mapping[str, str]) -> bytes:
    import shlex  # only with SOPS_AGE_KEY_CMD
    import subprocess

    hint = f"run the {SOPS_AGE_KEY_CMD} command yourself to see its error output"
    try:
        args = shlex.split(command)
    except ValueError:
        raise InputError(
            f"{SOPS_AGE_KEY_CMD} cannot be split into a command line (unbalanced quotes?)",
            hint=f"fix {SOPS_AGE_KEY_CMD}",
        ) from None
    if not args:
        raise InputError(f"{SOPS_AGE_KEY_CMD} is blank", hint=f"fix or unset {SOPS_AGE_KEY_CMD}")
    program = args[0]
    try:
        # no shell; stdin closed and stderr discarded like sops (Go's exec.Command().Output())
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=dict(env),
        )
    except OSError as error:
        raise EnvironmentFailure(
            f"{SOPS_AGE_KEY_CMD}: cannot run {program!r} ({error.strerror})", hint=hint
        ) from None
    with proc:
        try:
            output, _ = proc.communicate(timeout=KEY_CMD_TIMEOUT)
        except subprocess.TimeoutExpired:
            # kill the child and stop reading; a grandchild still holding the pipe open
            # must not keep us waiting
            proc.kill()
            proc.wait()
            raise EnvironmentFailure(
                f"{SOPS_AGE_KEY_CMD}: {program!r} did not finish within "
                f"{KEY_CMD_TIMEOUT:g} seconds",
                hint=hint,
            ) from None
    if proc.returncode != 0:
        raise EnvironmentFailure(
            f"{SOPS_AGE_KEY_CMD}: {program!r} failed with exit status {proc.returncode}",
            hint=hint,
        )
    return output


def user_config_dir(env: Mapping[str, str], *, home: str, platform: str) -> str | None:
    """The directory sops takes as the user config dir (Go's ``os.UserConfigDir``;
    docs/sops-format.md 11).

    Paths are strings: this runs in every decrypting process, and pathlib costs ~7 ms to import.
    """
    xdg = env.get("XDG_CONFIG_HOME", "")
    if platform == "darwin":
        return xdg or os.path.join(home, "Library", "Application Support")
    if platform == "win32":
        return env.get("APPDATA", "") or None
    if xdg:
        # Go rejects a relative XDG_CONFIG_HOME; sops then has no default key file
        return xdg if os.path.isabs(xdg) else None
    return os.path.join(home, ".config")


def load_identities(
    env: Mapping[str, str], *, home: str | PathLike[str], platform: str | None = None
) -> list[object]:
    """Every identity sops 3.11 would load, merged in sops's order (docs/sops-format.md 11).

    1. SSH keys: ``SOPS_AGE_SSH_PRIVATE_KEY_FILE``, plus ``~/.ssh/id_ed25519`` and
       ``~/.ssh/id_rsa`` when present (passphrase-protected keys are skipped);
    2. ``SOPS_AGE_KEY`` (the identities themselves, one per line);
    3. ``SOPS_AGE_KEY_FILE`` (a path; a missing file is an error);
    4. ``SOPS_AGE_KEY_CMD`` (run without a shell; its stdout is a key file);
    5. ``<user config dir>/sops/age/keys.txt`` when it exists.

    A variable set to the empty string counts as unset. ``platform`` defaults to
    ``sys.platform``; ``env`` is also the environment of ``SOPS_AGE_KEY_CMD``.
    The result may be empty; the caller decides whether that is an error.
    """
    if platform is None:
        platform = sys.platform
    home = os.fspath(home)

    identities = _ssh_identities(env, home)

    key_text = env.get(SOPS_AGE_KEY, "")
    if key_text:
        identities += parse_identities(key_text, source=SOPS_AGE_KEY)

    key_file = env.get(SOPS_AGE_KEY_FILE, "")
    if key_file:
        raw = _read_named_file(key_file, SOPS_AGE_KEY_FILE)
        identities += parse_identities(_decode_key_text(raw, key_file), source=key_file)

    key_cmd = env.get(SOPS_AGE_KEY_CMD, "")
    if key_cmd:
        source = f"output of {SOPS_AGE_KEY_CMD}"
        output = _run_key_cmd(key_cmd, env)
        identities += parse_identities(_decode_key_text(output, source), source=source)

    config_dir = user_config_dir(env, home=home, platform=platform)
    if config_dir is not None:
        default = os.path.join(config_dir, "sops", "age", "keys.txt")
        try:
            with open(default, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            pass
        except OSError as error:
            raise InputError(
                f"cannot read the default age key file {default} ({error.strerror})",
                where=str(default),
                hint="fix its permissions or remove it",
            ) from None
        else:
            identities += parse_identities(_decode_key_text(raw, default), source=default)
    return identities
