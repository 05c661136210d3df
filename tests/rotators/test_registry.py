"""Finding rotator types: gitrot's own ``command`` (``postgres`` is its helper's) and the
``gitrot.rotators`` entry points of other packages; the checks the loader shares."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gitrot.core.ports import RotatorContext
from gitrot.core.secret import SecretValue
from gitrot.errors import EXIT_INPUT, ConfigError
from gitrot.rotators import registry
from gitrot.rotators.command import CommandRotator
from gitrot.rotators.registry import BUILTIN, check_rotator, installed_types, open_rotator
from gitrot.triggers.options import OptionError

MODULE = """
from gitrot.errors import ConfigError


class MemoryRotator:
    def __init__(self, name, options, context):
        if options.get("explode"):
            raise RuntimeError("bad option explode")
        self.name, self.options, self.context = name, dict(options), context

    @staticmethod
    def check_options(name, options):
        if "host" not in options:
            raise ConfigError(f"rotators.{name}: a memory rotator needs host")
        if options.get("crash"):
            raise ValueError("crashed")

    def prepare(self, generated, current): return generated
    def set(self, pending, current): pass
    def test(self, pending): pass
    def close(self): pass


class NotARotator:
    def __init__(self, name, options, context):
        pass

    def close(self): pass


NOT_CALLABLE = 42
"""
COMMAND = {"set": ["./rotate", "set"], "test": ["./rotate", "test"]}


@pytest.fixture
def context(tmp_path: Path) -> RotatorContext:
    def read_secret(name: str) -> SecretValue:
        raise AssertionError(name)

    return RotatorContext(name="app/db", version=2, root=str(tmp_path), read_secret=read_secret)


def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entries: str, dist: str = "acme") -> None:
    """A folder that looks like site-packages with one distribution registering rotators."""
    folder = tmp_path / "site"
    info = folder / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "entry_points.txt").write_text("[gitrot.rotators]\n" + entries)
    (folder / "acme_rotators.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "acme_rotators", raising=False)


def test_command_is_built_in(context: RotatorContext) -> None:
    assert BUILTIN["command"] == "gitrot.rotators.command:CommandRotator"
    check_rotator("ldap", "command", COMMAND)
    rotator = open_rotator("ldap", "command", COMMAND, context)
    assert isinstance(rotator, CommandRotator)
    assert rotator.name == "ldap" and rotator.context is context


def test_command_options_are_checked_at_the_option() -> None:
    with pytest.raises(OptionError) as caught:
        check_rotator("ldap", "command", {"set": ["./r"]})
    assert caught.value.option == "test" and caught.value.exit_code == EXIT_INPUT
    assert caught.value.message.startswith("rotators.ldap.test must list the command")


def test_an_unknown_type_names_the_installed_ones(context: RotatorContext) -> None:
    with pytest.raises(OptionError) as caught:
        check_rotator("db", "mysql", {})
    assert caught.value.option == "type"
    assert caught.value.message == (
        "rotators.db.type: unknown rotator type 'mysql' (installed: command, postgres)"
    )
    assert "gitrot.rotators" in (caught.value.hint or "")
    with pytest.raises(ConfigError, match="unknown rotator type 'mysql'"):
        open_rotator("db", "mysql", {}, context)
    assert installed_types() == {"command": "gitrot", "postgres": "gitrot"}


def test_a_missing_sdk_names_the_extra(
    context: RotatorContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.EXTRAS, "command", ("ldap", "no_such_sdk_module"))
    with pytest.raises(ConfigError) as caught:
        open_rotator("ldap", "command", COMMAND, context)
    assert caught.value.exit_code == EXIT_INPUT
    assert caught.value.message == (
        "rotators.ldap: rotator type 'command' needs no_such_sdk_module, which is not installed"
    )
    assert caught.value.hint == "install gitrot with its ldap extra: pip install 'gitrot[ldap]'"


def test_a_plugin_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, context: RotatorContext
) -> None:
    site(tmp_path, monkeypatch, "memory = acme_rotators:MemoryRotator\n")
    assert installed_types()["memory"] == "acme"
    check_rotator("m", "memory", {"host": "db"})
    rotator = open_rotator("m", "memory", {"host": "db"}, context)
    assert type(rotator).__name__ == "MemoryRotator" and rotator.name == "m"
    with pytest.raises(ConfigError, match=r"rotators\.m: a memory rotator needs host"):
        check_rotator("m", "memory", {})
    with pytest.raises(OptionError, match=r"rotators\.m: memory refuses its options \(ValueError"):
        check_rotator("m", "memory", {"host": "db", "crash": True})
    with pytest.raises(ConfigError, match=r"failed to start \(RuntimeError: bad option explode"):
        open_rotator("m", "memory", {"host": "db", "explode": True}, context)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("broken = acme_rotators:NotARotator", "is not a rotator (no prepare, set, test)"),
        ("broken = acme_rotators:NOT_CALLABLE", "is not a class or callable"),
        ("broken = acme_rotators:Missing", "cannot load rotator type 'broken'"),
    ],
)
def test_a_broken_plugin(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    context: RotatorContext,
    entry: str,
    message: str,
) -> None:
    site(tmp_path, monkeypatch, entry + "\n")
    with pytest.raises(ConfigError) as caught:
        open_rotator("b", "broken", {}, context)
    assert message in caught.value.message and caught.value.exit_code == EXIT_INPUT


def test_two_packages_claiming_a_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site(tmp_path, monkeypatch, "memory = acme_rotators:MemoryRotator\n")
    other = tmp_path / "other"
    info = other / "evil-2.0.dist-info"
    info.mkdir(parents=True)
    (info / "entry_points.txt").write_text("[gitrot.rotators]\nmemory = evil:Rotator\n")
    monkeypatch.syspath_prepend(str(other))
    with pytest.raises(OptionError, match="registered more than once"):
        check_rotator("m", "memory", {"host": "db"})


def test_a_package_cannot_replace_a_built_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, context: RotatorContext
) -> None:
    site(tmp_path, monkeypatch, "command = acme_rotators:MemoryRotator\n")
    assert isinstance(open_rotator("ldap", "command", COMMAND, context), CommandRotator)


def test_a_plugin_s_own_error_passes_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, context: RotatorContext
) -> None:
    site(tmp_path, monkeypatch, "memory = acme_rotators:MemoryRotator\n")
    from gitrot.errors import RotatorError

    def refuse(name: str, options: object, context: object) -> None:
        raise RotatorError("rotator m failed at open: the vault is sealed", step="open")

    monkeypatch.setattr("acme_rotators.MemoryRotator", refuse)
    with pytest.raises(RotatorError, match="the vault is sealed"):
        open_rotator("m", "memory", {"host": "db"}, context)
