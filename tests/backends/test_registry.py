"""Finding backend types: the built-in ``local`` and the ``gitrot.backends`` entry points."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from gitrot.backends import registry
from gitrot.backends.base import BackendContext, BackendError
from gitrot.backends.local import LocalBackend
from gitrot.backends.registry import BUILTIN, installed_types, open_backend
from gitrot.errors import EXIT_INPUT, ConfigError
from tests.backends.helpers import new_context

BACKEND_MODULE = """
class MemoryBackend:
    def __init__(self, name, options, context):
        if options.get("explode"):
            raise RuntimeError("bad option explode")
        if options.get("refuse"):
            from gitrot.backends.base import BackendError
            raise BackendError("the service said no", unreachable=True)
        self.name, self.options, self.context = name, dict(options), context

    def current(self, refs): return {}
    def get(self, ref, version): return None
    def write(self, ref, version, value, *, name, commit, key): raise NotImplementedError
    def read(self, ref, version=None): raise NotImplementedError
    def close(self): pass


class NotABackend:
    def __init__(self, name, options, context):
        pass

    def close(self): pass


NOT_CALLABLE = 42
"""


@pytest.fixture
def context(tmp_path: Path) -> BackendContext:
    return new_context(tmp_path)


def site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entries: str, dist: str = "acme_backends"
) -> Path:
    """A folder that looks like site-packages with one distribution registering backends."""
    folder = tmp_path / "site"
    info = folder / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "entry_points.txt").write_text(
        "[console_scripts]\nacme = acme_backends:main\n\n[gitrot.backends]\n" + entries
    )
    (folder / "acme_backends.py").write_text(BACKEND_MODULE)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "acme_backends", raising=False)
    return folder


def test_local_is_built_in(context: BackendContext, tmp_path: Path) -> None:
    backend = open_backend("main", "local", {"path": "store"}, context)
    assert isinstance(backend, LocalBackend)
    assert backend.name == "main"
    assert backend.store == str(tmp_path / "store")


def test_local_options_are_checked(context: BackendContext) -> None:
    with pytest.raises(ConfigError, match=r"backends\.main\.path must be a relative path inside"):
        open_backend("main", "local", {"path": "../x"}, context)


def test_an_unknown_type_names_the_installed_ones(context: BackendContext) -> None:
    with pytest.raises(ConfigError) as info:
        open_backend("prod", "consul", {}, context)
    error = info.value
    known = ", ".join(sorted(BUILTIN))
    assert error.message == f"backends.prod: unknown backend type 'consul' (installed: {known})"
    assert "gitrot.backends" in error.hint
    assert error.exit_code == EXIT_INPUT


@pytest.mark.parametrize("type_", sorted(registry.EXTRAS))
def test_a_secret_manager_without_its_sdk_names_the_extra(
    type_: str, context: BackendContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra, _module = registry.EXTRAS[type_]
    monkeypatch.setitem(registry.EXTRAS, type_, (extra, "gitrot_absent_sdk.client"))
    with pytest.raises(ConfigError) as info:
        open_backend("prod", type_, {}, context)
    assert info.value.message == (
        f"backends.prod: backend type {type_!r} needs gitrot_absent_sdk, which is not installed"
    )
    assert (
        info.value.hint == f"install gitrot with its {extra} extra: pip install 'gitrot[{extra}]'"
    )
    assert info.value.exit_code == EXIT_INPUT


def test_a_registered_type_is_imported_only_when_used(
    context: BackendContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site(tmp_path, monkeypatch, "memory = acme_backends:MemoryBackend\n")
    assert installed_types() == dict.fromkeys(BUILTIN, "gitrot") | {"memory": "acme-backends"}
    open_backend("main", "local", {}, context)
    assert "acme_backends" not in sys.modules
    backend = open_backend("mem", "memory", {"size": 3}, context)
    assert type(backend).__name__ == "MemoryBackend"
    assert (backend.name, backend.options, backend.context) == ("mem", {"size": 3}, context)  # type: ignore[attr-defined]
    known = re.escape(", ".join(sorted([*BUILTIN, "memory"])))
    with pytest.raises(ConfigError, match=rf"unknown backend type 'x' \(installed: {known}\)"):
        open_backend("mem", "x", {}, context)


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        (
            "acme_missing:Backend",
            "cannot load backend type 'bad' (acme_missing:Backend, from acme-backends) (ModuleNotFoundError",
        ),
        (
            "acme_backends:Nope",
            "cannot load backend type 'bad' (acme_backends:Nope, from acme-backends) (AttributeError",
        ),
        ("acme_backends:NOT_CALLABLE", "is not a class or callable"),
        ("acme_backends:NotABackend", "is not a backend (no current, get, write, read)"),
    ],
)
def test_broken_entry_points_are_config_errors(
    context: BackendContext,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    problem: str,
) -> None:
    site(tmp_path, monkeypatch, f"bad = {target}\n")
    with pytest.raises(ConfigError) as info:
        open_backend("main", "bad", {}, context)
    assert problem in info.value.message
    assert info.value.message.startswith("backends.main: ")


def test_a_backend_that_fails_to_start_is_a_config_error(
    context: BackendContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site(tmp_path, monkeypatch, "memory = acme_backends:MemoryBackend\n")
    with pytest.raises(ConfigError, match=r"failed to start \(RuntimeError: bad option explode\)"):
        open_backend("main", "memory", {"explode": True}, context)


def test_a_backend_error_at_start_passes_through(
    context: BackendContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site(tmp_path, monkeypatch, "memory = acme_backends:MemoryBackend\n")
    with pytest.raises(BackendError, match="the service said no") as info:
        open_backend("main", "memory", {"refuse": True}, context)
    assert info.value.unreachable


def test_a_type_registered_twice_is_refused(
    context: BackendContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site(tmp_path, monkeypatch, "memory = acme_backends:MemoryBackend\n")
    other = tmp_path / "other"
    info = other / "evil_backends-2.0.dist-info"
    info.mkdir(parents=True)
    (info / "entry_points.txt").write_text(
        "[gitrot.backends]\nmemory = evil:Backend\nlocal = evil:Backend\n"
    )
    monkeypatch.syspath_prepend(str(other))
    for type_, owners in [
        ("memory", "acme_backends:MemoryBackend (acme-backends), evil:Backend (evil-backends)"),
        ("local", "evil:Backend (evil-backends), gitrot.backends.local:LocalBackend (gitrot)"),
    ]:
        with pytest.raises(ConfigError) as error:
            open_backend("main", type_, {}, context)
        assert error.value.message == (
            f"backends.main: backend type {type_!r} is registered more than once: {owners}"
        )
        assert "uninstall all but one" in error.value.hint
    assert "evil" not in sys.modules


def test_gitrots_own_entry_point_for_local_is_no_duplicate(
    context: BackendContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "site"
    info = folder / "gitrot-9.9.dist-info"
    info.mkdir(parents=True)
    (info / "entry_points.txt").write_text(
        "[gitrot.backends]\nlocal = gitrot.backends.local:LocalBackend\n"
    )
    monkeypatch.syspath_prepend(str(folder))
    assert isinstance(open_backend("main", "local", {}, context), LocalBackend)
