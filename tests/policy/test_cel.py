"""The CEL adapter: the semantics the rules rely on, errors as gitrot errors, a cheap load."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gitrot.policy import cel

DOC = {
    "intent": {"spec": {"reason": "hello world", "consumers": ["a"]}, "metadata": {"labels": {}}},
    "config": {"triggers": {"a": {}}},
    "now": "2025-01-31T12:00:00Z",
    "base": None,
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("has(intent.spec.reason)", True),
        ("has(intent.metadata.environment)", False),
        ("size(intent.spec.reason) == 11", True),
        ("intent.spec.reason.startsWith('hello')", True),
        (r"intent.spec.reason.matches(r'\S[\s\S]{8,}\S')", True),
        (r"'   ab   '.matches(r'\S[\s\S]{8,}\S')", False),
        ("intent.spec.consumers.all(c, c in config.triggers)", True),
        ("'b' in config.triggers", False),
        ("base == null", True),
        ("timestamp(now) > timestamp('2025-01-01T00:00:00Z') + duration('720h')", True),
        ("'x' in intent.metadata.labels", False),
    ],
)
def test_semantics(expr: str, expected: object) -> None:
    assert cel.evaluate(cel.compile(expr), DOC) == expected


@pytest.mark.parametrize(
    "expr", ["intent.metadata.labels.missing == 'x'", "1 / 0", "'a' + 1", "nosuchvariable > 1"]
)
def test_runtime_errors_are_gitrot_errors(expr: str) -> None:
    with pytest.raises(cel.CelError, match="CEL evaluation error"):
        cel.evaluate(cel.compile(expr), DOC)


@pytest.mark.parametrize(
    "expr", ["1 +", "foo(", "", "   ", "nosuchfunction(1)", "'a'.lowerAscii() == 'a'"]
)
def test_syntax_errors_are_gitrot_errors(expr: str) -> None:
    with pytest.raises(cel.CelError) as info:
        cel.compile(expr)
    assert info.value.exit_code == 2


def test_the_engine_loads_without_the_cli_of_its_package() -> None:
    probe = (
        "import sys; from gitrot.policy import cel; cel.compile('1 == 1'); "
        "print('prompt_toolkit' in sys.modules, 'cel.cli' in sys.modules, 'typing' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    ).stdout.split()
    assert out[:2] == ["False", "False"]


#: the cel package's folder lists no extension file (imports do not use os.listdir)
_NO_EXTENSION_FILE = "import os, sys; os.listdir = lambda path='.': []; "


def test_without_the_extension_file_the_package_is_imported_instead() -> None:
    probe = (
        _NO_EXTENSION_FILE + "from gitrot.policy import cel; "
        "print(cel.evaluate(cel.compile('1 + 1 == 2'), {}), 'cel.cel' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    ).stdout.split()
    assert out == ["True", "True"]


def test_without_the_engine_a_rule_is_an_input_error_saying_how_to_install_it() -> None:
    probe = (
        _NO_EXTENSION_FILE + "sys.modules['cel.cel'] = None; from gitrot.policy import cel\n"
        "try:\n    cel.compile('true')\n"
        "except cel.InputError as exc:\n    print(exc.exit_code, exc.message, '|', exc.hint)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    assert out.startswith("2 the CEL engine is not installed |")
    assert "pip install common-expression-language" in out
