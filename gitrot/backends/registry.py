"""Backend types: gitrot's own ``local``, and those other packages register.

A package adds a backend type through the entry-point group ``gitrot.backends``::

    [project.entry-points."gitrot.backends"]
    consul = "acme_gitrot.consul:ConsulBackend"

The entry point names a class (or callable) taking ``(name, options, context)`` (see
:mod:`gitrot.backends.base`). Entry points are found by reading ``entry_points.txt``
directly (:func:`gitrot.plugins.entry_points`), and only the type a configuration
names is imported. Two distributions registering one type is an error, never a silent pick.

:func:`check_backend` is the one check of a backend's type and options: the loader of
gitrot.yaml calls it (so ``validate`` and ``check`` refuse at ``gitrot.yaml:LINE:COL``
what the reconciler would), and :func:`open_backend` makes the same checks. A registered
type may give its factory a ``check_options(name, options)`` attribute (a static or class
method raising a ConfigError) for the loader to call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gitrot.core.ports import Backend, BackendContext
from gitrot.errors import ConfigError
from gitrot.plugins import TypeRegistry
from gitrot.triggers.options import OptionError, plugin_options

_Factory = Callable[[str, Mapping[str, object], BackendContext], object]

GROUP = "gitrot.backends"
BUILTIN = {
    "local": "gitrot.backends.local:LocalBackend",
    "vault": "gitrot.backends.vault:VaultBackend",
    "aws-secrets-manager": "gitrot.backends.aws:AwsSecretsManagerBackend",
    "gcp-secret-manager": "gitrot.backends.gcp:GcpSecretManagerBackend",
}
#: the optional extra each of gitrot's own secret managers needs, and the SDK module it
#: installs: ``pip install 'gitrot[vault]'``
EXTRAS = {
    "vault": ("vault", "hvac"),
    "aws-secrets-manager": ("aws", "boto3"),
    "gcp-secret-manager": ("gcp", "google.cloud.secretmanager_v1"),
}
_METHODS = ("current", "get", "write", "read", "close")


def check_backend(name: str, type_: str, options: Mapping[str, object]) -> None:
    """Refuse (OptionError, or the plugin's ConfigError) a type nobody provides or options
    the backend would refuse; nothing is opened (a missing SDK is found when it opens)."""
    if type_ == "local":
        from gitrot.backends.local import check_options

        check_options(name, options)
        return
    try:
        dist, target = _find(name, type_)
    except ConfigError as exc:
        raise _at_type(exc) from None
    factory = _load(name, target, f"backend type {type_!r} ({target}, from {dist})")
    plugin_options("backends", name, type_, dist, factory, options)


def _at_type(exc: ConfigError) -> ConfigError:
    return OptionError(exc.message, option="type", hint=exc.hint)


def open_backend(
    name: str, type_: str, options: Mapping[str, object], context: BackendContext
) -> Backend:
    """An open backend of type ``type_`` for ``backends.<name>`` in gitrot.yaml.

    ConfigError (exit 2) for a type nobody provides, one two packages claim, one that fails
    to import or to start, or an object that is not a backend. The backend's own errors
    (:class:`~gitrot.backends.base.BackendError`, a ConfigError for its options) pass through.
    """
    dist, target = _find(name, type_)
    where = f"backend type {type_!r} ({target}, from {dist})"
    factory = _load(name, target, where)
    _require_sdk(name, type_)
    if type_ not in BUILTIN:
        check_backend(name, type_, options)
    backend = TYPES.start(
        name,
        factory,
        (name, options, context),
        where=where,
        dist=dist,
        methods=_METHODS,
        protocol="gitrot.backends.base.Backend",
    )
    return backend  # type: ignore[no-any-return]  # its methods are checked by start


def _require_sdk(name: str, type_: str) -> None:
    TYPES.require_sdk(name, type_, EXTRAS)


TYPES = TypeRegistry(GROUP, "backends", "backend", BUILTIN, final_builtins=False, type_field="")


def installed_types() -> dict[str, str]:
    """Every type available, built-in or registered: ``{type: distribution}``."""
    return TYPES.installed()


def _find(name: str, type_: str) -> tuple[str, str]:
    return TYPES.find(name, type_)


def _load(name: str, target: str, where: str) -> _Factory:
    return TYPES.load(name, target, where)
