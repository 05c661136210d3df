"""The architecture of docs/architecture.md ("Packages and what each may import"), enforced.

Static and fast: every module of ``gitrot/`` is parsed (``ast``), never imported. An import
counts wherever it is written (module top or inside a function) unless it sits under
``if TYPE_CHECKING:``, which never runs; the layer rule counts those too, since a type is a
dependency of the design even when it costs nothing at run time.

- no import cycle between gitrot modules;
- no module uses another module's private (``_name``) names;
- the file and folder names of a policy repository (``gitrot/core/layout.py``) spelled as a
  path only in ``core/layout.py``;
- each layer package's ``__init__`` docstring says what it may import (a line
  ``Imports: gitrot.core, gitrot.errors.``) and its modules keep to it;
- the pure modules (:data:`PURE`) reach, at any depth through gitrot modules, no I/O, no
  clock and no environment.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from gitrot.core import layout

PACKAGE = Path(__file__).resolve().parent.parent / "gitrot"

#: the layer packages; each ``__init__`` docstring has an ``Imports:`` line
LAYERS = (
    "core",
    "codec",
    "keys",
    "files",
    "policy",
    "git",
    "scan",
    "judge",
    "reconcile",
    "backends",
    "triggers",
    "rotators",
    "report",
    "audit",
    "commands",
)

#: the pure modules: no I/O, clock or environment at any depth through gitrot imports
#: (docs/architecture.md, "Packages and what each may import"); a module whose docstring
#: says "pure apart from randomness" may also draw random bytes (a fresh data key, an IV)
PURE = (
    "gitrot.errors",
    "gitrot.core.due",
    "gitrot.core.durations",
    "gitrot.codec.yaml_edit",
    "gitrot.core.findings",
    "gitrot.core.layout",
    "gitrot.core.models",
    "gitrot.core.ports",
    "gitrot.core.secret",
    "gitrot.audit.model",
    "gitrot.audit.compliance",
    "gitrot.audit.verify",
    "gitrot.reconcile.plan",
    "gitrot.reconcile.status",
    "gitrot.codec.cipher",
    "gitrot.codec.document",
    "gitrot.codec.dotenv_store",
    "gitrot.codec.gotypes",
    "gitrot.codec.json_store",
    "gitrot.codec.metadata",
    "gitrot.codec.shamir",
    "gitrot.codec.tree",
    "gitrot.codec.walk",
    "gitrot.codec.yaml_emit",
    "gitrot.codec.yaml_parse",
)
RANDOMNESS_ALLOWED = "pure apart from randomness"

#: standard-library modules that read or write the world, or the clock
IMPURE_MODULES = frozenset(
    {
        "os",
        "io",
        "sys",
        "subprocess",
        "socket",
        "select",
        "selectors",
        "signal",
        "ssl",
        "shutil",
        "tempfile",
        "pathlib",
        "glob",
        "time",
        "urllib.request",
        "http",
        "importlib",
        "threading",
        "multiprocessing",
        "concurrent",
        "asyncio",
        "logging",
        "getpass",
        "platform",
        "pwd",
    }
)
RANDOM_MODULES = frozenset({"random", "secrets"})
#: calls and attributes that read the world or the clock, whatever module they come from
IMPURE_CALLS = frozenset({"open", "input", "print", "exec", "eval", "__import__"})
IMPURE_ATTRIBUTES = frozenset(
    {"now", "today", "utcnow", "environ", "getenv", "stdin", "stdout", "stderr", "urandom"}
)
#: keyword arguments whose text is prose for people (argparse help), not a path
PROSE_KEYWORDS = frozenset({"help", "description", "epilog", "usage", "hint", "metavar"})


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (``from gitrot.a import b``: gitrot.a.b if a module)
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``
    names: tuple[str, ...]  # the names taken by ``from X import a, b``


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module

    @property
    def relpath(self) -> str:
        return str(self.path.relative_to(PACKAGE.parent))


@cache
def modules() -> dict[str, Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        found[name] = Module(name, path, ast.parse(path.read_text(), str(path)))
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, type_only: bool = False):  # type: ignore[no-untyped-def]
    """Every node below ``node`` with whether it sits under ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            yield child, type_only
            for inner in child.body:
                yield inner, True
                yield from _walk(inner, True)
            for inner in child.orelse:
                yield inner, type_only
                yield from _walk(inner, type_only)
            continue
        yield child, type_only
        yield from _walk(child, type_only)


def _package_of(module: Module) -> str:
    return module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]


@cache
def imports_of(name: str) -> tuple[Import, ...]:
    module, known = modules()[name], modules()
    found = []
    for node, type_only in _walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(name, alias.name, node.lineno, type_only, ()))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(module).split(".")
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            if not base.startswith("gitrot"):
                names = tuple(alias.name for alias in node.names)
                found.append(Import(name, base, node.lineno, type_only, names))
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                target = sub if sub in known else base
                found.append(Import(name, target, node.lineno, type_only, (alias.name,)))
    return tuple(found)


