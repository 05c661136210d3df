"""The corpus of bad intents and configs in tests/fixtures/bad: one located error each.

Each case is copied over a good repository (tests/fixtures/good) in a temporary folder:
``config-*`` cases replace gitrot.yaml, the others replace secrets/payments/db-password.yaml.
The table gives the error class, a substring of the message and the exact location. Where a
JSON Schema can express the rule, the shipped schema must reject the case too, and it must
accept every good file: schema and loader agree.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gitrot.codec.tree import to_plain
from gitrot.codec.yaml_parse import parse
from gitrot.errors import EXIT_INPUT, ConfigError, InputError
from gitrot.files import repo
from tests.conftest import FIXTURES

GOOD = FIXTURES / "good"
BAD = FIXTURES / "bad"
INTENT = "secrets/payments/db-password.yaml"
F = INTENT
C = "gitrot.yaml"

# case: (message substring, location, a schema can express it)
CASES: dict[str, tuple[str, str, bool]] = {
    "malformed-yaml": ("expected ',' or ']'", f"{F}:14", False),
    "tab-indent": ("tab characters", f"{F}:6:1", False),
    "duplicate-key": ("duplicate key 'owner' (first at line 6)", f"{F}:7:5", False),
    "anchor": ("anchors are not allowed", f"{F}:6:12", False),
    "alias": ("aliases are not allowed", f"{F}:7:18", False),
    "merge-key": ("merge keys ('<<') are not allowed", f"{F}:7:5", False),
    "explicit-tag": ("explicit tags are not allowed", f"{F}:12:14", False),
    "yaml-bomb": ("anchors are not allowed", f"{F}:2:4", False),
    "non-utf8": ("not valid UTF-8", f"{F}:6", False),
    "nul-byte": ("binary (it contains NUL bytes)", F, False),
    "list-root": ("sequences/values are not supported", f"{F}:1", True),
    "multi-document": ("holds 2 YAML documents", f"{F}:46", False),
    "empty": ("the file is empty", F, True),
    "name-mismatch": (
        "metadata.name 'payments/other' does not match the file path secrets/payments/db-password.yaml",
        f"{F}:5:5",
        False,
    ),
    "dotdot-name": (
        "metadata.name '../payments/db-password' is not a valid secret name",
        f"{F}:5:5",
        True,
    ),
    "uppercase-name": ("is not a valid secret name", f"{F}:5:5", True),
    "missing-version": ("required key 'spec.version' is missing", f"{F}:11:1", True),
    "version-zero": ("spec.version must be >= 1, got 0", f"{F}:12:5", True),
    "version-string": ("spec.version must be an integer, got a string", f"{F}:12:5", True),
    "version-bool": ("spec.version must be an integer, got a boolean", f"{F}:12:5", True),
    "version-float": ("spec.version must be an integer, got a number", f"{F}:12:5", True),
    "plaintext-ref": ("spec.target.ref is not encrypted", f"{F}:17:9", True),
    "generate-and-sealed": ("spec.value has both 'generate' and 'sealed'", f"{F}:19:9", True),
    "no-value-source": ("spec.value needs 'generate' or 'sealed'", f"{F}:18:5", True),
    "unknown-key": ("unknown key 'spec.verison' (did you mean 'version'?)", f"{F}:13:5", True),
    "unknown-top-key": ("unknown key 'specs'", f"{F}:11:1", True),
    "missing-sops": ("not a SOPS document (no 'sops' block)", f"{F}:1:1", True),
    "mac-only-false": ("sops.mac_only_encrypted is not true", f"{F}:43:5", True),
    "bad-apiversion": ("unsupported apiVersion 'gitrot/v2'", f"{F}:1:1", True),
    "bad-kind": ("kind must be RotationIntent, got 'Rotation'", f"{F}:2:1", True),
    "generate-too-short": ("length must be from 8 to 4096, got 4", f"{F}:20:13", True),
    "bad-alphabet": ("alphabet range z-a is not valid", f"{F}:21:13", False),
    "sealed-wrong-version": (
        "spec.value.sealed must be 'payments/db-password.v7.sealed.yaml' for version 7",
        f"{F}:19:9",
        False,
    ),
    "empty-reason": ("spec.reason must not be empty", f"{F}:13:5", True),
    "missing-owner": ("required key 'metadata.owner' is missing", f"{F}:3:1", True),
    "encrypted-owner": ("metadata.owner is encrypted; it must stay cleartext", f"{F}:6:5", True),
    "label-not-string": (
        "metadata.labels.tier must be a string, got an integer",
        f"{F}:10:9",
        True,
    ),
    "duplicate-consumer": ("spec.consumers lists 'payments-api' twice", f"{F}:22:5", True),
    "emergency-string": ("spec.emergency must be true or false", f"{F}:14:5", True),
    "config-unknown-backend-type": (
        "backends.aws-prod.type 'consul' is not one of: local, vault",
        f"{C}:8:16",
        True,
    ),
    "config-literal-token": (
        "backends.vault-prod.token is a credential written into gitrot.yaml",
        f"{C}:7:71",
        True,
    ),
    "config-nested-credential": (
        "triggers.payments-api.headers.Authorization is a credential",
        f"{C}:10:85",
        False,
    ),
    "config-env-not-a-name": ("token_env is not an environment variable name", f"{C}:7:71", True),
    "config-bad-duration": (
        "classes.database-password.max_age: '90x' is not a duration",
        f"{C}:13:23",
        True,
    ),
    "config-min-interval-too-long": ("min_interval is longer than max_age", f"{C}:13:36", False),
    "config-freeze-reversed": (
        "freezes[0] ends (2026-12-20) before it starts (2027-01-03)",
        f"{C}:17:26",
        False,
    ),
    "config-freeze-unquoted-date": (
        "freezes[0].from must be a quoted date string, got a timestamp",
        f"{C}:17:6",
        True,
    ),
    "config-freeze-bad-date": ("freezes[0].from is not a date (YYYY-MM-DD)", f"{C}:17:6", False),
    "config-recipient-not-age": (
        "recipients.reconciler is not an age recipient (age1...)",
        f"{C}:4:3",
        True,
    ),
    "config-local-path-escape": (
        "backends.local.path must be a relative path inside the repository, got '../store'",
        f"{C}:6:29",
        True,
    ),
    "config-local-path-absolute": (
        "must be a relative path inside the repository",
        f"{C}:6:29",
        True,
    ),
    "config-waivers-escape": ("policy.waivers must be a relative path", f"{C}:18:30", True),
    "config-unknown-key": ("unknown key 'clases' (did you mean 'classes'?)", f"{C}:12:1", True),
    "config-bad-apiversion": ("unsupported apiVersion 'v1'", f"{C}:1:1", True),
    "config-bad-kind": ("kind must be Config, got 'RotationIntent'", f"{C}:2:1", True),
    "config-missing-recipients": ("required key 'recipients' is missing", f"{C}:1:1", True),
    "config-command-empty-argv": (
        "triggers.ledger-worker.argv must list the command",
        f"{C}:11:34",
        True,
    ),
    "config-webhook-no-url": (
        "required key 'triggers.payments-api.url' is missing",
        f"{C}:10:3",
        True,
    ),
    "config-anchor": ("anchors are not allowed", f"{C}:14:22", False),
}


def test_the_table_covers_the_corpus() -> None:
    assert sorted(path.stem for path in BAD.glob("*.yaml")) == sorted(CASES)
    assert len(CASES) >= 30


def install(case: str, root: Path) -> str:
    shutil.copytree(GOOD, root, dirs_exist_ok=True)
    target = C if case.startswith("config-") else INTENT
    shutil.copy(BAD / f"{case}.yaml", root / target)
    return target


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_is_one_located_error(case: str, tmp_path: Path) -> None:
    message, location, _ = CASES[case]
    target = install(case, tmp_path)
    before = files(tmp_path)
    expected = ConfigError if target == C else InputError
    with pytest.raises(expected) as info:
        if target == C:
            repo.load_config(tmp_path)
        else:
            repo.load_intent(tmp_path, INTENT)
    error = info.value
    assert type(error) is expected
    assert error.exit_code == EXIT_INPUT
    assert message in error.message
    assert error.location() == location
    rendered = error.render()
    assert "\n" not in rendered and "\n" not in error.hint
    assert rendered == f"gitrot: error: {error.message} ({location})"
    assert files(tmp_path) == before  # nothing is written
    # the report collects the same error for intents
    if target == INTENT:
        _, errors = repo.load_intents_report(tmp_path)
        assert [e.location() for e in errors] == [location]


# -- the JSON Schemas agree with the loader -------------------------------------------------


def _schema(name: str) -> object:
    import jsonschema

    from gitrot.files import resources

    schema = json.loads(resources.schema_text(f"{name}.schema.json"))
    return jsonschema.Draft202012Validator(schema)


def _plain(text: str) -> object:
    docs = parse(text)  # lenient: the schema judges the structure, not the YAML syntax
    return to_plain(docs[0]) if docs else None


@pytest.mark.parametrize(
    "path", ["gitrot.yaml", "secrets/payments/db-password.yaml", "secrets/api/stripe-key.yaml"]
)
def test_good_files_validate_against_the_schemas(path: str) -> None:
    validator = _schema("config" if path == C else "intent")
    errors = list(validator.iter_errors(_plain((GOOD / path).read_text())))  # type: ignore[attr-defined]
    assert errors == []


@pytest.mark.parametrize("case", sorted(case for case, row in CASES.items() if row[2]))
def test_schema_rejects_what_the_loader_rejects(case: str) -> None:
    validator = _schema("config" if case.startswith("config-") else "intent")
    text = (BAD / f"{case}.yaml").read_text()
    try:
        document = _plain(text)
    except InputError:  # not a mapping at all (a list root)
        document = [1]
    assert not validator.is_valid(document)  # type: ignore[attr-defined]


# -- a corpus through both: the loader and the JSON Schema accept the same documents --------

#: numbers and look-alikes as YAML writes them; ``1.0`` is a float to the YAML parser and,
#: with no fraction, an integer to JSON Schema (2020-12 and drafts since 6): the loader
#: takes it as one too, so both accept ``version: 1.0`` and both refuse ``version: 7.5``
NUMBERS = [
    "1", "2", "1.0", "2.0", "1e0", "3.2e1", "7.5", "0", "0.0", "-1", "-1.0", "true", "null",
    '"1"', "'2'", "0x10", "0o7", "9007199254740992", "9007199254740993", "1e300", ".inf",
    "-.inf", ".nan", "[1]", "{a: 1}", "32", "32.0", "4096", "4096.0", "4097", "7.0", "3660",
    "3660.0", "3661", "90", "90.5",
]  # fmt: skip

#: (schema, file, the line to vary): every integer field of the documents
FIELDS = [
    ("intent", INTENT, "    version: 7\n", "    version: {}\n"),
    ("intent", INTENT, "            length: 32\n", "            length: {}\n"),
    ("config", C, "waivers: waivers.yaml}", "waivers: waivers.yaml, max_waiver_days: {}}}"),
]


def _loads(schema: str, text: str, path: str) -> bool:
    try:
        if schema == "config":
            repo.parse_config(text, C)
        else:
            repo.parse_intent(text, path)
    except (InputError, ConfigError):
        return False
    return True


def _corpus() -> list[tuple[str, str, str]]:
    """(id — the path for the good files —, schema, text): each field of FIELDS set to each of NUMBERS, the good files as
    they are, and the bad corpus where the schema can express the rule."""
    cases = []
    for schema, path, line, form in FIELDS:
        good = (GOOD / path).read_text()
        assert good.count(line) == 1, (path, line)
        field = form.split(":")[-2].split()[-1].strip(" ,{")
        for number in NUMBERS:
            cases.append((f"{field}={number}", schema, good.replace(line, form.format(number))))
    for path in ("gitrot.yaml", "secrets/payments/db-password.yaml", "secrets/api/stripe-key.yaml"):
        cases.append((path, "config" if path == C else "intent", (GOOD / path).read_text()))
    for case, row in sorted(CASES.items()):
        if row[2] and case != "list-root":
            cases.append(
                (
                    case,
                    "config" if case.startswith("config-") else "intent",
                    (BAD / f"{case}.yaml").read_text(),
                )
            )
    return cases


def test_the_loader_and_the_schemas_agree_on_a_corpus() -> None:
    disagree = []
    accepted = set()
    for case, schema, text in _corpus():
        validator = _schema(schema)
        by_schema = validator.is_valid(_plain(text))  # type: ignore[attr-defined]
        by_loader = _loads(schema, text, case if case.startswith("secrets/") else INTENT)
        if by_schema != by_loader:
            disagree.append(f"{case}: schema {by_schema}, loader {by_loader}")
        if by_loader:
            accepted.add(case)
    assert disagree == []
    # what the issue found: 1.0 passes both now; a fraction passes neither
    assert {"version=1.0", "version=1e0", "length=32.0", "max_waiver_days=3660.0"} <= accepted
    assert not {"version=7.5", "version=true", 'version="1"', "version=.inf"} & accepted


def test_version_one_point_zero_is_version_one() -> None:
    text = (GOOD / INTENT).read_text().replace("    version: 7\n", "    version: 7.0\n")
    intent = repo.parse_intent(text, INTENT)
    assert intent.version == 7 and type(intent.version) is int
