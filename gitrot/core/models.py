"""The policy repository as data: rotation intents and the configuration (docs/architecture.md).

Pure: no I/O, no clock, no environment. :mod:`gitrot.files.repo` is the one place that builds
these objects from files; it checks every rule with a file location first, so the
ValueErrors raised here are a backstop for code that builds models by hand (tests, commands).
Plain classes with ``__slots__``: this module is on the pre-commit hook's start-up path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gitrot.core.layout import SEALED_SUFFIX, in_secrets, intent_path, is_encrypted, sealed_path

API_VERSION = "gitrot/v1"
MAX_NAME_LENGTH = 200
MIN_GENERATED_LENGTH = 8
MAX_GENERATED_LENGTH = 4096
DEFAULT_ALPHABET = "A-Za-z0-9"

_SEGMENT = re.compile(r"[a-z0-9][a-z0-9._-]*")


def is_valid_name(name: str) -> bool:
    """Lowercase ``[a-z0-9][a-z0-9._-]*`` segments joined by ``/``; at most 200 characters.

    No empty segment, no leading or trailing ``/``, no ``..`` anywhere: a name is a path
    under ``secrets/`` and must never leave it.
    """
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH or ".." in name:
        return False
    return all(_SEGMENT.fullmatch(segment) for segment in name.split("/"))


def expand_alphabet(spec: str) -> str:
    """The characters of an alphabet spec like ``A-Za-z0-9-_!#%`` (ranges ``X-Y``), sorted.

    A ``-`` is literal at the start, at the end, or right after a range. Only printable
    ASCII other than space is allowed; ValueError otherwise or for a reversed range.
    """
    chars: set[str] = set()
    i, n = 0, len(spec)
    while i < n:
        ch = spec[i]
        if not "!" <= ch <= "~":
            raise ValueError(f"alphabet character {ch!r} is not printable ASCII")
        if i + 2 < n and spec[i + 1] == "-":
            end = spec[i + 2]
            if not "!" <= end <= "~" or end < ch:
                raise ValueError(f"alphabet range {ch}-{end} is not valid")
            chars.update(chr(c) for c in range(ord(ch), ord(end) + 1))
            i += 3
            continue
        chars.add(ch)
        i += 1
    if len(chars) < 2:
        raise ValueError("an alphabet needs at least two characters")
    return "".join(sorted(chars))


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Model:
    """Equality and repr over ``__slots__``; ``_lines`` and friends are not compared."""

    __slots__ = ()
    _compare: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._compare)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._values() == self._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *(repr(v) for v in self._values())))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._compare)
        return f"{type(self).__name__}({fields})"


class GeneratedValue(_Model):
    """``spec.value.generate``: the reconciler generates ``length`` characters of ``alphabet``."""

    __slots__ = ("alphabet", "length")
    _compare = ("length", "alphabet")

    def __init__(self, length: int, alphabet: str = DEFAULT_ALPHABET) -> None:
        _check(
            _is_int(length) and MIN_GENERATED_LENGTH <= length <= MAX_GENERATED_LENGTH,
            f"generate.length must be an integer from {MIN_GENERATED_LENGTH} "
            f"to {MAX_GENERATED_LENGTH}",
        )
        _check(isinstance(alphabet, str), "generate.alphabet must be a string")
        expand_alphabet(alphabet)
        self.length = length
        self.alphabet = alphabet

    def characters(self) -> str:
        """The alphabet with its ranges expanded."""
        return expand_alphabet(self.alphabet)


class SealedValue(_Model):
    """``spec.value.sealed``: a value supplied by a person, sealed in its own SOPS document.

    ``path`` is repo-relative (``secrets/<name>.v<N>.sealed.yaml``); the YAML field holds it
    relative to ``secrets/``.
    """

    __slots__ = ("path",)
    _compare = ("path",)

    def __init__(self, path: str) -> None:
        _check(
            isinstance(path, str)
            and in_secrets(path)
            and path.endswith(SEALED_SUFFIX)
            and ".." not in path,
            f"sealed path {path!r} is not secrets/<name>.v<N>.sealed.yaml",
        )
        self.path = path


class Encryption(_Model):
    """What an intent's ``sops:`` block says about its encryption (never a key or a value).

    ``recipients`` are the age recipients of every key group, in order; ``selector`` is the
    sops selector as ``(kind, value)``, e.g. ``("encrypted_regex", "^ref$")``; ``foreign``
    names master-key types other than age (pgp, kms...).
    """

    __slots__ = ("foreign", "key_groups", "mac_only_encrypted", "recipients", "selector")
    _compare = ("recipients", "key_groups", "selector", "mac_only_encrypted", "foreign")

    def __init__(
        self,
        *,
        recipients: tuple[str, ...] | list[str],
        selector: tuple[str, str],
        mac_only_encrypted: bool,
        key_groups: int = 1,
        foreign: tuple[str, ...] = (),
    ) -> None:
        self.recipients = tuple(recipients)
        self.key_groups = key_groups
        self.selector = selector
        self.mac_only_encrypted = mac_only_encrypted
        self.foreign = tuple(foreign)


class RotationIntent(_Model):
    """One ``secrets/<name>.yaml``. ``ref`` is the ENC[...] text, never decrypted here."""

    __slots__ = (
        "_lines",
        "backend",
        "consumers",
        "emergency",
        "encryption",
        "environment",
        "labels",
        "name",
        "owner",
        "path",
        "reason",
        "ref",
        "retired",
        "rotation_class",
        "rotator",
        "value",
        "version",
    )
    _compare = (
        "name",
        "owner",
        "environment",
        "rotation_class",
        "labels",
        "version",
        "reason",
        "emergency",
        "backend",
        "ref",
        "value",
        "consumers",
        "path",
        "retired",
        "encryption",
        "rotator",
    )

    def __init__(
        self,
        *,
        name: str,
        owner: str,
        rotation_class: str,
        version: int,
        reason: str,
        backend: str,
        ref: str,
        value: GeneratedValue | SealedValue,
        environment: str | None = None,
        labels: Mapping[str, str] | None = None,
        emergency: bool = False,
        retired: bool = False,
        consumers: tuple[str, ...] | list[str] = (),
        path: str | None = None,
        lines: Mapping[str, tuple[int, int]] | None = None,
        encryption: Encryption | None = None,
        rotator: str | None = None,
    ) -> None:
        _check(is_valid_name(name), f"invalid intent name {name!r}")
        _check(_is_int(version) and version >= 1, "version must be an integer >= 1")
        for field, text in (("owner", owner), ("class", rotation_class), ("backend", backend)):
            _check(isinstance(text, str) and bool(text), f"{field} must be a non-empty string")
        _check(isinstance(reason, str) and bool(reason.strip()), "reason must not be empty")
        _check(is_encrypted(ref), "ref is not encrypted")
        _check(isinstance(value, (GeneratedValue, SealedValue)), "value must be generate/sealed")
        if isinstance(value, SealedValue):
            _check(
                value.path == sealed_path(name, version),
                f"sealed value must be {sealed_path(name, version)}",
            )
        _check(environment is None or (isinstance(environment, str) and bool(environment)),
               "environment must be a non-empty string")  # fmt: skip
        _check(isinstance(emergency, bool), "emergency must be a boolean")
        _check(isinstance(retired, bool), "retired must be a boolean")
        _check(rotator is None or (isinstance(rotator, str) and bool(rotator)),
               "source.rotator must be a non-empty string")  # fmt: skip
        labels = dict(labels or {})
        _check(
            all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()),
            "labels must map strings to strings",
        )
        consumers = tuple(consumers)
        _check(all(isinstance(c, str) and c for c in consumers), "consumers must be names")
        _check(len(set(consumers)) == len(consumers), "consumers must not repeat")
        path = intent_path(name) if path is None else path
        _check(path == intent_path(name), f"intent {name!r} must live at {intent_path(name)}")
        self.name = name
        self.owner = owner
        self.environment = environment
        self.rotation_class = rotation_class
        self.labels: dict[str, str] = labels
        self.version = version
        self.reason = reason
        self.emergency = emergency
        self.retired = retired
        self.backend = backend
        self.ref = ref
        self.value = value
        self.consumers: tuple[str, ...] = consumers
        self.path = path
        self._lines: dict[str, tuple[int, int]] = dict(lines or {})
        self.encryption = encryption
        # spec.source.rotator: the rotators.<name> of gitrot.yaml that changes the
        # credential at its source (two-phase apply); None: written = current
        self.rotator = rotator

    def position(self, field_path: str) -> tuple[int, int]:
        """(line, column) of a field like ``spec.version``, else of its nearest parent.

        (0, 0) when unknown (a model built by hand). Both are 1-based.
        """
        while field_path:
            found = self._lines.get(field_path)
            if found is not None:
                return found
            field_path = field_path.rpartition(".")[0]
        return (0, 0)

    def line_of(self, field_path: str) -> int:
        """The source line of ``field_path`` (or its nearest parent); 0 when unknown."""
        return self.position(field_path)[0]

    def column_of(self, field_path: str) -> int:
        return self.position(field_path)[1]


class BackendConfig(_Model):
    """``backends.<name>``: ``type`` and the type's options (plain data, no credentials)."""

    __slots__ = ("name", "options", "type")
    _compare = ("name", "type", "options")

    def __init__(self, name: str, type: str, options: Mapping[str, object] | None = None) -> None:
        _check(isinstance(name, str) and bool(name), "backend name must not be empty")
        _check(isinstance(type, str) and bool(type), "backend type must not be empty")
        self.name = name
        self.type = type
        self.options: dict[str, object] = dict(options or {})