def gitrot_imports(name: str, *, type_only: bool = False) -> list[Import]:
    """The imports of gitrot modules by ``name`` (those under TYPE_CHECKING if asked)."""
    return [
        i
        for i in imports_of(name)
        if i.target.startswith("gitrot") and (type_only or not i.type_only)
    ]


# -- no import cycle ---------------------------------------------------------------------


def find_cycles() -> list[list[str]]:
    """Each strongly connected group of the runtime import graph, as one readable chain."""
    graph = {
        name: sorted({i.target for i in gitrot_imports(name) if i.target != name})
        for name in modules()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return [_chain(sorted(group), graph) for group in groups]


def _chain(group: list[str], graph: dict[str, list[str]]) -> list[str]:
    """One cycle through the group's first module: ``a -> b -> c -> a``."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in graph[node]:
            if nxt == start:
                return [*paths[node], start]
            if nxt in members and nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(group)  # a strongly connected group always closes


def _where(imp: Import) -> str:
    return f"{modules()[imp.module].relpath}:{imp.line}"


def test_no_import_cycle() -> None:
    cycles = find_cycles()
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_cycle_finder_reports_a_readable_chain() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": []}
    assert _chain(["a", "b", "c"], graph) == ["a", "b", "c", "a"]


# -- no private names across modules -----------------------------------------------------


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def private_uses(name: str) -> list[str]:
    module, known = modules()[name], modules()
    found = []
    bound: dict[str, str] = {}  # local name -> gitrot module it names
    for node, _ in _walk(module.tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gitrot"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in known:
                    bound[alias.asname or alias.name] = sub
                if _is_private(alias.name):
                    found.append(f"{module.relpath}:{node.lineno}: {node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("gitrot") and alias.asname:
                    bound[alias.asname] = alias.name
    for node, _ in _walk(module.tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            base = _dotted(node.value)
            target = bound.get(base or "", base if base in known else None)
            if target and target != name:
                found.append(f"{module.relpath}:{node.lineno}: {target}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names() -> None:
    found = [use for name in modules() for use in private_uses(name)]
    assert not found, "private names used across modules:\n" + "\n".join(found)


# -- the layout's names are spelled once -------------------------------------------------


def layout_patterns() -> dict[str, re.Pattern[str]]:
    """Each file or folder name of ``core/layout.py``, as a path component of a literal.

    The folder ``secrets`` counts only followed by ``/`` (alone it is also a field name:
    a waiver's ``secrets:``, a JSON key); the intent suffix ``.yaml`` is any YAML file's."""
    names = {
        key: value
        for key, value in vars(layout).items()
        if key.isupper() and isinstance(value, str)
    }
    patterns = {}
    for key, value in names.items():
        if key in ("SECRETS_DIR", "INTENT_SUFFIX"):
            continue  # SECRETS_PREFIX covers the folder as a path; ".yaml" is any YAML file
        if key == "ENCRYPTED_PREFIX" or key.endswith("_SUFFIX"):
            patterns[key] = re.compile(re.escape(value.rstrip(",")))
        else:
            patterns[key] = re.compile(rf"(?:^|/){re.escape(value.rstrip('/'))}(?:/|$)")
    patterns["SECRETS_PREFIX"] = re.compile(rf"(?:^|/){re.escape(layout.SECRETS_PREFIX)}")
    return patterns


def _docstring_nodes(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _prose_nodes(tree: ast.Module) -> set[int]:
    """The string constants passed as help text (``help=``, ``hint=``...)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in PROSE_KEYWORDS:
            found.update(id(inner) for inner in ast.walk(node.value))
    return found


def layout_spellings(name: str) -> list[str]:
    """The literals of ``name`` that spell a layout name as a path.

    A literal is a path when it has no white space (prose such as an error message naming
    ``gitrot.yaml`` to a person is not); docstrings, comments and help text are prose."""
    module = modules()[name]
    skip = _docstring_nodes(module.tree) | _prose_nodes(module.tree)
    found = []
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if id(node) in skip or not node.value or re.search(r"\s", node.value):
            continue
        for key, pattern in layout_patterns().items():
            if pattern.search(node.value):
                found.append(f"{module.relpath}:{node.lineno}: {node.value!r} (layout.{key})")
    return found


def test_layout_names_are_spelled_only_in_core_layout() -> None:
    found = [
        s for name in modules() if name != "gitrot.core.layout" for s in layout_spellings(name)
    ]
    assert not found, "spell these with gitrot.core.layout:\n" + "\n".join(found)


def test_layout_rule_tells_a_path_from_prose() -> None:
    patterns = layout_patterns()

    def spelled(text: str) -> bool:
        return not re.search(r"\s", text) and any(p.search(text) for p in patterns.values())

    assert spelled("gitrot.yaml") and spelled("/secrets/") and spelled("secrets/a.yaml")
    assert spelled(".gitrot/reconciler.key") and spelled("ENC[AES256_GCM,data:")
    assert not spelled("secrets") and not spelled("my-gitrot.yaml.bak")
    assert not spelled("list it in gitrot.yaml") and not spelled("not under secrets/")


# -- layers ------------------------------------------------------------------------------


def declared_imports(layer: str) -> tuple[str, ...] | None:
    """The gitrot packages named by the ``Imports:`` line of the layer's docstring."""
    docstring = ast.get_docstring(modules()[f"gitrot.{layer}"].tree) or ""
    match = re.search(r"^Imports:(.*?)(?:\n\s*\n|\Z)", docstring, re.M | re.S)
    if match is None:
        return None
    return tuple(re.findall(r"gitrot(?:\.\w+)*", match.group(1)))


def layer_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def layer_violations(layer: str) -> list[str]:
    allowed = declared_imports(layer) or ()
    own = f"gitrot.{layer}"
    found = []
    for name in modules():
        if layer_of(name) != layer:
            continue
        for imp in gitrot_imports(name, type_only=True):
            target = imp.target
            if target == own or target.startswith(own + "."):
                continue
            if target == "gitrot":  # the root package (its __file__), or a name in it
                if not imp.names:
                    continue
                target = f"gitrot.{imp.names[0]}"
            if any(target == a or target.startswith(a + ".") for a in allowed):
                continue
            kind = " (type only)" if imp.type_only else ""
            found.append(f"{_where(imp)}: {name} imports {target}{kind}")
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_says_what_it_may_import(layer: str) -> None:
    declared = declared_imports(layer)
    assert declared is not None, f"gitrot/{layer}/__init__.py: no 'Imports:' line"
    unknown = [d for d in declared if d not in modules()]
    assert not unknown, f"gitrot/{layer}/__init__.py names no module: {unknown}"


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_imports_only_what_it_declares(layer: str) -> None:
    found = layer_violations(layer)
    assert not found, f"gitrot.{layer} imports beyond its 'Imports:' line:\n" + "\n".join(found)


def test_the_layers_point_one_way() -> None:
    """No two layers may import each other: the declared graph has no cycle either."""
    graph = {
        layer: {
            d.split(".")[1]
            for d in declared_imports(layer) or ()
            if d.count(".") >= 1 and d.split(".")[1] in LAYERS and d.split(".")[1] != layer
        }
        for layer in LAYERS
    }
    for layer, below in graph.items():
        for other in below:
            assert layer not in closure(other, graph), f"{layer} and {other} import each other"


def closure(start: str, graph: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


# -- purity ------------------------------------------------------------------------------


def reached_from(roots: tuple[str, ...]) -> dict[str, str]:
    """Every gitrot module the roots import at any depth, with the root that reaches it."""
    seen = {root: root for root in roots}
    todo = list(roots)
    while todo:
        name = todo.pop()
        for imp in gitrot_imports(name):
            if imp.target not in seen:
                seen[imp.target] = seen[name]
                todo.append(imp.target)
    return seen


def _within(module: str, packages: frozenset[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def impurities(name: str) -> list[str]:
    module = modules()[name]
    docstring = ast.get_docstring(module.tree) or ""
    random_ok = RANDOMNESS_ALLOWED in " ".join(docstring.lower().split())
    found = []
    for imp in imports_of(name):
        if imp.type_only or imp.target.startswith("gitrot"):
            continue
        for target in (imp.target, *(f"{imp.target}.{n}" for n in imp.names)):
            if _within(target, IMPURE_MODULES) or (
                _within(target, RANDOM_MODULES) and not random_ok
            ):
                found.append(f"{_where(imp)}: imports {target}")
                break
    for node, type_only in _walk(module.tree):
        if type_only:
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in IMPURE_CALLS:
                found.append(f"{module.relpath}:{node.lineno}: calls {node.func.id}()")
        elif isinstance(node, ast.Attribute) and node.attr in IMPURE_ATTRIBUTES:
            if node.attr == "urandom" and random_ok:
                continue
            found.append(f"{module.relpath}:{node.lineno}: uses .{node.attr}")
    return found


def test_pure_modules_exist() -> None:
    assert not [name for name in PURE if name not in modules()]


def test_pure_modules_reach_no_io_clock_or_environment() -> None:
    found = []
    for name, root in sorted(reached_from(PURE).items()):
        found += [f"{problem} (reached from {root})" for problem in impurities(name)]
    assert not found, "impure code reached from a pure module:\n" + "\n".join(found)


def test_purity_rule_sees_io_and_the_clock() -> None:
    tree = ast.parse(
        "import os\nfrom datetime import datetime\n"
        "def f():\n    open('x')\n    return datetime.now(), os.environ\n"
    )
    module = Module("gitrot.example", PACKAGE / "example.py", tree)
    modules()[module.name] = module
    try:
        imports_of.cache_clear()
        found = impurities("gitrot.example")
    finally:
        del modules()[module.name]
        imports_of.cache_clear()
    assert [f.split(": ", 1)[1] for f in found] == [
        "imports os",
        "calls open()",
        "uses .now",
        "uses .environ",
    ]
