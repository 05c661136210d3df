"""open_trigger: the built-in types, types other packages register under ``gitrot.triggers``
(imported only when a configuration names them), and unknown types."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest

from gitrot.errors import ConfigError
from gitrot.triggers import registry
from gitrot.triggers.command import CommandTrigger
from gitrot.triggers.registry import open_trigger
from gitrot.triggers.webhook import WebhookTrigger
from tests.triggers.receiver import delivery

if TYPE_CHECKING:
    from pathlib import Path

PLUGIN = """
from gitrot.triggers.base import Receipt

class PagerTrigger:
    def __init__(self, name, options, environ):
        if "service" not in options:
            raise ValueError("service is required")
        self.name = name
        self.service = options["service"]

    def fire(self, delivery):
        return Receipt(trigger=self.name, delivery_id=delivery.delivery_id, ok=True,
                       attempts=1, detail=f"paged {self.service}", at=0)

class Strict(PagerTrigger):
    def __init__(self, name, options, environ):
        from gitrot.errors import ConfigError
        raise ConfigError(f"triggers.{name}.service is not a PagerDuty service")

class NoFire:
    def __init__(self, name, options, environ):
        self.name = name

class Checked(PagerTrigger):
    @staticmethod
    def check_options(name, options):
        from gitrot.errors import ConfigError
        if not str(options.get("service", "")).startswith("P"):
            raise ConfigError(f"triggers.{name}.service must be a PagerDuty service id")

class CheckCrashes(PagerTrigger):
    @staticmethod
    def check_options(name, options):
        raise KeyError("service")