class TriggerConfig(_Model):
    """``triggers.<name>``: ``type`` (webhook, command, github) and its options."""

    __slots__ = ("name", "options", "type")
    _compare = ("name", "type", "options")

    def __init__(self, name: str, type: str, options: Mapping[str, object] | None = None) -> None:
        _check(isinstance(name, str) and bool(name), "trigger name must not be empty")
        _check(isinstance(type, str) and bool(type), "trigger type must not be empty")
        self.name = name
        self.type = type
        self.options: dict[str, object] = dict(options or {})


class RotatorConfig(_Model):
    """``rotators.<name>``: ``type`` (postgres, command, a plugin's) and its options."""

    __slots__ = ("name", "options", "type")
    _compare = ("name", "type", "options")

    def __init__(self, name: str, type: str, options: Mapping[str, object] | None = None) -> None:
        _check(isinstance(name, str) and bool(name), "rotator name must not be empty")
        _check(isinstance(type, str) and bool(type), "rotator type must not be empty")
        self.name = name
        self.type = type
        self.options: dict[str, object] = dict(options or {})


class RotationClass(_Model):
    """``classes.<name>``: limits in seconds (None: no limit) and an optional source plugin."""

    __slots__ = ("max_age", "min_interval", "name", "source")
    _compare = ("name", "max_age", "min_interval", "source")

    def __init__(
        self,
        name: str,
        max_age: int | None = None,
        min_interval: int | None = None,
        source: str | None = None,
    ) -> None:
        _check(isinstance(name, str) and bool(name), "class name must not be empty")
        for field, seconds in (("max_age", max_age), ("min_interval", min_interval)):
            _check(seconds is None or (_is_int(seconds) and seconds >= 0), f"bad {field}")
        if max_age is not None and min_interval is not None:
            _check(min_interval <= max_age, "min_interval is longer than max_age")
        _check(source is None or (isinstance(source, str) and bool(source)), "bad source")
        self.name = name
        self.max_age = max_age
        self.min_interval = min_interval
        self.source = source


