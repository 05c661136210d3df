"""Entry-point discovery: what other installed packages register with gitrot.

Four groups (docs/architecture.md, "Plugin interfaces"): :data:`RULES` (Python policy
rules, :mod:`gitrot.policy.python_rules`), :data:`BACKENDS` (:mod:`gitrot.backends.registry`),
:data:`TRIGGERS` (:mod:`gitrot.triggers.registry`) and :data:`ROTATORS`
(:mod:`gitrot.rotators.registry`). Entry points are found by reading
the ``entry_points.txt`` of the installed distributions directly: ``importlib.metadata``
costs 60-100 ms to import, more than the whole pre-commit hook may take. Only the target a
configuration names is imported (:func:`load_target`).

Imports: the standard library only.
"""

from __future__ import annotations

import importlib
import os
import sys

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
