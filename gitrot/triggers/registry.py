"""Find a trigger type: gitrot's own (``command``, ``webhook``) or one another package
registers under the entry-point group ``gitrot.triggers``::

    [project.entry-points."gitrot.triggers"]
    pagerduty = "acme_gitrot.triggers:PagerDutyTrigger"

The entry point names a class (or callable) taking ``(name, options, environ)`` and
returning a :class:`~gitrot.triggers.base.Trigger`; it may have a ``check_options(name,
options)`` attribute (a static or class method) that raises a ConfigError for options it
refuses, which ``gitrot validate`` and ``check`` then call without creating a trigger.
Only the type a configuration names is imported; the built-in types are found without
reading any entry point, and another package cannot replace them. Every problem is a
:class:`~gitrot.errors.ConfigError` (exit 2).

:func:`check_trigger` is the one check of a trigger's type and options: the loader of
gitrot.yaml calls it (so ``validate`` and ``check`` refuse at ``gitrot.yaml:LINE:COL``
what the reconciler would), and :func:`open_trigger` does the same checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gitrot.core.ports import Trigger
from gitrot.errors import ConfigError
from gitrot.plugins import entry_points, load_target
from gitrot.triggers.options import OptionError, plugin_options

GROUP = "gitrot.triggers"
BUILTIN = ("command", "webhook")
_HINT = "a trigger type is a class taking (name, options, environ) with fire(delivery)"


def check_trigger(name: str, type_: str, options: Mapping[str, object]) -> None:
    """Refuse (OptionError, or the plugin's ConfigError) a type gitrot cannot run or an
    option its trigger would refuse; nothing is created and no environment read."""
    if type_ == "command":
        from gitrot.triggers import command

        command.check(name, options)
        return
    if type_ == "webhook":
        from gitrot.triggers import webhook

        webhook.check(name, options)
        return
    dist, target = _find(name, type_)
    factory = _load(target, f"entry point {GROUP}: {type_} = {target} ({dist})")
    plugin_options("triggers", name, type_, dist, factory, options)


def open_trigger(
    name: str,
    type_: str,
    options: Mapping[str, object],
    environ: Mapping[str, str],
    *,
    root: str,
) -> Trigger:
    """The trigger ``triggers.<name>`` of gitrot.yaml; ``root`` is the policy repository's
    root (a command's ``cwd`` is relative to it), ``environ`` where credentials come from."""
    if type_ == "command":
        from gitrot.triggers.command import CommandTrigger

        return CommandTrigger(name, options, environ, root=root)
    if type_ == "webhook":
        from gitrot.triggers.webhook import WebhookTrigger

        return WebhookTrigger(name, options, environ)
    check_trigger(name, type_, options)
    dist, target = _find(name, type_)
    return _create(
        name, options, environ, target, f"entry point {GROUP}: {type_} = {target} ({dist})"
    )


def _find(name: str, type_: str) -> tuple[str, str]:
    """``(distribution, "module:attr")`` of an installed type, or an OptionError."""
    found = installed_types()
    if type_ not in found:
        known = sorted({*BUILTIN, *found})
        raise OptionError(
            f"triggers.{name}.type {type_!r} is not a trigger type gitrot knows",
            option="type",
            hint=f"use one of: {', '.join(known)} (others come from installed plugins)",
        )
    return found[type_]


def installed_types(path: list[str] | None = None) -> dict[str, tuple[str, str]]:
    """``{type: (distribution, "module:attr")}`` registered by other packages (gitrot's own
    entries are the built-ins); two distributions claiming one type is an error."""
    found: dict[str, tuple[str, str]] = {}
    for dist, type_, target in entry_points(GROUP, path):
        if dist == "gitrot" or type_ in BUILTIN:
            continue
        if type_ in found and found[type_][0] != dist:
            raise ConfigError(
                f"trigger type {type_!r} is registered by both {found[type_][0]} and {dist}",
                where=f"entry points {GROUP}",
                hint="uninstall one of the two packages",
            )
        found.setdefault(type_, (dist, target))
    return found


def _load(target: str, where: str) -> Callable[..., Any]:
    try:
        factory = load_target(target)
    except Exception as exc:
        raise ConfigError(
            f"cannot load the trigger type ({type(exc).__name__}: {exc})", where=where, hint=_HINT
        ) from None
    if not callable(factory):
        raise ConfigError("the entry point is not a class or callable", where=where, hint=_HINT)
    result: Callable[..., Any] = factory
    return result


def _create(
    name: str, options: Mapping[str, object], environ: Mapping[str, str], target: str, where: str
) -> Trigger:
    factory = _load(target, where)
    try:
        trigger = factory(name, dict(options), environ)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"cannot create trigger {name!r} ({type(exc).__name__}: {exc})", where=where, hint=_HINT
        ) from None
    if not callable(getattr(trigger, "fire", None)):
        raise ConfigError(f"trigger {name!r} has no fire(delivery)", where=where, hint=_HINT)
    result: Trigger = trigger
    return result
