"""Entry-point discovery: what other installed packages register with gitrot.

Four groups (docs/architecture.md, "Plugin interfaces"): :data:`RULES` (Python policy
rules, :mod:`gitrot.policy.python_rules`), :data:`BACKENDS` (:mod:`gitrot.backends.registry`),
:data:`TRIGGERS` (:mod:`gitrot.triggers.registry`) and :data:`ROTATORS`
(:mod:`gitrot.rotators.registry`). Entry points are found by reading
the ``entry_points.txt`` of the installed distributions directly: ``importlib.metadata``
costs 60-100 ms to import, more than the whole pre-commit hook may take. Only the target a
configuration names is imported (:func:`load_target`).

:class:`TypeRegistry` is the one lookup of a configured plugin type that backends and
rotators share: gitrot's own types, those other packages register, the error when a type
is unknown, registered twice or does not load.

Imports: the standard library and gitrot.errors.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from gitrot.errors import ConfigError, GitrotError

RULES = "gitrot.rules"
BACKENDS = "gitrot.backends"
TRIGGERS = "gitrot.triggers"
ROTATORS = "gitrot.rotators"
GROUPS = (RULES, BACKENDS, TRIGGERS, ROTATORS)


def entry_points(group: str, path: list[str] | None = None) -> list[tuple[str, str, str]]:
    """``(distribution, name, "module:attr")`` of every entry point in ``group``, reading the
    ``entry_points.txt`` of each ``*.dist-info``/``*.egg-info`` on ``path`` (``sys.path``);
    the first distribution of a name wins, as in importlib.metadata."""
    header = f"[{group}]"
    seen: set[str] = set()
    found: list[tuple[str, str, str]] = []
    for base in sys.path if path is None else path:
        try:
            names = sorted(os.listdir(base or "."))
        except OSError:
            continue
        for folder in names:
            if not folder.endswith((".dist-info", ".egg-info")):
                continue
            dist = folder.rpartition(".")[0].partition("-")[0].lower().replace("_", "-")
            if dist in seen:
                continue
            seen.add(dist)
            try:
                with open(os.path.join(base, folder, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                continue
            if header in text:
                found.extend((dist, name, target) for name, target in section(text, header))
    return found


def section(text: str, header: str) -> list[tuple[str, str]]:
    """``(name, "module:attr")`` of the entries under ``header`` (``[group]``) in the text of
    an ``entry_points.txt``; extras (``[extra]`` after the target) are dropped."""
    entries: list[tuple[str, str]] = []
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            inside = line == header
            continue
        if inside and "=" in line:
            name, _, target = line.partition("=")
            entries.append((name.strip(), target.split("[")[0].strip()))
    return entries


def load_target(target: str) -> object:
    """The object an entry point names (``module:attr.attr``); any import error raised."""
    module_name, _, attribute = target.partition(":")
    obj: object = importlib.import_module(module_name.strip())
    for part in attribute.strip().split(".") if attribute.strip() else ():
        obj = getattr(obj, part)
    return obj


class TypeRegistry:
    """The types of one plugin ``group`` configured under gitrot.yaml's ``section``
    (``backends``, ``rotators``): gitrot's ``builtin`` ``{type: "module:attr"}`` and what
    installed packages register. ``noun`` names one in messages ("backend"); with
    ``final_builtins`` a package cannot claim a built-in type (it is simply gitrot's),
    otherwise such a claim is a conflict; ``type_field`` is appended to the place an
    unknown type is reported at (".type")."""

    def __init__(
        self,
        group: str,
        section: str,
        noun: str,
        builtin: Mapping[str, str],
        *,
        final_builtins: bool = False,
        type_field: str = "",
    ) -> None:
        self.group = group
        self.section = section
        self.noun = noun
        self.builtin = builtin
        self.final_builtins = final_builtins
        self.type_field = type_field

    def installed(self) -> dict[str, str]:
        """Every type available, built-in or registered: ``{type: distribution}``."""
        found = dict.fromkeys(self.builtin, "gitrot")
        for dist, name, _target in entry_points(self.group):
            found.setdefault(name, dist)
        return dict(sorted(found.items()))

    def find(self, name: str, type_: str) -> tuple[str, str]:
        """``(distribution, "module:attr")`` of ``type_``, or a ConfigError: unknown, or
        registered by more than one distribution."""
        if self.final_builtins and type_ in self.builtin:
            return "gitrot", self.builtin[type_]
        claims = {(d, target) for d, entry, target in entry_points(self.group) if entry == type_}
        if type_ in self.builtin:
            claims.add(("gitrot", self.builtin[type_]))  # gitrot's own entry point: one pair
        if len(claims) > 1:
            owners = ", ".join(sorted(f"{target} ({dist})" for dist, target in claims))
            raise ConfigError(
                f"{self.section}.{name}: {self.noun} type {type_!r} is registered more than "
                f"once: {owners}",
                hint=f"uninstall all but one of the packages registering {type_!r} in {self.group}",
            )
        if claims:
            return claims.pop()
        known = ", ".join(self.installed())
        raise ConfigError(
            f"{self.section}.{name}{self.type_field}: unknown {self.noun} type {type_!r} "
            f"(installed: {known})",
            hint=f"use one of them, or install a package that registers {type_!r} in {self.group}",
        )

    def load(self, name: str, target: str, where: str) -> Callable[..., Any]:
        """The callable ``target`` names (``where`` describes it in errors), or a
        ConfigError; what it returns is the caller's to check."""
        try:
            obj = load_target(target)
        except Exception as exc:
            raise ConfigError(
                f"{self.section}.{name}: cannot load {where} ({type(exc).__name__}: {exc})",
                hint="reinstall the package that provides it, or choose another type",
            ) from None
        if not callable(obj):
            raise ConfigError(
                f"{self.section}.{name}: {where} is not a class or callable",
                hint="the entry point must name a class taking (name, options, context)",
            )
        return obj

    def start(
        self,
        name: str,
        factory: Callable[..., Any],
        args: tuple[object, ...],
        *,
        where: str,
        dist: str,
        methods: tuple[str, ...],
        protocol: str,
    ) -> Any:
        """``factory(*args)``, whose result must have callable ``methods``; a factory that
        raises something other than a GitrotError is a ConfigError naming ``dist``."""
        try:
            made = factory(*args)
        except GitrotError:
            raise
        except Exception as exc:
            raise ConfigError(
                f"{self.section}.{name}: {where} failed to start ({type(exc).__name__}: {exc})",
                hint=f"check the options of {self.section}.{name} against the documentation "
                f"of {dist}",
            ) from exc
        missing = [method for method in methods if not callable(getattr(made, method, None))]
        if missing:
            raise ConfigError(
                f"{self.section}.{name}: {where} is not a {self.noun} (no {', '.join(missing)})",
                hint=f"a {self.noun} implements {protocol}",
            )
        return made

    def require_sdk(self, name: str, type_: str, extras: Mapping[str, tuple[str, str]]) -> None:
        """A ConfigError (exit 2) when the SDK of one of gitrot's own types is not
        installed, naming the extra that installs it (``extras``: type -> (extra, module))."""
        if type_ not in extras:
            return
        from importlib.util import find_spec

        extra, module = extras[type_]
        try:
            found = find_spec(module) is not None
        except ModuleNotFoundError:  # a parent package (google.cloud) is missing
            found = False
        if not found:
            raise ConfigError(
                f"{self.section}.{name}: {self.noun} type {type_!r} needs "
                f"{module.split('.')[0]}, which is not installed",
                hint=f"install gitrot with its {extra} extra: pip install 'gitrot[{extra}]'",
            )