class Freeze(_Model):
    """A change freeze from ``start`` to ``end`` inclusive (ISO dates, ``YYYY-MM-DD``).

    ``environments`` empty means every environment.
    """

    __slots__ = ("end", "environments", "reason", "start")
    _compare = ("start", "end", "environments", "reason")

    def __init__(
        self, start: str, end: str, environments: tuple[str, ...] = (), reason: str = ""
    ) -> None:
        _check(_is_date(start) and _is_date(end), "freeze dates must be YYYY-MM-DD")
        _check(start <= end, "a freeze must not end before it starts")
        self.start = start
        self.end = end
        self.environments = tuple(environments)
        self.reason = reason


_DATE = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")


def _is_date(text: object) -> bool:
    return isinstance(text, str) and _DATE.fullmatch(text) is not None


DEFAULT_MAX_WAIVER_DAYS = 90


class AuditSettings(_Model):
    """``audit:`` in gitrot.yaml: the allowed-signers file (relative to the policy root)
    ``gitrot audit`` checks SSH signatures against, whether ``--verify`` requires every
    commit of the ledger to be signed (GOOD), and the main branch the ledger follows."""

    __slots__ = ("allowed_signers", "main", "require_signatures")
    _compare = __slots__

    def __init__(
        self,
        *,
        allowed_signers: str | None = None,
        require_signatures: bool = False,
        main: str | None = None,
    ) -> None:
        self.allowed_signers = allowed_signers
        self.require_signatures = require_signatures
        self.main = main


