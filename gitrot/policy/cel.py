"""The one adapter to the CEL engine: ``compile(expr)`` and ``evaluate(program, activation)``.

The engine is the Rust ``cel`` crate through PyPI ``common-expression-language``. Its package
``__init__`` also imports a command-line shell (prompt_toolkit, ~400 ms), which a pre-commit
hook must not pay for, so the extension module ``cel/cel.cpython-*.so`` (~10 ms) is loaded
directly; ``import cel`` is the fallback when that file cannot be found. The module is loaded
on the first ``compile``: commands that run no rule never load it.

Semantics relied on (tests/policy/test_cel.py checks them): a missing map key is an error,
``has(a.b)`` is false for a missing key ``b``, ``size``, ``startsWith``, ``matches`` (RE2),
``in`` on maps (keys) and lists, ``all``/``exists`` macros, ``timestamp``/``duration``.
Engine exceptions become :class:`CelError` (an InputError: exit 2); callers add the place.
"""

from __future__ import annotations

from gitrot.errors import InputError

TYPE_CHECKING = False  # typing costs ~5 ms to import; mypy reads this name as True

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import ModuleType

    from cel.cel import Program

_engine: ModuleType | None = None


class CelError(InputError):
    """A CEL expression that does not compile, or that fails when evaluated."""


def engine() -> ModuleType:
    """The CEL extension module, loaded once."""
    global _engine  # noqa: PLW0603 - a lazily loaded module, like importlib's own caches
    if _engine is None:
        _engine = _load_extension()
    return _engine


def _load_extension() -> ModuleType:
    import sys

    loaded = sys.modules.get("cel.cel")
    if loaded is not None:
        return loaded
    try:
        # importlib.machinery is loaded at interpreter start; importlib.util costs ~5 ms
        import importlib.machinery
        import os

        spec = importlib.machinery.PathFinder.find_spec("cel")
        folders = list(spec.submodule_search_locations or ()) if spec is not None else []
        suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
        for folder in folders:
            for name in sorted(os.listdir(folder)):
                if name.startswith("cel.") and name.endswith(suffixes):
                    path = os.path.join(folder, name)
                    loader = importlib.machinery.ExtensionFileLoader("cel.cel", path)
                    found = importlib.machinery.ModuleSpec("cel.cel", loader, origin=path)
                    module = loader.create_module(found)
                    loader.exec_module(module)
                    return module
    except (ImportError, OSError):
        pass
    try:
        import cel.cel as module
    except ImportError:
        raise InputError(
            "the CEL engine is not installed",
            hint="install gitrot with its dependencies: pip install common-expression-language",
        ) from None
    return module


#: the functions and macros of CEL's standard definitions that the engine implements (its
#: extension libraries, strings.* and math.*, are not there: a rule calling one would only
#: fail when it runs, so :func:`compile` refuses it up front)
FUNCTIONS = frozenset(
    {
        "all", "bytes", "contains", "double", "duration", "dyn", "endsWith", "exists",
        "exists_one", "filter", "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear",
        "getFullYear", "getHours", "getMilliseconds", "getMinutes", "getMonth", "getSeconds",
        "has", "hasValue", "int", "map", "matches", "none", "of", "orValue", "size",
        "startsWith", "string", "timestamp", "type", "uint", "value",
    }
)  # fmt: skip


def compile(expression: str) -> Program:
    """The compiled program of ``expression``; CelError for a syntax error or a call of a
    function the engine does not have."""
    if not isinstance(expression, str) or not expression.strip():
        raise CelError("the expression is empty")
    try:
        program: Program = engine().compile(expression)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise CelError(f"CEL syntax error: {_first_line(exc)}") from None
    references = getattr(program, "references", None)
    if references is not None:
        called = references().get("functions", ())
        unknown = sorted(
            name for name in called if name not in FUNCTIONS and not name.startswith(_OPERATOR)
        )
        if unknown:
            raise CelError(
                f"unknown function {unknown[0]!r}: CEL here has the standard functions "
                "(size, matches, startsWith, endsWith, contains, timestamp, duration, int, "
                "string, ..., and the macros has, all, exists, exists_one, map, filter)"
            )
    return program


#: operators appear among a program's functions as _+_, @in, !_ ...
_OPERATOR = ("_", "@", "!")


class Bindings:
    """Variables for many evaluations: converted to CEL values once, not once per program.

    The engine converts a Python ``dict`` activation on every ``execute``; a ``Context``
    keeps the converted environment until it changes. ``shared`` (the config, ``now``) is
    set once; :meth:`bind` replaces the per-intent variables before the rules run on it.
    """

    __slots__ = ("context",)

    def __init__(self, shared: Mapping[str, object]) -> None:
        self.context = engine().Context(dict(shared))

    def bind(self, variables: Mapping[str, object]) -> None:
        self.context.update(dict(variables))


def evaluate(program: Program, activation: Mapping[str, object] | Bindings) -> object:
    """The value of ``program`` with the variables of ``activation``; CelError if it fails."""
    target = activation.context if isinstance(activation, Bindings) else dict(activation)
    try:
        result: object = program.execute(target)
    except KeyError as exc:
        key = exc.args[0] if exc.args else ""
        raise CelError(f"CEL evaluation error: no such key: {key}") from None
    except Exception as exc:  # the engine raises many types; none may pass as a result
        raise CelError(f"CEL evaluation error: {_first_line(exc)}") from None
    return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = text.splitlines()
    # the parser's message is "Failed to parse expression '...': ERROR: <input>:1:4: ..."
    for line in lines:
        if "ERROR: <input>:" in line:
            return line.split("ERROR: <input>:", 1)[1].strip()
    return lines[0] if lines else type(exc).__name__
