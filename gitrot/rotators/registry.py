"""Rotator types: gitrot's own ``command`` and ``postgres``, and those other packages register.

A package adds a rotator type through the entry-point group ``gitrot.rotators``::

    [project.entry-points."gitrot.rotators"]
    mysql = "acme_gitrot.mysql:MySqlRotator"

The entry point names a class (or callable) taking ``(name, options, context)``
(:class:`~gitrot.core.ports.RotatorContext`) and returning a
:class:`~gitrot.core.ports.Rotator`. Entry points are read from ``entry_points.txt``
directly (:func:`gitrot.plugins.entry_points`), and only the type a configuration names is
imported. Two distributions registering one type is an error, never a silent pick.

:func:`check_rotator` is the one check of a rotator's type and options: the loader of
gitrot.yaml calls it (so ``validate`` and ``check`` refuse at ``gitrot.yaml:LINE:COL``
what the reconciler would), and :func:`open_rotator` makes the same checks. gitrot's own
rotator modules have a module-level ``check_options(name, options)``; a registered type may
give its factory a ``check_options`` attribute (a static or class method raising a
ConfigError) for the loader to call. A missing SDK (``psycopg`` for ``postgres``) is found
when the rotator opens: a ConfigError (exit 2) naming the extra that installs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gitrot import plugins
from gitrot.core.ports import Rotator, RotatorContext
from gitrot.errors import ConfigError
from gitrot.plugins import TypeRegistry
from gitrot.triggers.options import OptionError, plugin_options

_Factory = Callable[[str, Mapping[str, object], RotatorContext], object]

GROUP = plugins.ROTATORS
BUILTIN = {
    "postgres": "gitrot.rotators.postgres:PostgresRotator",
    "command": "gitrot.rotators.command:CommandRotator",
}
#: the optional extra each of gitrot's own rotators needs, and the SDK module it installs:
#: ``pip install 'gitrot[postgres]'``
EXTRAS = {"postgres": ("postgres", "psycopg")}
_METHODS = ("prepare", "set", "test", "close")


def check_rotator(name: str, type_: str, options: Mapping[str, object]) -> None:
    """Refuse (OptionError, or the rotator's ConfigError) a type nobody provides or options
    the rotator would refuse; nothing is opened and no SDK imported."""
    try:
        dist, target = _find(name, type_)
    except ConfigError as exc:
        raise OptionError(exc.message, option="type", hint=exc.hint or "") from None
    where = f"rotator type {type_!r} ({target}, from {dist})"
    if type_ in BUILTIN:
        module = target.partition(":")[0]
        check = _load(name, f"{module}:check_options", where)
        check(name, dict(options))  # type: ignore[call-arg]  # (name, options)
        return
    factory = _load(name, target, where)
    plugin_options("rotators", name, type_, dist, factory, options)


def open_rotator(
    name: str, type_: str, options: Mapping[str, object], context: RotatorContext
) -> Rotator:
    """An open rotator of type ``type_`` for ``rotators.<name>`` in gitrot.yaml, for the
    secret ``context.name``.

    ConfigError (exit 2) for a type nobody provides, one two packages claim, one whose SDK
    is not installed, one that fails to import or to start, or an object that is not a
    rotator. The rotator's own errors (RotatorError, a ConfigError for its options) pass
    through.
    """
    _require_sdk(name, type_)
    check_rotator(name, type_, options)
    dist, target = _find(name, type_)
    where = f"rotator type {type_!r} ({target}, from {dist})"
    factory = _load(name, target, where)
    rotator = TYPES.start(
        name,
        factory,
        (name, options, context),
        where=where,
        dist=dist,
        methods=_METHODS,
        protocol="gitrot.core.ports.Rotator",
    )
    return rotator  # type: ignore[no-any-return]  # its methods are checked by start


def _require_sdk(name: str, type_: str) -> None:
    TYPES.require_sdk(name, type_, EXTRAS)


TYPES = TypeRegistry(GROUP, "rotators", "rotator", BUILTIN, final_builtins=True, type_field=".type")


def installed_types() -> dict[str, str]:
    """Every type available, built-in or registered: ``{type: distribution}``."""
    return TYPES.installed()


def _find(name: str, type_: str) -> tuple[str, str]:
    return TYPES.find(name, type_)


def _load(name: str, target: str, where: str) -> _Factory:
    return TYPES.load(name, target, where)