class Config(_Model):
    """``gitrot.yaml``."""

    __slots__ = (
        "audit",
        "backends",
        "classes",
        "freezes",
        "max_waiver_days",
        "owners",
        "policy_paths",
        "recipients",
        "rotators",
        "signing_key",
        "triggers",
        "waiver_approvers",
        "waivers_path",
    )
    _compare = __slots__

    def __init__(
        self,
        *,
        recipients: Mapping[str, str],
        backends: Mapping[str, BackendConfig] | None = None,
        triggers: Mapping[str, TriggerConfig] | None = None,
        classes: Mapping[str, RotationClass] | None = None,
        freezes: tuple[Freeze, ...] | list[Freeze] = (),
        policy_paths: tuple[str, ...] | list[str] = ("policies/",),
        waivers_path: str | None = "waivers.yaml",
        owners: tuple[str, ...] | list[str] = (),
        waiver_approvers: tuple[str, ...] | list[str] = (),
        max_waiver_days: int = DEFAULT_MAX_WAIVER_DAYS,
        signing_key: str | None = None,
        rotators: Mapping[str, RotatorConfig] | None = None,
        audit: AuditSettings | None = None,
    ) -> None:
        self.recipients: dict[str, str] = dict(recipients)
        self.audit = audit or AuditSettings()
        self.backends: dict[str, BackendConfig] = dict(backends or {})
        self.triggers: dict[str, TriggerConfig] = dict(triggers or {})
        self.rotators: dict[str, RotatorConfig] = dict(rotators or {})
        self.classes: dict[str, RotationClass] = dict(classes or {})
        for kind, table in (("backend", self.backends), ("trigger", self.triggers),
                            ("class", self.classes), ("rotator", self.rotators)):  # fmt: skip
            for key, item in table.items():
                _check(item.name == key, f"{kind} {key!r} holds an item named {item.name!r}")
        self.freezes: tuple[Freeze, ...] = tuple(freezes)
        self.policy_paths: tuple[str, ...] = tuple(policy_paths)
        self.waivers_path = waivers_path
        # logins (compared case-insensitively) whose approval a change to the policy needs
        self.owners: tuple[str, ...] = tuple(owners)
        # logins who may approve a waiver (never the pull request's author)
        self.waiver_approvers: tuple[str, ...] = tuple(waiver_approvers)
        _check(_is_int(max_waiver_days) and max_waiver_days > 0, "max_waiver_days must be > 0")
        self.max_waiver_days = max_waiver_days
        # the reconciler's public Ed25519 key ("ssh-ed25519 AAAA..."): signs refs/gitrot/state
        self.signing_key = signing_key
