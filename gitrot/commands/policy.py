"""``gitrot policy test [DIR]``: run the rules against fixtures and say where they disagree.

A fixture is ``DIR/<rule-id>/pass-*.yaml`` or ``DIR/<rule-id>/fail-*.yaml``::

    input:    # an input document (gitrot/schemas/policy-input.schema.json)
      intent: {...}
      base: null
      history: null
      config: {...}
      now: "2025-01-31T12:00:00Z"
    expect: [reason-required]   # every rule id expected to fire on this input; [] for none
    waivers:  # optional: entries as in waivers.yaml, applied on the day of input.now
      - {rule: reason-required, secrets: payments/*, reason: "...", approver: a, expires: "..."}

Every rule runs on every fixture, so ``expect`` is the whole set of rules that fire. The
failed rules become findings at the intent's path (``input.intent.path``); the fixture's
waivers are applied to them as ``gitrot validate`` applies waivers.yaml to a whole
repository, so ``expect`` lists the rules of the findings left unwaived plus the
``waiver-*`` findings (invalid, expired or unused waivers). A ``fail-*`` fixture must expect
its folder's rule and a ``pass-*`` fixture must not. The rules are the built-in pack plus
the ``*.yaml`` rule files next to DIR (``policies/tests`` tests ``policies/*.yaml``); every
rule defined there needs at least one pass and one fail fixture (for the built-in pack, the
``waiver-*`` checks too). Without DIR the built-in pack's own fixtures run. Exit 1 when a
fixture disagrees or a rule lacks fixtures, 2 for a bad fixture or rule file.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Collection, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from gitrot import output
from gitrot.codec.tree import Map, to_plain
from gitrot.core.findings import Finding
from gitrot.errors import EXIT_FINDINGS, EXIT_OK, InputError
from gitrot.files.fields import Fields, parse_root
from gitrot.files.fsutil import read_text
from gitrot.files.waivers import RULE_IDS, Waiver, apply_waivers, is_date, parse_entries
from gitrot.policy import rules as rules_module
from gitrot.policy.engine import failed_rules
from gitrot.policy.model import AnyRule, Rule

FIXTURE_PREFIXES = ("pass-", "fail-")
MAX_FIXTURE_BYTES = 1024 * 1024


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "policy",
        help="work with policy rules (policy test: run rule fixtures)",
        description="Policy rule tools.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    test = actions.add_parser(
        "test",
        help="run the rules against DIR/<rule-id>/{pass,fail}-*.yaml fixtures",
        description="Run the built-in rules and the rule files next to DIR against the "
        "fixtures DIR/<rule-id>/pass-*.yaml and fail-*.yaml (each an input: document and "
        "the expect: list of rule ids that fire). Without DIR, the built-in pack's own "
        "fixtures. Exit 1 when a fixture disagrees or a rule has no pass or no fail fixture.",
    )
    test.add_argument("directory", nargs="?", metavar="DIR")
    test.set_defaults(run=lambda args: policy_test(args.directory))


def policy_test(directory: str | None) -> int:
    """Run the fixtures of ``directory`` (default: the built-in pack's); the exit code."""
    builtin_folder = resources.files("gitrot").joinpath("policies")
    builtin = rules_module.builtin_rules()
    if directory is None:
        fixtures: Traversable = builtin_folder.joinpath("tests")
        label = f"{rules_module.BUILTIN_DIR}/tests"
        own: Sequence[AnyRule] = builtin
        rules = builtin
    else:
        folder = Path(directory)
        if not folder.is_dir():
            raise InputError("is not a directory", where=directory, hint="give the fixtures folder")
        fixtures, label = folder, directory.rstrip("/")
        parent = folder.resolve().parent
        if _same(parent, builtin_folder):
            own, rules = builtin, builtin
        else:
            own = _rules_in(parent, os.path.dirname(label) or ".")
            rules = rules_module.check_unique([*builtin, *own])
    checks = RULE_IDS if own is builtin else ()
    failures, count = run_fixtures(rules, own, fixtures, label, checks=checks)
    for line in failures:
        output.data(line + "\n")
    if failures:
        output.info(f"gitrot: {len(failures)} problem(s) in {count} policy fixtures of {label}")
        return EXIT_FINDINGS
    output.info(f"gitrot: {count} policy fixtures of {label} agree with {len(rules)} rules")
    return EXIT_OK


def _same(path: object, folder: Traversable) -> bool:
    return os.path.realpath(str(folder)) == os.path.realpath(str(path))


def _rules_in(folder: os.PathLike[str], shown: str) -> list[Rule]:
    found: list[Rule] = []
    base = os.fspath(folder)
    for name in sorted(os.listdir(base)):
        full = os.path.join(base, name)
        if name.endswith(".yaml") and os.path.isfile(full):
            where = f"{shown}/{name}"
            found.extend(rules_module.parse_rules(read_text(full, limit=MAX_FIXTURE_BYTES), where))
    return found


def run_fixtures(
    rules: Sequence[AnyRule],
    own: Sequence[AnyRule],
    fixtures: Traversable,
    label: str,
    *,
    checks: Sequence[str] = (),
) -> tuple[list[str], int]:
    """(one line per disagreement, fixtures run); no lines when every fixture agrees and
    every rule in ``own``, and every id in ``checks`` (gitrot's own checks, such as the
    ``waiver-*`` ones), has both a pass and a fail fixture."""
    known = {rule.id for rule in rules} | set(RULE_IDS)
    required = [(rule.location(), rule.id) for rule in own]
    required += [(_CHECKS_LOCATION, check) for check in checks]
    seen: dict[str, set[str]] = {rule_id: set() for _, rule_id in required}
    problems: list[str] = []
    count = 0
    folders = sorted(fixtures.iterdir(), key=lambda e: e.name) if fixtures.is_dir() else []
    for folder in folders:
        if not folder.is_dir():
            continue
        if folder.name not in known:
            problems.append(f"{label}/{folder.name}: no rule has the id {folder.name!r}")
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if not entry.is_file() or not entry.name.endswith(".yaml"):
                continue
            where = f"{label}/{folder.name}/{entry.name}"
            kind = next((p[:-1] for p in FIXTURE_PREFIXES if entry.name.startswith(p)), None)
            if kind is None:
                problems.append(f"{where}: a fixture's name starts with pass- or fail-")
                continue
            text = entry.read_text(encoding="utf-8")
            document, expect, waivers, invalid = parse_fixture(text, where, known)
            count += 1
            unknown = sorted(set(expect) - known)
            if unknown:
                problems.append(f"{where}: expect names unknown rules: {', '.join(unknown)}")
                continue
            if (kind == "fail") != (folder.name in expect):
                verb = "must" if kind == "fail" else "must not"
                problems.append(f"{where}: a {kind} fixture {verb} expect {folder.name}")
                continue
            fired = fired_ids(rules, document, waivers, invalid, subject=where)
            if fired != sorted(set(expect)):
                problems.append(
                    f"{where}: expected [{', '.join(sorted(set(expect)))}], "
                    f"got [{', '.join(fired)}]"
                )
            seen.setdefault(folder.name, set()).add(kind)
    for location, rule_id in required:
        missing = [kind for kind in ("pass", "fail") if kind not in seen.get(rule_id, set())]
        if missing:
            problems.append(
                f"{location}: rule {rule_id!r} has no {' and no '.join(missing)} fixture "
                f"in {label}/{rule_id}/"
            )
    return problems, count


def fired_ids(
    rules: Sequence[AnyRule],
    document: dict[str, object],
    waivers: Sequence[Waiver],
    invalid: Sequence[Finding],
    *,
    subject: str,
) -> list[str]:
    """The sorted rule ids of the findings a fixture yields: the failed rules' findings at
    the intent's path, with the fixture's waivers applied on the day of ``input.now`` (a
    whole repository: unused waivers count), unwaived ones only; plus ``invalid``."""
    failed = failed_rules(rules, document, subject=subject)
    intent = document.get("intent")
    path = intent.get("path") if isinstance(intent, dict) else None
    at = path if isinstance(path, str) else subject
    # only the ids are compared: every finding is an error with a placeholder message
    findings = [Finding(rule.id, "error", at, 0, 0, f"rule {rule.id} fails") for rule in failed]
    if waivers:
        now = document.get("now")
        assert isinstance(now, str)  # noqa: S101 - parse_fixture checked it
        findings = apply_waivers(findings, waivers, today=now[:10], judged_all=True)
    return sorted({f.rule_id for f in [*findings, *invalid] if not f.waived})


def parse_fixture(
    text: str, where: str, known_rules: Collection[str] = ()
) -> tuple[dict[str, object], list[str], list[Waiver], list[Finding]]:
    """(input document, expected rule ids, waivers, waiver-invalid findings) of one fixture
    file; ``known_rules`` are the rule ids its waivers may name."""
    root = parse_root(text, where, InputError)
    doc = Fields(root, "", where, InputError)
    doc.allow(("input", "expect", "waivers"))
    value = doc.get("input")
    if not isinstance(value, Map):
        doc.fail("input", "input must be a mapping (an input document)", _FIXTURE_HINT)
    expect = list(doc.text_list("expect", unique=True)) if "expect" in root else None
    if expect is None:
        doc.fail("", "required key 'expect' is missing", _FIXTURE_HINT)
    waivers, invalid = parse_entries(doc.seq("waivers"), doc, "waivers", known_rules)
    document = to_plain(value)
    assert isinstance(document, dict)  # noqa: S101 - to_plain of a Map is a dict
    now = document.get("now")
    if waivers and not (isinstance(now, str) and is_date(now[:10])):
        doc.fail(
            "input",
            "input.now must be a time like 2025-01-31T12:00:00Z: its date is the day "
            "the fixture's waivers are judged on",
            _FIXTURE_HINT,
        )
    return document, expect, waivers, invalid


_FIXTURE_HINT = (
    "a fixture holds input: (see gitrot/schemas/policy-input.schema.json), expect: "
    "(the rule ids that fire, [] for none) and optionally waivers: (as in waivers.yaml)"
)
_CHECKS_LOCATION = "gitrot/files/waivers.py"
