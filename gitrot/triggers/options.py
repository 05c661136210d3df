"""Checks of a plugin's options (its mapping in gitrot.yaml, without ``type``).

Each problem is an :class:`OptionError` (a :class:`~gitrot.errors.ConfigError` at
``gitrot.yaml``) that names the option as ``triggers.<name>.<option>`` and says what would
be accepted; its ``option`` lets the loader point at the option's line and column. Messages
repeat numbers and names, never a string that could be a credential.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from gitrot.core.durations import parse_duration
from gitrot.core.layout import CONFIG_FILE
from gitrot.errors import ConfigError

WHERE = CONFIG_FILE
MAX_SECONDS = 24 * 3600.0  # a trigger that needs longer than a day is a typo
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: variables a command trigger's ``env`` may not pass on: gitrot's own credentials (its age
#: identity, the backends' and cloud tokens, the webhook keys kept in GITROT_*) and any
#: name that says it holds one
REFUSED_ENV = re.compile(
    r"(?i)(SOPS_.*|GITROT_.*|VAULT_TOKEN|VAULT_.*TOKEN.*|AWS_.*SECRET.*|AWS_SESSION_TOKEN|"
    r"AWS_SECURITY_TOKEN|GOOGLE_APPLICATION_CREDENTIALS|AZURE_CLIENT_SECRET|"
    r"SSH_AUTH_SOCK|GPG_AGENT_INFO|GNUPGHOME|"
    r".*(?:TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|API_KEY|ACCESS_KEY).*)"
)


class OptionError(ConfigError):
    """A refused option of ``<section>.<plugin>``; ``option`` is the key to point at
    (``type`` for the type itself, empty for the plugin's mapping)."""

    def __init__(self, message: str, *, option: str = "", hint: str = "") -> None:
        super().__init__(message, where=WHERE, hint=hint)
        self.option = option


def plugin_options(  # noqa: PLR0917 - what names the plugin, then its options
    section: str, name: str, type_: str, dist: str, factory: object, options: Mapping[str, object]
) -> None:
    """Run an installed plugin's own ``check_options(name, options)`` hook, if it has one:
    its ConfigError stands (placed in gitrot.yaml), anything else it raises is a refusal of
    ``<section>.<name>`` that names the exception, never the options' values."""
    hook = getattr(factory, "check_options", None)
    if not callable(hook):
        return
    try:
        hook(name, dict(options))
    except ConfigError as exc:
        if not exc.where:
            exc.where = WHERE
        raise
    except Exception as exc:
        raise OptionError(
            f"{section}.{name}: {type_} refuses its options ({type(exc).__name__}: {exc})",
            hint=f"check the options of {section}.{name} against the documentation of {dist}",
        ) from None


def fail(
    trigger: str, option: str, message: str, hint: str = "", *, section: str = "triggers"
) -> OptionError:
    """The refusal of ``<section>.<trigger>.<option>`` (``section``: triggers, rotators)."""
    return OptionError(f"{section}.{trigger}.{option} {message}", option=option, hint=hint)


def argv(
    name: str, option: str, value: object, example: str, *, section: str = "triggers"
) -> list[str]:
    """``value`` as a command's argv (a non-empty list of strings, the program first and
    not empty; no shell), or the refusal of ``<section>.<name>.<option>`` with ``example``
    as its hint."""
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(part, str) for part in value)
        or not value[0]
    ):
        raise fail(
            name,
            option,
            "must list the command and its arguments (strings; no shell)",
            example,
            section=section,
        )
    return list(value)


def allow(
    trigger: str,
    kind: str,
    options: Mapping[str, object],
    known: tuple[str, ...],
    *,
    section: str = "triggers",
) -> None:
    """Refuse options the plugin type does not know: a misspelt ``timout`` must not
    silently leave the default in place."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise OptionError(
            f"{section}.{trigger}: unknown option {unknown[0]!r} for a {kind} "
            f"{section.rstrip('s')}",
            option=unknown[0],
            hint=f"a {kind} {section.rstrip('s')} takes: {', '.join(known)}",
        )


def seconds(
    trigger: str,
    options: Mapping[str, object],
    option: str,
    default: float,
    *,
    zero: bool = False,
    section: str = "triggers",
) -> float:
    """A number of seconds (``10``, ``0.5``) or a duration (``5m``); positive unless
    ``zero``, at most a day."""
    value = options.get(option, default)
    hint = "give a number of seconds (10, 0.5) or a duration like 30s or 5m"
    if isinstance(value, str):
        try:
            value = float(parse_duration(value))
        except ValueError as exc:
            raise fail(
                trigger, option, f"is not a duration: {exc}", hint, section=section
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(
            trigger, option, f"must be a number of seconds, got {value!r}", hint, section=section
        )
    if value < 0 or (value == 0 and not zero) or value > MAX_SECONDS:
        least = "0" if zero else "more than 0"
        raise fail(
            trigger,
            option,
            f"must be {least} and at most 1 day, got {value:g}s",
            hint,
            section=section,
        )
    return float(value)


def count(
    trigger: str, options: Mapping[str, object], option: str, default: int, *, maximum: int
) -> int:
    """A whole number from 0 to ``maximum``."""
    value = options.get(option, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise fail(trigger, option, f"must be a whole number from 0 to {maximum}, got {value!r}")
    return value


def env_name(trigger: str, options: Mapping[str, object], option: str) -> str:
    """The name of an environment variable (required)."""
    value = options.get(option)
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        shown = "nothing" if value is None else f"a {type(value).__name__}"
        if isinstance(value, str):
            shown = "a string that is not a variable name"
        raise fail(
            trigger,
            option,
            f"must name an environment variable, got {shown}",
            f"set {option}: to the variable that holds the credential, like GITROT_WEBHOOK_SECRET",
        )
    return value


def env_names(trigger: str, options: Mapping[str, object], option: str) -> tuple[str, ...]:
    """A list of environment variable names a command may get (default none); a name
    :data:`REFUSED_ENV` matches is refused: a trigger never gets gitrot's credentials."""
    value = options.get(option, [])
    hint = "list variable names, like env: [DEPLOY_TARGET, KUBECONFIG]"
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fail(trigger, option, "must be a list of environment variable names", hint)
    for item in value:
        if not _ENV_NAME.fullmatch(item):
            raise fail(trigger, option, "holds a string that is not a variable name", hint)
        if REFUSED_ENV.fullmatch(item):
            raise fail(
                trigger,
                option,
                f"must not pass {item} to a command: it is (or looks like) a credential",
                "a command trigger runs without gitrot's identity, tokens and cloud "
                "credentials; give the consumer its own (or use a webhook)",
            )
    return tuple(dict.fromkeys(value))
