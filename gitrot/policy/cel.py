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

Cost: the engine cannot be interrupted (it holds the GIL until it returns) and has no cost
tracker, so the bound is twofold. :func:`compile` refuses an expression that nests more
than :data:`MAX_NESTING` comprehension macros or is longer than :data:`MAX_LENGTH`
characters (its cost grows with the product of the lists it walks), and
:mod:`gitrot.policy.budget` runs the evaluations in a child process where each one has a
CPU-time budget enforced by the kernel (:class:`Watch`).
"""

from __future__ import annotations

import importlib.machinery
import os
import re
import signal
import struct
import sys
from collections.abc import Mapping
from mmap import mmap
from types import ModuleType
from typing import TYPE_CHECKING

from gitrot.errors import InputError

if TYPE_CHECKING:
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
    loaded = sys.modules.get("cel.cel")
    if loaded is not None:
        return loaded
    try:
        # importlib.machinery is loaded at interpreter start; importlib.util costs ~5 ms
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
    """The compiled program of ``expression``; CelError for a syntax error, a call of a
    function the engine does not have, or an expression over the static cost bound."""
    if not isinstance(expression, str) or not expression.strip():
        raise CelError("the expression is empty")
    if len(expression) > MAX_LENGTH:
        raise CelError(
            f"the expression is {len(expression)} characters long; the cost bound allows "
            f"{MAX_LENGTH}"
        )
    try:
        program: Program = engine().compile(expression)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise CelError(f"CEL syntax error: {_first_line(exc)}") from None
    depth = nesting(expression)
    if depth > MAX_NESTING:
        raise CelError(
            f"the expression nests {depth} comprehensions (map, filter, all, exists, "
            f"exists_one); the cost bound allows {MAX_NESTING}: the cost grows with the "
            "product of the sizes of the lists they walk"
        )
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

#: the static cost bound of :func:`compile`
MAX_NESTING = 2
MAX_LENGTH = 4096
_COMPREHENSIONS = frozenset({"map", "filter", "all", "exists", "exists_one"})
_TOKENS: re.Pattern[str] | None = None


def nesting(expression: str) -> int:
    """How deeply comprehension macros (``x.map(...)`` inside ``y.all(...)`` ...) nest in
    ``expression``: a lexical count over CEL's tokens (strings, raw strings, bytes and
    ``//`` comments are skipped), for an expression the engine has parsed."""
    global _TOKENS  # noqa: PLW0603 - compiled on first use, like the engine itself
    if _TOKENS is None:
        _TOKENS = re.compile(_TOKEN_PATTERN, re.DOTALL)
    stack: list[bool] = []
    depth = deepest = 0
    before: tuple[str, str] = ("", "")  # the two previous significant tokens
    for match in _TOKENS.finditer(expression):
        kind, text = match.lastgroup, match.group()
        if kind in ("space", "string", "comment"):
            if kind == "string":
                before = (before[1], "'")
            continue
        if text == "(":
            macro = before[0] == "." and before[1] in _COMPREHENSIONS
            stack.append(macro)
            depth += macro
            deepest = max(deepest, depth)
        elif text in {"[", "{"}:
            stack.append(False)
        elif text in (")", "]", "}") and stack:
            depth -= stack.pop()
        before = (before[1], text)
    return deepest


_Q3, _D3 = "'" * 3, '"' * 3  # CEL's triple-quoted strings
_TOKEN_PATTERN = (
    r"(?P<space>\s+)"
    r"|(?P<comment>//[^\n]*)"
    # raw strings (no escapes), then strings and bytes with escapes
    rf"|(?P<string>(?:[rR][bB]?|[bB][rR])(?:{_Q3}.*?{_Q3}|{_D3}.*?{_D3}|'[^'\n]*'|\"[^\"\n]*\")"
    rf"|[bB]?(?:{_Q3}(?:\\.|[^\\])*?{_Q3}|{_D3}(?:\\.|[^\\])*?{_D3}"
    r"|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\"))"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<other>.)"
)


class Watch:
    """The CPU-time budget of each evaluation, in the child process that
    :mod:`gitrot.policy.budget` forks: before each evaluation the program's id goes to
    shared memory and a profiling timer is armed; when it fires, SIGPROF's default action
    ends the process (the engine cannot be interrupted any other way) and the parent reads
    which program overran, and on which input (the count of :meth:`Bindings.bind` calls).
    ``skipped`` holds the ids of programs already over budget: rules skip them."""

    __slots__ = ("budget", "shared", "skipped", "subjects")

    def __init__(self, shared: mmap, skipped: frozenset[int], budget: float) -> None:
        self.shared = shared
        self.skipped = skipped
        self.budget = budget
        self.subjects = 0

    def arm(self, program: object) -> None:
        struct.pack_into("qq", self.shared, 0, id(program), self.subjects)
        signal.setitimer(signal.ITIMER_PROF, self.budget)

    def next_subject(self) -> None:
        self.subjects += 1


#: set in the child process of a bounded evaluation (:mod:`gitrot.policy.budget`)
watch: Watch | None = None


def skipped(program: object) -> bool:
    """Whether ``program`` went over its budget earlier in this run (it is not evaluated)."""
    return watch is not None and id(program) in watch.skipped


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
        if watch is not None:
            watch.next_subject()


def evaluate(program: Program, activation: Mapping[str, object] | Bindings) -> object:
    """The value of ``program`` with the variables of ``activation``; CelError if it fails."""
    target = activation.context if isinstance(activation, Bindings) else dict(activation)
    current = watch
    try:
        if current is not None:
            current.arm(program)
        result: object = program.execute(target)
        if current is not None:
            _disarm()
    except KeyError as exc:
        key = exc.args[0] if exc.args else ""
        raise CelError(f"CEL evaluation error: no such key: {key}") from None
    except Exception as exc:  # the engine raises many types; none may pass as a result
        raise CelError(f"CEL evaluation error: {_first_line(exc)}") from None
    return result


def _disarm() -> None:
    signal.setitimer(signal.ITIMER_PROF, 0)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = text.splitlines()
    # the parser's message is "Failed to parse expression '...': ERROR: <input>:1:4: ..."
    for line in lines:
        if "ERROR: <input>:" in line:
            return line.split("ERROR: <input>:", 1)[1].strip()
    return lines[0] if lines else type(exc).__name__
