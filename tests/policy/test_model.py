"""The rule model in process: selectors, a rule's verdict and message, Python rule objects
checked when loaded, and the budget's watch as a rule sees it (docs/architecture.md)."""

from __future__ import annotations

import mmap
import signal
import struct
from collections.abc import Iterator, Mapping

import pytest

from gitrot.errors import InputError
from gitrot.policy import budget, cel
from gitrot.policy.model import PythonRule, Rule, Selector, selector_from_data
from gitrot.policy.python_rules import from_object

META = {"name": "payments/db", "environment": "prod", "class": "db", "labels": {"tier": "1"}}


def _document(**meta: object) -> dict[str, object]:
    return {"intent": {"metadata": {**META, **meta}}}


@pytest.mark.parametrize(
    ("selector", "intent", "selected"),
    [
        (Selector(), {"metadata": META}, True),
        (Selector(), {"metadata": "not a mapping"}, False),
        (Selector(environments=("dev",)), {"metadata": META}, False),
        (Selector(classes=("db",)), {"metadata": META}, True),
        (Selector(classes=("api",)), {"metadata": META}, False),
        (Selector(labels={"tier": "1"}), {"metadata": META}, True),
        (Selector(labels={"tier": "2"}), {"metadata": META}, False),
        (Selector(labels={"tier": "1"}), {"metadata": {**META, "labels": None}}, False),
        (Selector(names=("payments/*",)), {"metadata": META}, True),
        (Selector(names=("billing/*",)), {"metadata": META}, False),
        (Selector(names=("payments/*",)), {"metadata": {**META, "name": 7}}, False),
    ],
)
def test_a_selector_takes_the_intents_it_names(
    selector: Selector, intent: dict[str, object], selected: bool
) -> None:
    assert selector.matches(intent) is selected


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], "select must be a mapping"),
        ({"owner": "x"}, "unknown keys owner"),
        ({"class": 3}, "class must be a string or a list of strings"),
        ({"name": ["a", ""]}, "name must be a string or a list of strings"),
        ({"labels": {"tier": 1}}, "labels must map strings to strings"),
        ({"labels": ["tier"]}, "labels must map strings to strings"),
    ],
)
def test_a_malformed_select_is_refused(data: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        selector_from_data(data)


def test_select_data_becomes_a_selector() -> None:
    selector = selector_from_data({"environment": "prod", "class": ["db"], "labels": {"t": "1"}})
    assert (selector.environments, selector.classes, selector.labels, selector.names) == (
        ("prod",),
        ("db",),
        {"t": "1"},
        (),
    )


def test_a_rule_built_in_code_compiles_its_expression_and_judges() -> None:
    rule = Rule("tier", "error", "d", Selector(), "intent.metadata.labels.tier == '2'", "m")
    assert rule.violations(_document()) == [("", "m")]
    assert rule.violations(_document(labels={"tier": "2"})) == []
    assert rule.location() == "" and repr(rule) == "Rule('tier', '')"
    placed = Rule("x", "error", "d", Selector(), "true", "m", where="p.yaml", line=4)
    assert placed.location() == "p.yaml:4" and not placed.builtin
    with pytest.raises(TypeError, match="returned str, not a boolean"):
        Rule("s", "error", "d", Selector(), "intent.metadata.name", "m").violations(_document())


@pytest.mark.parametrize(
    ("message_expr", "message"),
    [
        ("'tier ' + intent.metadata.labels.tier + ' is wrong'", "tier 1 is wrong"),
        ("intent.metadata.labels.missing", "fallback"),  # an error: the plain message
        ("1", "fallback"),  # not a string
        ("' '", "fallback"),  # blank
    ],
)
def test_message_expr_gives_the_message_or_falls_back(message_expr: str, message: str) -> None:
    rule = Rule(
        "tier",
        "error",
        "d",
        Selector(),
        "false",
        "fallback",
        field="metadata.labels",
        message_program=cel.compile(message_expr),
    )
    assert rule.violations(_document()) == [("metadata.labels", message)]


class _Good:
    id = "acme-owner"
    severity = "warning"
    description = "owners are teams"
    hint = "name a team"
    contexts = ("pr",)

    def check(self, document: Mapping[str, object]) -> Iterator[tuple[str, str]]:
        yield ("metadata.owner", "not a team")


def _variant(**changes: object) -> object:
    candidate = _Good()
    for name, value in changes.items():
        setattr(candidate, name, value)
    return candidate


class _Broken:
    def __init__(self) -> None:
        raise RuntimeError("no database")


@pytest.mark.parametrize(
    ("candidate", "problem"),
    [
        (_Broken, "cannot create the rule (RuntimeError: no database)"),
        (_variant(id="Bad Id"), "is not lowercase letters"),
        (_variant(id="sealed-immutable"), "is reserved for gitrot's own checks"),
        (_variant(severity="fatal"), "severity 'fatal' is not valid"),
        (_variant(hint=" "), "hint must be a non-empty string"),
        (_variant(check="no"), "check(document) is missing"),
        (_variant(select={"owner": "x"}), "select: unknown keys owner"),
        (_variant(contexts=("nightly",)), "contexts must list some of pre-commit, pr"),
        (_variant(requires="base"), "requires must list some of base"),
    ],
)
def test_a_python_rule_object_is_checked_when_loaded(candidate: object, problem: str) -> None:
    with pytest.raises(InputError) as info:
        from_object(candidate, "entry point gitrot.rules: x")
    assert problem in info.value.message
    assert info.value.location() == "entry point gitrot.rules: x"
    assert "check(document)" in (info.value.hint or "")


def test_a_python_rule_wraps_the_object_and_checks_what_it_yields() -> None:
    rule = from_object(_Good, "entry point gitrot.rules: owner")
    assert isinstance(rule, PythonRule) and not rule.builtin
    assert rule.contexts == ("pr",) and rule.severity_in("pr") == "warning"
    assert rule.location() == "entry point gitrot.rules: owner"
    assert repr(rule) == "PythonRule('acme-owner', 'entry point gitrot.rules: owner')"
    assert rule.violations(_document()) == [("metadata.owner", "not a team")]
    odd = from_object(_variant(check=lambda document: ["not a pair"]), "x")
    with pytest.raises(TypeError, match="not a \\(field, message\\) pair"):
        odd.violations(_document())


def test_under_the_watch_each_evaluation_is_timed_and_skipped_rules_do_not_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the budget's child does, in this process with a budget that never runs out:
    each evaluation arms the CPU timer with the program and subject count in shared memory,
    and disarms it after; a program over budget earlier is skipped."""
    slow = Rule("slow", "error", "d", Selector(), "false", "m")
    fast = Rule("fast", "error", "d", Selector(), "false", "m")
    shared = mmap.mmap(-1, 16)
    watch = cel.Watch(shared, frozenset({id(slow.program)}), 30.0)
    monkeypatch.setattr(cel, "watch", watch)
    assert not budget.available()  # never bounded twice
    bindings = cel.Bindings({"config": {}})
    bindings.bind(_document())
    bindings.bind(_document())
    assert slow.violations(_document(), bindings) == []  # skipped, not judged
    assert fast.violations(_document(), bindings) == [("", "m")]
    assert struct.unpack_from("qq", shared, 0) == (id(fast.program), 2)
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)
    assert cel.skipped(slow.program) and not cel.skipped(fast.program)
