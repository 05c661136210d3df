"""Waivers: parsing with located errors, loading, applying, the schema, and policy fixtures."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from gitrot.core.findings import RULES, Finding, has_errors
from gitrot.files.waivers import (
    EXPIRED,
    INVALID,
    RULE_IDS,
    UNUSED,
    Waiver,
    apply_waivers,
    is_date,
    load_waivers,
    parse_waivers,
    secret_name,
)

KNOWN = {"max-age", "reason-required", "backend-exists"}
HEAD = "apiVersion: gitrot/v1\nkind: Waivers\nwaivers:\n"
GOOD = (
    "  - rule: max-age\n"
    "    secrets: payments/*\n"
    '    reason: "CHG-1234: the vendor cannot take a new key before the migration"\n'
    "    approver: alice@example.com\n"
    '    expires: "2027-01-31"\n'
)
BUILTIN_TESTS = Path(__file__).resolve().parents[2] / "gitrot" / "policies" / "tests"


def _entry(**changes: str | None) -> str:
    """GOOD with keys replaced (a value), removed (None) or added (at the end)."""
    lines = GOOD.splitlines()
    keys = [line.strip().removeprefix("- ").split(":")[0] for line in lines]
    for key, value in changes.items():
        if key in keys:
            i = keys.index(key)
            prefix = lines[i][: lines[i].index(key)]
            lines[i] = f"{prefix}{key}: {value}" if value is not None else ""
        else:
            lines.append(f"    {key}: {value}")
    lines = [line for line in lines if line]
    if not lines[0].startswith("  - "):
        lines[0] = "  - " + lines[0].lstrip()
    return "\n".join(lines) + "\n"


def _one_bad(entry: str) -> Finding:
    waivers, findings = parse_waivers(HEAD + GOOD + entry, "waivers.yaml", KNOWN)
    assert len(waivers) == 1  # the good one before it still counts
    (finding,) = findings
    assert (finding.rule_id, finding.severity, finding.path) == (INVALID, "error", "waivers.yaml")
    return finding


# -- parsing --------------------------------------------------------------------------------


def test_a_good_file() -> None:
    text = HEAD + GOOD + _entry(secrets="[billing/*, payments/db]", rule="reason-required")
    waivers, findings = parse_waivers(text, "waivers.yaml", KNOWN)
    assert findings == []
    first, second = waivers
    assert first == Waiver(
        "max-age",
        ("payments/*",),
        "CHG-1234: the vendor cannot take a new key before the migration",
        "alice@example.com",
        "2027-01-31",
        where="waivers.yaml",
        line=4,
    )
    assert (second.rule, second.secrets, second.line) == (
        "reason-required",
        ("billing/*", "payments/db"),
        9,
    )
    assert first.note() == "waived by alice@example.com until 2027-01-31 (waivers.yaml:4)"
    assert repr(first) == "Waiver('max-age', ('payments/*',), 'waivers.yaml:4')"
    assert first not in (second, "x") and hash(first) == hash(waivers[0])


def test_the_file_gitrot_init_writes_has_no_waivers() -> None:
    from gitrot.commands.init import WAIVERS

    assert parse_waivers(WAIVERS, "waivers.yaml", KNOWN) == ([], [])
    assert parse_waivers(HEAD, "waivers.yaml", KNOWN) == ([], [])  # waivers: (null)


@pytest.mark.parametrize(
    ("entry", "at", "message"),
    [
        (_entry(approver=None), (9, 5), "required key 'waivers[1].approver' is missing"),
        (_entry(rule=None), (9, 5), "required key 'waivers[1].rule' is missing"),
        (
            _entry(expire='"2027-01-31"'),
            (14, 5),
            "unknown key 'waivers[1].expire' (did you mean 'expires'?)",
        ),
        (_entry(reason='"  too short "'), (11, 5), "waivers[1].reason is too short"),
        (_entry(reason="12345"), (11, 5), "waivers[1].reason must be a string, got an integer"),
        (_entry(approver='"  "'), (12, 5), "waivers[1].approver must not be empty"),
        (_entry(expires="2027-01-31"), (13, 5), "must be a quoted date, got an unquoted timestamp"),
        (_entry(expires='"2027-02-30"'), (13, 5), "waivers[1].expires is not a date"),
        (_entry(expires='"31.01.2027"'), (13, 5), "waivers[1].expires is not a date"),
        (_entry(expires="20270131"), (13, 5), "must be a quoted date (YYYY-MM-DD), got an integer"),
        (
            _entry(rule="max-agee"),
            (9, 5),
            "waivers[1].rule names no known rule: 'max-agee' (did you mean 'max-age'?)",
        ),
        (_entry(rule="schema"), (9, 5), "waivers[1].rule names 'schema', which cannot be waived"),
        (_entry(rule=EXPIRED), (9, 5), f"names '{EXPIRED}', which cannot be waived"),
        (_entry(secrets="[]"), (10, 5), "waivers[1].secrets is an empty list"),
        (_entry(secrets="[a/*, a/*]"), (10, 5), "waivers[1].secrets lists 'a/*' twice"),
        (_entry(secrets='[" "]'), (10, 5), "waivers[1].secrets lists a blank glob"),
        (_entry(secrets="{a: b}"), (10, 5), "must be a glob or a list of globs, got a mapping"),
        ("  - just a string\n", (3, 1), "waivers[1] must be a mapping (a waiver), got a string"),
    ],
)
def test_each_bad_entry_is_one_finding_at_its_place(
    entry: str, at: tuple[int, int], message: str
) -> None:
    finding = _one_bad(entry)
    assert (finding.line, finding.column) == at
    assert message in finding.message
    assert finding.hint


def test_every_bad_entry_is_reported_and_good_ones_kept() -> None:
    text = HEAD + _entry(rule="nope") + GOOD + _entry(reason="short") + GOOD
    waivers, findings = parse_waivers(text, "w.yaml", KNOWN)
    assert [w.line for w in waivers] == [9, 19]
    assert [(f.line, f.rule_id) for f in findings] == [(4, INVALID), (16, INVALID)]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("apiVersion: gitrot/v1\nkind: Waivers\nwaivers: [\n", 3, "unterminated flow"),
        ("a: &x 1\nb: *x\n", 1, "anchors are not allowed"),
        ("", 0, "the file is empty"),
        ("apiVersion: gitrot/v2\nkind: Waivers\nwaivers: []\n", 1, "unsupported apiVersion"),
        ("apiVersion: gitrot/v1\nkind: Config\nwaivers: []\n", 2, "kind must be Waivers"),
        ("apiVersion: gitrot/v1\nkind: Waivers\n", 1, "required key 'waivers' is missing"),
        ("apiVersion: gitrot/v1\nkind: Waivers\nwaivers: {}\n", 3, "waivers must be a list"),
        (HEAD + GOOD + "extra: 1\n", 9, "unknown key 'extra'"),
    ],
)
def test_a_bad_file_is_one_finding_and_no_waivers(text: str, line: int, message: str) -> None:
    waivers, findings = parse_waivers(text, "waivers.yaml", KNOWN)
    assert waivers == []
    (finding,) = findings
    assert (finding.rule_id, finding.path) == (INVALID, "waivers.yaml")
    assert finding.line == line
    assert message in finding.message


def test_dates() -> None:
    assert is_date("2024-02-29") and not is_date("2023-02-29")
    assert not is_date("2027-1-31") and not is_date("20270131") and not is_date("2027-01-31Z")


def test_a_waiver_built_in_code_checks_its_invariants() -> None:
    args = ("x", "0123456789", "a", "2027-01-31")
    with pytest.raises(ValueError, match="cannot be waived"):
        Waiver("schema", ("a",), *args[1:])
    with pytest.raises(ValueError, match="glob"):
        Waiver("r", (), *args[1:])
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        Waiver("r", ("a",), "0123456789", "a", "2027-13-01")
    with pytest.raises(ValueError, match="reason"):
        Waiver("r", ("a",), "short", "a", "2027-01-31")


# -- loading --------------------------------------------------------------------------------


def test_load_reads_the_configured_file(tmp_path: Path) -> None:
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "w.yaml").write_text(HEAD + GOOD)
    waivers, findings = load_waivers(str(tmp_path), "policy/w.yaml", KNOWN)
    assert findings == [] and waivers[0].where == "policy/w.yaml"


def test_no_file_configured_or_present_means_no_waivers(tmp_path: Path) -> None:
    assert load_waivers(str(tmp_path), None, KNOWN) == ([], [])
    assert load_waivers(str(tmp_path), "waivers.yaml", KNOWN) == ([], [])


def test_a_file_outside_the_repository_is_a_finding(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "w.yaml").write_text(HEAD + GOOD)
    os.symlink(tmp_path / "w.yaml", root / "waivers.yaml")
    waivers, (finding,) = load_waivers(str(root), "waivers.yaml", KNOWN)
    assert waivers == []
    assert (finding.rule_id, finding.path) == (INVALID, "waivers.yaml")
    assert "outside the repository" in finding.message
    (_, (up,)) = load_waivers(str(root), "../w.yaml", KNOWN)
    assert "outside the repository" in up.message


def test_an_unreadable_file_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "waivers.yaml").write_bytes(b"apiVersion: gitrot/v1\n\xff\n")
    _, (finding,) = load_waivers(str(tmp_path), "waivers.yaml", KNOWN)
    assert (finding.rule_id, finding.location()) == (INVALID, "waivers.yaml:2")
    assert "UTF-8" in finding.message
    (tmp_path / "waivers.yaml").write_text("#" * (1024 * 1024 + 1))
    _, (big,) = load_waivers(str(tmp_path), "waivers.yaml", KNOWN)
    assert "larger than" in big.message


# -- applying -------------------------------------------------------------------------------


def _waiver(
    rule: str = "max-age", *globs: str, expires: str = "2027-01-31", line: int = 7
) -> Waiver:
    return Waiver(
        rule,
        globs or ("payments/*",),
        "CHG-1234: the vendor is migrating",
        "alice@example.com",
        expires,
        where="waivers.yaml",
        line=line,
    )


def _finding(path: str = "secrets/payments/db.yaml", rule: str = "max-age") -> Finding:
    return Finding(rule, "error", path, 3, 5, "the secret is older than its class allows")


NOTE = "waived by alice@example.com until 2027-01-31 (waivers.yaml:7)"


def test_a_glob_match_waives_the_finding_visibly() -> None:
    (waived,) = apply_waivers([_finding()], [_waiver()], today="2026-06-01", judged_all=True)
    assert waived == _finding().waive(NOTE)
    assert waived.waived == NOTE and not has_errors([waived])
    assert waived.as_dict()["waived"] == NOTE


def test_a_list_of_globs_and_the_star_spanning_folders() -> None:
    waiver = _waiver("max-age", "billing/*", "payments/*")
    findings = [_finding("secrets/billing/a.yaml"), _finding("secrets/payments/deep/b.yaml")]
    result = apply_waivers(findings, [waiver], today="2026-06-01", judged_all=True)
    assert all(f.waived for f in result) and len(result) == 2


def test_another_rule_another_secret_and_other_files_are_not_waived() -> None:
    findings = [
        _finding(rule="reason-required"),
        _finding("secrets/billing/a.yaml"),
        _finding("gitrot.yaml"),
        _finding("policies/payments/x.yaml"),
    ]
    result = apply_waivers(findings, [_waiver("max-age", "*")], today="2026-06-01", judged_all=True)
    assert [f.waived for f in result[:4]] == ["", NOTE, "", ""]
    assert result[4:] == []  # the waiver was used


def test_a_sealed_value_belongs_to_its_secret() -> None:
    assert secret_name("secrets/payments/db.v3.sealed.yaml") == "payments/db"
    assert secret_name("secrets/payments/db.yaml") == "payments/db"
    assert secret_name("gitrot.yaml") is None and secret_name("secrets/x.sealed.yaml") is None
    sealed = _finding("secrets/payments/db.v3.sealed.yaml")
    (result,) = apply_waivers([sealed], [_waiver()], today="2026-06-01", judged_all=False)
    assert result.waived == NOTE


def test_an_expired_waiver_waives_nothing_and_is_an_error() -> None:
    waiver = _waiver(expires="2026-05-31")
    result = apply_waivers([_finding()], [waiver], today="2026-06-01", judged_all=True)
    assert result == [
        _finding(),
        Finding(
            EXPIRED,
            "error",
            "waivers.yaml",
            7,
            0,
            "the waiver of 'max-age' for payments/* expired on 2026-05-31",
            hint="renew it with a new approval (approver, reason and a later expires), or fix "
            "the findings it covered and delete it",
        ),
    ]
    # through its last day, it applies (and is not reported)
    (same_day,) = apply_waivers([_finding()], [waiver], today="2026-05-31", judged_all=True)
    assert same_day.waived


def test_an_unused_waiver_is_a_warning_only_when_everything_was_judged() -> None:
    waiver = _waiver("max-age", "billing/*", "other/*")
    assert apply_waivers([], [waiver], today="2026-06-01", judged_all=False) == []
    (unused,) = apply_waivers([], [waiver], today="2026-06-01", judged_all=True)
    assert (unused.rule_id, unused.severity, unused.location()) == (
        UNUSED,
        "warning",
        "waivers.yaml:7",
    )
    assert unused.message == "the waiver of 'max-age' for billing/*, other/* waives no finding"
    assert not has_errors([unused])


def test_every_covering_waiver_is_used_and_the_first_is_named() -> None:
    first, second = _waiver(line=7), _waiver("max-age", "payments/db", line=12)
    (result,) = apply_waivers([_finding()], [first, second], today="2026-06-01", judged_all=True)
    assert result.waived == NOTE


def test_findings_about_schema_or_waivers_are_never_waived() -> None:
    waiver = _waiver()
    waiver.rule = "schema"  # only code can do this; the parser refuses it
    result = apply_waivers(
        [_finding(rule="schema")], [waiver], today="2026-06-01", judged_all=False
    )
    assert result == [_finding(rule="schema")]


def test_today_is_a_date() -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        apply_waivers([], [], today="2026-06-01T00:00:00Z", judged_all=True)


def test_the_waiver_rules_are_described() -> None:
    for rule_id in RULE_IDS:
        short, help_text = RULES[rule_id]
        assert short and len(help_text) > len(short)


# -- the schema agrees with the loader ------------------------------------------------------


def _validator() -> object:
    import jsonschema

    from gitrot.files import resources

    schema = json.loads(resources.schema_text("waivers.schema.json"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == resources.schema_uri("waivers")
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _plain(text: str) -> object:
    from gitrot.codec.tree import to_plain
    from gitrot.codec.yaml_parse import parse

    return to_plain(parse(text)[0])


@pytest.mark.parametrize(
    "text",
    [
        HEAD + GOOD,
        HEAD + GOOD + _entry(secrets="[a/*, b]", reason='"  0123456789  "', rule="reason-required"),
        HEAD,
        HEAD.replace("waivers:", "waivers: []"),
    ],
)
def test_the_schema_accepts_what_the_loader_accepts(text: str) -> None:
    assert parse_waivers(text, "w.yaml", KNOWN)[1] == []
    assert _validator().is_valid(_plain(text))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text",
    [
        HEAD + _entry(approver=None),
        HEAD + _entry(extra="1"),
        HEAD + _entry(reason='"  too short "'),
        HEAD + _entry(approver='"  "'),
        HEAD + _entry(expires='"2027-02-30"'),
        HEAD + _entry(expires='"2027-1-31"'),
        HEAD + _entry(expires="20270131"),
        HEAD + _entry(rule="schema"),
        HEAD + _entry(rule=UNUSED),
        HEAD + _entry(secrets="[]"),
        HEAD + _entry(secrets="[a, a]"),
        HEAD + _entry(secrets='""'),
        HEAD + "  - just a string\n",
        HEAD.replace("Waivers", "Config"),
        HEAD.replace("gitrot/v1", "gitrot/v2"),
        "apiVersion: gitrot/v1\nkind: Waivers\n",
        HEAD.replace("waivers:", "waivers: {}"),
    ],
)
def test_the_schema_rejects_what_the_loader_rejects(text: str) -> None:
    assert parse_waivers(text, "w.yaml", KNOWN)[1]
    assert not _validator().is_valid(_plain(text))  # type: ignore[attr-defined]


# -- gitrot policy test ---------------------------------------------------------------------


def test_the_built_in_pack_has_fixtures_for_the_waiver_checks() -> None:
    for rule_id in RULE_IDS:
        names = [p.name for p in (BUILTIN_TESTS / rule_id).glob("*.yaml")]
        assert any(n.startswith("pass-") for n in names), rule_id
        assert any(n.startswith("fail-") for n in names), rule_id


def test_missing_waiver_fixtures_are_reported_for_the_built_in_pack(tmp_path: Path) -> None:
    from gitrot.commands.policy import run_fixtures
    from gitrot.policy.rules import builtin_rules

    shutil.copytree(BUILTIN_TESTS / "waiver-invalid", tmp_path / "waiver-invalid")
    problems, count = run_fixtures(builtin_rules(), [], tmp_path, "t", checks=RULE_IDS)
    assert count == len(list((tmp_path / "waiver-invalid").glob("*.yaml")))
    assert problems == [
        f"gitrot/files/waivers.py: rule '{rule_id}' has no pass and no fail fixture in t/{rule_id}/"
        for rule_id in (EXPIRED, UNUSED)
    ]
    assert run_fixtures(builtin_rules(), [], BUILTIN_TESTS, "t", checks=RULE_IDS)[0] == []


def test_fixture_waivers_are_applied_on_the_day_of_now(gitrot, tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    shutil.copytree(BUILTIN_TESTS / "waiver-expired", tests / "waiver-expired")
    assert gitrot("policy", "test", str(tests)).code == 0
    last_day = tests / "waiver-expired" / "pass-last-day.yaml"
    text = last_day.read_text()
    last_day.write_text(text.replace('now: "2025-01-31T12:00:00Z"', 'now: "2025-02-01T00:00:00Z"'))
    result = gitrot("policy", "test", str(tests))
    assert result.code == 1
    assert result.out.splitlines() == [
        f"{tests}/waiver-expired/pass-last-day.yaml: expected [], "
        "got [reason-required, waiver-expired]"
    ]
    last_day.write_text(text.replace('now: "2025-01-31T12:00:00Z"', "now: 5"))
    result = gitrot("policy", "test", str(tests))
    assert result.code == 2 and "input.now must be a time" in result.err
    last_day.write_text(text.replace("waivers:", "waivers: 3\nx:"))
    result = gitrot("policy", "test", str(tests))
    assert result.code == 2 and "unknown key 'x'" in result.err