NOT_CALLABLE = 3
"""


def site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entries: str, dist: str = "acme_gitrot"
) -> Path:
    """A folder that looks like site-packages, with a distribution registering triggers."""
    folder = tmp_path / "site"
    info = folder / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "entry_points.txt").write_text(f"[gitrot.triggers]\n{entries}")
    (folder / "acme_gitrot_triggers.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "acme_gitrot_triggers", raising=False)
    return folder


def test_the_built_in_types(tmp_path: Path) -> None:
    trigger = open_trigger(
        "ledger-worker",
        "command",
        {"argv": ["make", "rebuild"], "env": ["DEPLOY_TARGET"]},
        {},
        root=str(tmp_path),
    )
    assert isinstance(trigger, CommandTrigger)
    assert trigger.env == ("DEPLOY_TARGET",)
    trigger = open_trigger(
        "payments-api",
        "webhook",
        {"url": "https://ci.example/hooks/rebuild", "secret_env": "GITROT_WEBHOOK_SECRET"},
        {"GITROT_WEBHOOK_SECRET": "k"},
        root=str(tmp_path),
    )
    assert isinstance(trigger, WebhookTrigger)
    assert trigger.name == "payments-api"


def test_an_unknown_type_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"triggers\.x\.type 'github' is not a trigger") as info:
        open_trigger("x", "github", {}, {}, root=str(tmp_path))
    assert info.value.exit_code == 2
    assert "command, webhook" in info.value.hint


def test_an_installed_type_is_imported_only_when_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site(tmp_path, monkeypatch, "pager = acme_gitrot_triggers:PagerTrigger\n")
    open_trigger("ledger", "command", {"argv": ["true"]}, {}, root=str(tmp_path))
    assert "acme_gitrot_triggers" not in sys.modules
    trigger = open_trigger("oncall", "pager", {"service": "P123"}, {}, root=str(tmp_path))
    assert "acme_gitrot_triggers" in sys.modules
    receipt = trigger.fire(delivery())
    assert (receipt.trigger, receipt.ok, receipt.detail) == ("oncall", True, "paged P123")
    with pytest.raises(ConfigError) as info:
        open_trigger("x", "nope", {}, {}, root=str(tmp_path))
    assert "command, pager, webhook" in info.value.hint


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("acme_gitrot_triggers:Missing", r"cannot load the trigger type \(AttributeError"),
        ("no_such_module:Trigger", r"cannot load the trigger type \(ModuleNotFoundError"),
        ("acme_gitrot_triggers:NOT_CALLABLE", r"is not a class or callable"),
        ("acme_gitrot_triggers:NoFire", r"trigger 'oncall' has no fire\(delivery\)"),
        ("acme_gitrot_triggers:PagerTrigger", r"cannot create trigger 'oncall' \(ValueError"),
    ],
)
def test_a_bad_installed_type_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, problem: str
) -> None:
    site(tmp_path, monkeypatch, f"pager = {target}\n")
    with pytest.raises(ConfigError, match=problem) as info:
        open_trigger("oncall", "pager", {}, {}, root=str(tmp_path))
    assert info.value.where == f"entry point gitrot.triggers: pager = {target} (acme-gitrot)"
    assert info.value.exit_code == 2


def test_a_plugins_own_config_error_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site(tmp_path, monkeypatch, "pager = acme_gitrot_triggers:Strict\n")
    with pytest.raises(ConfigError, match=r"triggers\.oncall\.service is not a PagerDuty"):
        open_trigger("oncall", "pager", {"service": "x"}, {}, root=str(tmp_path))


def test_two_packages_cannot_claim_one_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = site(tmp_path, monkeypatch, "pager = acme_gitrot_triggers:PagerTrigger\n")
    other = folder / "other_pager-2.0.dist-info"
    other.mkdir()
    (other / "entry_points.txt").write_text("[gitrot.triggers]\npager = other:Pager\n")
    with pytest.raises(ConfigError, match="registered by both acme-gitrot and other-pager"):
        open_trigger("oncall", "pager", {"service": "P1"}, {}, root=str(tmp_path))


def test_a_plugin_cannot_replace_a_built_in_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = site(
        tmp_path,
        monkeypatch,
        "webhook = acme_gitrot_triggers:PagerTrigger\ncommand = acme_gitrot_triggers:NoFire\n",
    )
    assert registry.installed_types([str(folder)]) == {}
    trigger = open_trigger("ledger", "command", {"argv": ["true"]}, {}, root=str(tmp_path))
    assert isinstance(trigger, CommandTrigger)
    assert "acme_gitrot_triggers" not in sys.modules


def test_gitrots_own_entry_points_are_the_built_ins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = site(tmp_path, monkeypatch, "", dist="gitrot")
    (folder / "gitrot-1.0.dist-info" / "entry_points.txt").write_text(
        "[gitrot.triggers]\ncommand = gitrot.triggers.command:CommandTrigger\n"
        "webhook = gitrot.triggers.webhook:WebhookTrigger\n"
    )
    assert registry.installed_types([str(folder)]) == {}


def test_check_trigger_is_the_reconcilers_check_without_opening(tmp_path: Path) -> None:
    """The loader's check: the built-in types' options, no environment read."""
    from gitrot.triggers.options import OptionError
    from gitrot.triggers.registry import check_trigger

    check_trigger("hook", "webhook", {"url": "https://ci.example/x", "secret_env": "UNSET_KEY"})
    check_trigger("cmd", "command", {"argv": ["make"], "env": ["DEPLOY_TARGET"]})
    cases = [
        ("webhook", {"url": "http://ci.example/x", "secret_env": "K"}, "url"),
        ("webhook", {"url": "https://ci.example/x"}, "secret_env"),
        ("command", {"argv": ["make"], "timeout": -1}, "timeout"),
        ("command", {"argv": ["make"], "cwd": "../.."}, "cwd"),
        ("command", {"argv": ["make"], "nice": 1}, "nice"),
        ("github", {}, "type"),
    ]
    for kind, options, option in cases:
        with pytest.raises(OptionError) as info:
            check_trigger("t", kind, options)
        assert info.value.option == option, (kind, options)
        assert info.value.exit_code == 2


def test_a_plugins_check_options_runs_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitrot.triggers.registry import check_trigger

    site(tmp_path, monkeypatch, "pager = acme_gitrot_triggers:Checked\n")
    check_trigger("oncall", "pager", {"service": "P123"})
    with pytest.raises(ConfigError, match=r"service must be a PagerDuty service id") as info:
        check_trigger("oncall", "pager", {"service": "x"})
    assert info.value.where == "gitrot.yaml"
    with pytest.raises(ConfigError, match=r"service must be a PagerDuty"):
        open_trigger("oncall", "pager", {"service": "x"}, {}, root=str(tmp_path))
    assert open_trigger("oncall", "pager", {"service": "P1"}, {}, root=str(tmp_path))


def test_a_plugins_crashing_check_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitrot.triggers.registry import check_trigger

    site(tmp_path, monkeypatch, "pager = acme_gitrot_triggers:CheckCrashes\n")
    with pytest.raises(ConfigError, match=r"triggers\.oncall: pager refuses its options"):
        check_trigger("oncall", "pager", {})
