"""``gitrot check`` on real repositories: one pull-request scenario per test.

``main`` holds the production database password at version 1, committed 30 days ago by a
maintainer (the ``policy`` fixture); each test branches ``pr`` off it, makes the change,
commits it with pygit2 at a known time, and asserts the exact rule ids and the exit code.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pygit2
import pytest

from tests.check.conftest import (
    API,
    DAY,
    DB,
    EMERGENCY,
    HOUR,
    MAINTAINER,
    TICKET_RULE,
    PolicyRepo,
    Run,
    ids,
    intent_path,
    make_policy,
)
from tests.conftest import make_key

INTENT = intent_path(DB)
SEALED_V2 = f"secrets/{DB}.v2.sealed.yaml"
TODAY = datetime.now(UTC).date()
ALNUM = string.ascii_letters + string.digits
FORMATS = ("text", "json", "sarif", "github", "junit", "markdown")


def rand(n: int, alphabet: str = ALNUM, seed: int = 11) -> str:
    """Secrets are built at run time, so this file itself scans clean."""
    rng = random.Random(seed * 1000 + n)
    return "".join(rng.choice(alphabet) for _ in range(n))


SALT = "5eed" * 8  # the scan allowlist's salt


def fingerprint(secret: str, salt: str | None = None) -> str:
    """The scanner's fingerprint (keyed: this process's random salt without ``salt``)."""
    from gitrot.scan.detectors import fingerprint as keyed

    mark = keyed(secret, salt)
    assert hashlib.sha256(secret.encode()).hexdigest()[:16] not in mark  # never unsalted
    return mark


def github_token() -> str:
    return "ghp_" + rand(36)


def private_key() -> str:
    body = "\n".join(rand(64, ALNUM + "+/", seed=i) for i in range(4))
    kind = "OPENSSH PRIVATE KEY"
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


def retire(policy: PolicyRepo, name: str = DB) -> None:
    """The last version of ``name``: a rotation that says ``retired: true``."""
    policy.rotate(name, reason="Retire: the payments database moves to IAM auth")
    policy.edit(
        intent_path(name), "    emergency: false\n", "    emergency: false\n    retired: true\n"
    )


def add_backend(policy: PolicyRepo, name: str = "archive") -> None:
    policy.edit(
        "gitrot.yaml",
        "  local: {type: local, path: .gitrot/store}\n",
        f"  local: {{type: local, path: .gitrot/store}}\n  {name}: "
        f"{{type: local, path: .gitrot/{name}}}\n",
    )


def waiver(rule: str, expires: object, approver: str = "alice") -> str:
    return (
        "apiVersion: gitrot/v1\nkind: Waivers\nwaivers:\n"
        f"  - rule: {rule}\n    secrets: payments/*\n"
        '    reason: "CHG-77: the vendor needs a second rotation this week"\n'
        f'    approver: {approver}\n    expires: "{expires}"\n'
    )


# -- 1. a good rotation and the PR facts ------------------------------------------------------


def test_good_rotation_of_a_prod_secret_approved_by_a_reviewer_passes(
    policy: PolicyRepo,
) -> None:
    policy.branch("pr")
    policy.rotate(DB)
    policy.commit("Rotate the payments database password", ago=HOUR)
    assert policy.check() == (0, [])


def test_without_pr_facts_the_check_fails_closed(
    policy: PolicyRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITROT_PR_AUTHOR")
    monkeypatch.delenv("GITROT_PR_APPROVALS")
    policy.branch("pr")
    policy.rotate(DB)
    policy.commit("Rotate the payments database password", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["approval-required"]
    assert found[0]["severity"] == "error" and "unknown" in found[0]["message"]
    assert found[0]["file"] == INTENT and "GITROT_PR_APPROVALS" in found[0]["hint"]


def test_an_approval_by_the_author_alone_does_not_count(
    policy: PolicyRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITROT_PR_APPROVALS", "dev")
    policy.branch("pr")
    policy.rotate(DB)
    policy.commit("Rotate the payments database password", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["approval-required"]
    assert found[0]["severity"] == "error"


def test_unknown_approvals_fail_closed(policy: PolicyRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITROT_PR_APPROVALS")  # the author is known, the reviews are not
    policy.branch("pr")
    policy.rotate(DB)
    policy.commit("Rotate the payments database password", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["approval-required"]
    assert found[0]["severity"] == "error" and "GITROT_PR_AUTHOR" in found[0]["hint"]


# -- 2-4. versions ------------------------------------------------------------------------


def test_double_bump(policy: PolicyRepo) -> None:
    policy.branch("pr")
    policy.rotate(DB)
    policy.edit(INTENT, "version: 2\n", "version: 3\n")
    policy.commit("Rotate twice", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["version-step"]
    assert (found[0]["file"], found[0]["line"]) == (INTENT, 10)


def test_downgrade(policy: PolicyRepo) -> None:
    policy.rotate(DB)
    policy.commit("Rotate", ago=10 * DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.edit(INTENT, "version: 2\n", "version: 1\n")
    policy.commit("Roll back to version 1", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["version-step"]


def test_a_recreated_intent_may_not_reuse_a_version(policy: PolicyRepo) -> None:
    retire(policy)
    policy.commit("Retire the payments database password", ago=20 * DAY, author=MAINTAINER)
    policy.delete(INTENT)
    policy.commit("Delete the retired payments database password", ago=10 * DAY)
    policy.branch("pr")
    policy.new(DB)
    policy.commit("Bring the payments database password back", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["version-reused"]
    assert "reached version 2" in found[0]["message"]
    # continuing above the old versions is right
    policy.edit(INTENT, "version: 1\n", "version: 3\n")
    policy.commit("Continue at version 3", ago=HOUR // 2)
    assert policy.check() == (0, [])


# -- 5-8. sealed values ---------------------------------------------------------------------


@pytest.fixture
def sealed(policy: PolicyRepo) -> PolicyRepo:
    """``main`` with version 2 of the password supplied by a vendor, 10 days ago."""
    policy.rotate(DB, reason="Vendor issued a new password", value="vendor-pass-4e1f9a")
    policy.commit("Seal the vendor's password", ago=10 * DAY, author=MAINTAINER)
    policy.branch("pr")
    return policy


def test_an_edited_sealed_file(sealed: PolicyRepo) -> None:
    sealed.edit(SEALED_V2, "    version: 2\n", "    version: 2\n# edited\n")
    sealed.commit("Touch the sealed value", ago=HOUR)
    code, found = sealed.check()
    assert code == 1 and ids(found) == ["sealed-immutable"]
    assert found[0]["file"] == SEALED_V2 and "modifies" in found[0]["message"]


def test_a_deleted_sealed_file(sealed: PolicyRepo) -> None:
    sealed.delete(SEALED_V2)
    sealed.commit("Remove the sealed value", ago=HOUR)
    code, found = sealed.check()
    assert code == 1 and ids(found) == ["sealed-immutable"]
    assert found[0]["file"] == SEALED_V2 and "deletes" in found[0]["message"]


def test_a_sealed_rotation_done_right(policy: PolicyRepo) -> None:
    policy.branch("pr")
    policy.rotate(DB, reason="Vendor issued a new password", value="vendor-pass-4e1f9a")
    policy.commit("Seal the vendor's password", ago=HOUR)
    assert policy.check() == (0, [])


def test_an_intent_pointing_at_a_sealed_file_the_change_lacks(policy: PolicyRepo) -> None:
    policy.branch("pr")
    policy.rotate(DB, reason="Vendor issued a new password", value="vendor-pass-4e1f9a")
    policy.delete(SEALED_V2)
    policy.commit("Seal the vendor's password (forgot the file)", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["sealed-missing"]
    assert (found[0]["file"], found[0]["line"]) == (INTENT, 17)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (re.compile(r"value: ENC\[[^\n]*\]"), "value: Vendor-Pass-4e1f9a"),
        (re.compile(r"    version: 2\n"), "    version: 3\n"),
    ],
    ids=["cleartext-value", "wrong-version"],
)
def test_a_broken_sealed_document_is_a_finding(
    policy: PolicyRepo, old: re.Pattern[str], new: str
) -> None:
    policy.branch("pr")
    policy.rotate(DB, reason="Vendor issued a new password", value="Vendor-Pass-4e1f9a")
    text = policy.read(SEALED_V2)
    assert len(old.findall(text)) == 1
    policy.write(SEALED_V2, old.sub(new, text))
    policy.commit("Seal the vendor's password", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and SEALED_V2 in {f["file"] for f in found}


def test_rotating_a_sealed_intent_again_gives_a_valid_intent(sealed: PolicyRepo) -> None:
    result = sealed.run("rotate", DB, "--reason", "Back to a generated password CHG-2300")
    if result.code == 0:  # refusing would be right too
        sealed.commit("Rotate", ago=HOUR)
        code, found = sealed.check()
        assert (code, found) == (0, []), [f["message"] for f in found]


# -- 9-10. deleted intents ----------------------------------------------------------------


def test_deleting_an_intent_that_was_not_retired(policy: PolicyRepo) -> None:
    policy.branch("pr")
    policy.delete(INTENT)
    policy.commit("Drop the payments database password", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["intent-deleted"]
    assert found[0]["file"] == INTENT


def test_deleting_an_intent_after_its_retired_version(policy: PolicyRepo) -> None:
    retire(policy)
    policy.commit("Retire the payments database password", ago=10 * DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.delete(INTENT)
    policy.commit("Delete the retired payments database password", ago=HOUR)
    assert policy.check() == (0, [])


# -- 11-14. secrets in the change -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "line", "secret", "rule"),
    [
        ("README.md", "Connect with DB_PASSWORD={}\n", rand(24), "high-entropy-secret"),
        ("deploy/config.yaml", "db:\n  password: {}\n", "Tr0ub4dor&3", "plaintext-password"),
    ],
    ids=["readme", "config"],
)
def test_a_plaintext_password_outside_secrets(
    policy: PolicyRepo,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    line: str,
    secret: str,
    rule: str,
) -> None:
    policy.branch("pr")
    policy.write(path, "# Payments\n\n" + line.format(secret))
    policy.commit("Document the database", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == [rule]
    assert found[0]["file"] == path and found[0]["line"] == 3 + line.count("\n") - 1
    assert found[0]["fingerprint"] == fingerprint(secret)
    monkeypatch.delenv("GITROT_PR_AUTHOR")  # every kind of finding, every format
    for fmt in FORMATS:
        result = policy.check_raw("--format", fmt)
        assert result.code == 1
        assert secret not in result.out and secret not in result.err, fmt


def test_a_token_in_a_commit_message(policy: PolicyRepo) -> None:
    token = github_token()
    policy.branch("pr")
    policy.rotate(DB)
    policy.commit(f"Rotate the password\n\nThe old CI token was {token}\n", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["github-token"]
    assert found[0]["file"] == "" and found[0]["message"].startswith("commit ")
    assert "message, line 3" in found[0]["message"]
    assert found[0]["fingerprint"] == fingerprint(token)
    assert token not in policy.check_raw("--format", "sarif").out


def test_a_private_key_block(policy: PolicyRepo) -> None:
    policy.branch("pr")
    policy.write("deploy/id_ed25519", private_key())
    policy.commit("Add the deploy key", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["private-key"]
    assert (found[0]["file"], found[0]["line"]) == ("deploy/id_ed25519", 1)


def test_an_allowlisted_fingerprint_passes(policy: PolicyRepo) -> None:
    secret = "Tr0ub4dor&3"
    policy.write(
        ".gitrot-scan-allow.yaml",
        f"salt: {SALT}\nallow:\n  - fingerprint: {fingerprint(secret, SALT)}\n"
        "    reason: the password of the throwaway test database\n",
    )
    policy.commit("Allow the test fixture's password", ago=DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.write("deploy/config.yaml", f"password: {secret}\n")
    policy.commit("Add the test fixture's password", ago=2 * HOUR)
    assert policy.check() == (0, [])


# -- 15-16. targets and backends ------------------------------------------------------------


def test_a_changed_ref_is_a_warning(policy: PolicyRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(policy.policy / ".gitrot" / "reconciler.key"))
    policy.branch("pr")
    clear = policy.gitrot("decrypt", INTENT).out
    assert clear.count(f"{DB}#value") == 1
    policy.write(INTENT, clear.replace(f"{DB}#value", "payments/db-2026#value"))
    policy.gitrot("encrypt", "-i", INTENT)
    policy.commit("Move the password to the 2026 database", ago=HOUR)
    code, found = policy.check()
    assert code == 0 and ids(found) == ["target-changed"]
    assert found[0]["severity"] == "warning" and found[0]["line"] == 15


def test_a_changed_backend_is_a_warning(policy: PolicyRepo) -> None:
    add_backend(policy)
    policy.commit("Declare the archive backend", ago=20 * DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.edit(INTENT, "backend: local", "backend: archive")
    policy.commit("Move the password to the archive", ago=HOUR)
    code, found = policy.check()
    assert code == 0 and ids(found) == ["target-changed"]
    assert "from backend 'local' to 'archive'" in found[0]["message"]


def test_an_unknown_backend(policy: PolicyRepo) -> None:
    policy.branch("pr")
    policy.new(API, environment="dev", rotation_class="api-key")
    policy.edit(intent_path(API), "backend: local", "backend: vault-prod")
    policy.commit("Add the search api key", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["backend-exists"]
    assert found[0]["file"] == intent_path(API)


# -- 17-19. freezes and emergencies ---------------------------------------------------------


@pytest.fixture
def frozen(policy: PolicyRepo) -> PolicyRepo:
    """A freeze of prod from yesterday to tomorrow, declared on ``main`` 20 days ago."""
    freeze = (
        f'freezes:\n  - {{from: "{TODAY - timedelta(days=1)}", '
        f'to: "{TODAY + timedelta(days=1)}", environments: [prod]}}\n'
    )
    policy.edit("gitrot.yaml", "freezes: []\n", freeze)
    policy.commit("Freeze prod over the release", ago=20 * DAY, author=MAINTAINER)
    policy.branch("pr")
    return policy


def test_a_rotation_in_a_freeze_window(frozen: PolicyRepo) -> None:
    frozen.rotate(DB)
    frozen.commit("Rotate", ago=HOUR)
    code, found = frozen.check()
    assert code == 1 and ids(found) == ["freeze-window"]


def test_an_emergency_rotation_in_a_freeze_window(frozen: PolicyRepo) -> None:
    frozen.rotate(DB, "--emergency", reason=EMERGENCY)
    frozen.commit("Rotate the leaked password", ago=HOUR)
    assert frozen.check() == (0, [])


def test_an_emergency_needs_a_long_reason(frozen: PolicyRepo) -> None:
    frozen.rotate(DB, "--emergency", reason="leaked key")
    frozen.commit("Rotate the leaked password", ago=HOUR)
    code, found = frozen.check()
    assert code == 1 and ids(found) == ["reason-required"]
    assert (found[0]["file"], found[0]["line"]) == (INTENT, 11)


# -- 20-22. min interval and waivers --------------------------------------------------------


@pytest.fixture
def rotated(policy: PolicyRepo) -> PolicyRepo:
    """``main`` rotated the password an hour ago (alice owns the policy and approves
    waivers); ``pr`` rotates it again."""
    policy.govern(owners=("alice",), approvers=("alice",))
    policy.rotate(DB)
    policy.commit("Rotate", ago=HOUR, author=MAINTAINER)
    policy.branch("pr")
    policy.rotate(DB, reason="Rotate again for the new replica CHG-2300")
    return policy


def test_a_rotation_within_the_min_interval(rotated: PolicyRepo) -> None:
    rotated.commit("Rotate again", ago=HOUR // 2)
    code, found = rotated.check()
    assert code == 1 and ids(found) == ["min-interval"]


def test_a_waiver_covers_the_min_interval(rotated: PolicyRepo) -> None:
    rotated.write("waivers.yaml", waiver("min-interval", TODAY + timedelta(days=7)))
    rotated.commit("Rotate again, with a waiver", ago=HOUR // 2)
    code, found = rotated.check()
    assert code == 0 and ids(found) == ["min-interval", "policy-changed"]
    waived, changed = sorted(found, key=lambda f: f["rule_id"])
    assert waived["waived"].startswith("waived by alice until")
    assert (
        changed["severity"] == "warning"
        and "approved by policy owner alice" in (changed["message"])
    )


def test_an_expired_waiver_changed_in_the_pr(policy: PolicyRepo) -> None:
    policy.govern(owners=("alice",), approvers=("alice",))
    policy.commit("Name the policy owners", ago=DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.write("waivers.yaml", waiver("max-age", TODAY - timedelta(days=1)))
    policy.commit("Waive the max age", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["policy-changed", "waiver-expired"]
    expired = next(f for f in found if f["rule_id"] == "waiver-expired")
    assert (expired["file"], expired["line"]) == ("waivers.yaml", 4)


# -- 23. recipients -------------------------------------------------------------------------


@pytest.fixture
def break_glass(
    gitrot: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pr_facts: None
) -> PolicyRepo:
    """``main`` with the password encrypted to the reconciler and a break-glass key."""
    repo = make_policy(gitrot, tmp_path / "policy", monkeypatch)
    recipient = make_key(tmp_path, "break-glass.txt").recipient
    reconciler = repo.read("gitrot.yaml").split("reconciler: ", 1)[1].split("\n", 1)[0]
    repo.edit("gitrot.yaml", "recipients:\n", f"recipients:\n  break-glass: {recipient}\n")
    both = f"      - {reconciler}\n      - {recipient}\n"
    repo.write(".sops.yaml", repo.read(".sops.yaml").replace(f"      - {reconciler}\n", both))
    repo.new(DB)
    repo.commit("Add the payments database password", ago=30 * DAY, author=MAINTAINER)
    repo.branch("pr")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(repo.policy / ".gitrot" / "reconciler.key"))
    return repo


def drop_break_glass(repo: PolicyRepo, *, from_config: bool) -> None:
    """Remove the break-glass key from .sops.yaml (and gitrot.yaml); updatekeys the intent."""
    line = next(x for x in repo.read("gitrot.yaml").splitlines() if "break-glass: " in x)
    recipient = line.split(": ", 1)[1]
    repo.write(".sops.yaml", repo.read(".sops.yaml").replace(f"      - {recipient}\n", ""))
    if from_config:
        repo.edit("gitrot.yaml", line + "\n", "")
    repo.gitrot("updatekeys", INTENT)


def test_a_removed_recipient_still_named_in_gitrot_yaml(break_glass: PolicyRepo) -> None:
    drop_break_glass(break_glass, from_config=False)
    break_glass.commit("Drop the break-glass key", ago=HOUR)
    code, found = break_glass.check()
    assert code == 1
    assert ids(found) == ["policy-changed", "recipients-removed", "recipients-required"]
    assert {(f["rule_id"], f["severity"], f["file"]) for f in found} == {
        ("policy-changed", "error", ".sops.yaml"),
        ("recipients-removed", "warning", INTENT),
        ("recipients-required", "error", INTENT),
    }


def test_a_removed_recipient_dropped_from_gitrot_yaml_too(break_glass: PolicyRepo) -> None:
    """The base still requires the break-glass recipient: dropping it loosens the policy,
    which a pull request cannot do to itself (the base's recipients-required holds)."""
    drop_break_glass(break_glass, from_config=True)
    break_glass.commit("Retire the break-glass key", ago=HOUR)
    code, found = break_glass.check()
    assert code == 1
    assert ids(found) == [
        "policy-changed",
        "policy-changed",
        "recipients-removed",
        "recipients-required",
    ]
    messages = " ".join(f["message"] for f in found if f["rule_id"] == "policy-changed")
    assert "recipient 'break-glass' removed" in messages
    assert ".sops.yaml recipient removed: age1" in messages


# -- 24. a change of what every intent is judged by ------------------------------------------


def test_a_config_change_rejudges_untouched_intents(policy: PolicyRepo) -> None:
    add_backend(policy)
    policy.new(API, environment="dev", rotation_class="api-key", backend="archive")
    policy.new("search/reader-key", environment="dev", rotation_class="api-key", backend="archive")
    policy.commit("Add the search keys", ago=20 * DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.edit("gitrot.yaml", "  archive: {type: local, path: .gitrot/archive}\n", "")
    policy.commit("Drop the archive backend", ago=HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["backend-exists", "backend-exists", "policy-changed"]
    changed = next(f for f in found if f["rule_id"] == "policy-changed")
    assert "backend 'archive' removed (was type local" in changed["message"]
    assert sorted(f["file"] for f in found if f["rule_id"] != "policy-changed") == [
        intent_path("search/api-key"),
        intent_path("search/reader-key"),
    ]


# -- 25. merges: only the pull request's own changes ------------------------------------------


@pytest.mark.parametrize("merged", [True, False], ids=["main-merged-into-pr", "pr-behind-main"])
def test_only_the_pull_requests_own_changes_are_judged(policy: PolicyRepo, merged: bool) -> None:
    policy.new(API, environment="dev", rotation_class="api-key")
    policy.commit("Add the search api key", ago=25 * DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.rotate(DB)
    policy.edit(INTENT, "version: 2\n", "version: 3\n")
    policy.commit("Rotate twice", ago=3 * DAY)
    policy.checkout("main")  # main moves on with its own mistakes
    policy.edit(intent_path(API), "version: 1\n", "version: 5\n")
    policy.commit(f"Bump the api key\n\ntoken {github_token()}\n", ago=2 * DAY)
    policy.checkout("pr")
    if merged:
        policy.merge("main", ago=DAY)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["version-step"]
    assert found[0]["file"] == INTENT


# -- 26. bare clones and detached heads -------------------------------------------------------


def test_a_bare_clone_and_a_detached_head_agree_with_the_work_tree(
    policy: PolicyRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy.branch("pr")
    policy.rotate(DB)
    policy.edit(INTENT, "version: 2\n", "version: 3\n")
    policy.write("README.md", f"password = {rand(24)}\n")
    policy.commit("Rotate twice and document it", ago=HOUR)
    expected = policy.check()
    assert expected[0] == 1 and ids(expected[1]) == ["high-entropy-secret", "version-step"]

    bare = tmp_path / "bare.git"
    pygit2.clone_repository(str(policy.root), str(bare), bare=True)
    origin = ("--head", "origin/pr")
    assert policy.check("--repo", str(bare), *origin, base="origin/main") == expected
    monkeypatch.chdir(bare)
    assert policy.check(*origin, base="origin/main") == expected

    monkeypatch.chdir(policy.root)
    pr_tip = policy.git.branches.local["pr"].target
    policy.checkout("main")  # the work tree shows main; HEAD is pr's commit, detached
    policy.git.set_head(pr_tip)
    assert policy.git.head_is_detached
    assert policy.check() == expected


# -- 27. bad input ---------------------------------------------------------------------------


def test_no_change_passes(policy: PolicyRepo) -> None:
    policy.branch("pr")
    assert policy.check() == (0, [])


@pytest.mark.parametrize(
    ("args", "base", "what"),
    [
        ((), "no-such-branch", "unknown revision 'no-such-branch'"),
        (("--head", "no-such-branch"), "main", "unknown revision 'no-such-branch'"),
        (("--head", "lonely"), "main", "'main' and 'lonely' share no history"),
    ],
    ids=["unknown-base", "unknown-head", "unrelated-history"],
)
def test_bad_revisions_are_a_one_line_error(
    policy: PolicyRepo, args: tuple[str, ...], base: str, what: str
) -> None:
    signature = pygit2.Signature(*MAINTAINER, 0, 0)
    empty = policy.git.TreeBuilder().write()
    policy.git.create_commit("refs/heads/lonely", signature, signature, "lonely", empty, [])
    result = policy.check_raw("--format", "json", *args, base=base)
    assert result.code == 2 and result.out == ""
    error, hint = result.err.splitlines()
    assert error.startswith(f"gitrot: error: {what} (")
    assert hint.startswith("hint: ")


# -- 28. a policy repository in a folder of the git tree --------------------------------------


@pytest.fixture
def monorepo(
    gitrot: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pr_facts: None
) -> PolicyRepo:
    """A git tree with an app in ``app/`` and the policy repository in ``policy/`` (the
    current directory); ``pr`` double-bumps the password and commits a password in the app."""
    top = tmp_path / "monorepo"
    pygit2.init_repository(str(top), initial_head="main")
    assert gitrot("init", str(top / "policy")).code == 0
    monkeypatch.chdir(top / "policy")
    repo = PolicyRepo(top, gitrot, prefix="policy")
    repo.write("../app/main.py", "print('hello')\n")
    repo.new(DB)
    repo.commit("Add the payments database password", ago=30 * DAY, author=MAINTAINER)
    repo.branch("pr")
    repo.rotate(DB)
    repo.edit(INTENT, "version: 2\n", "version: 3\n")
    repo.write("../app/settings.yaml", "password: Tr0ub4dor&3\n")
    repo.commit("Rotate twice; configure the app", ago=HOUR)
    return repo


@pytest.mark.parametrize("how", ["prefix", "cwd", "repo"])
def test_a_policy_repository_in_a_subfolder(
    monorepo: PolicyRepo, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "prefix":
        monkeypatch.chdir(monorepo.root)
        code, found = monorepo.check("--prefix", "policy")
    elif how == "repo":
        monkeypatch.chdir(monorepo.root.parent)
        code, found = monorepo.check("--repo", str(monorepo.policy))
    else:
        code, found = monorepo.check()
    assert code == 1
    # every format names files from the top of the git tree
    assert sorted((f["rule_id"], f["file"]) for f in found) == [
        ("plaintext-password", "app/settings.yaml"),
        ("version-step", f"policy/{INTENT}"),
    ]


def test_annotations_from_a_subfolder_name_files_from_the_top(monorepo: PolicyRepo) -> None:
    result = monorepo.check_raw("--format", "github")
    files = sorted(line.split(",", 1)[0] for line in result.out.splitlines())
    assert files == ["::error file=app/settings.yaml", f"::error file=policy/{INTENT}"]


# -- 29. report formats ----------------------------------------------------------------------


NOTE_RULE = """\
apiVersion: gitrot/v1
kind: PolicyRules
rules:
  - id: rotation-noted
    severity: info
    description: Every rotation is noted for the audit.
    field: spec.version
    expr: "!change.rotation"
    message: a rotation, noted for the audit
"""


@pytest.fixture
def mixed(policy: PolicyRepo) -> PolicyRepo:
    """A change with an error, a warning and an info finding."""
    add_backend(policy)
    policy.write("policies/notes.yaml", NOTE_RULE)
    policy.commit("Declare the archive backend", ago=20 * DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.rotate(DB)
    policy.edit(INTENT, "version: 2\n", "version: 3\n")
    policy.edit(INTENT, "backend: local", "backend: archive")
    policy.commit("Rotate twice and move", ago=HOUR)
    code, found = policy.check()
    assert code == 1
    assert ids(found) == ["rotation-noted", "target-changed", "version-step"]
    return policy


def test_sarif_is_valid_sarif_2_1_0(mixed: PolicyRepo) -> None:
    import jsonschema

    from gitrot.files import resources

    result = mixed.check_raw("--format", "sarif")
    assert result.code == 1
    document = json.loads(result.out)
    schema = json.loads(resources.schema_text("sarif-schema-2.1.0.json"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    assert not [e.message for e in validator.iter_errors(document)]
    (run,) = document["runs"]
    results = sorted((r["ruleId"], r["level"]) for r in run["results"])
    assert results == [
        ("rotation-noted", "note"),
        ("target-changed", "warning"),
        ("version-step", "error"),
    ]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert rules["target-changed"]["shortDescription"]["text"] != "target-changed"


def test_junit_parses_as_junit(mixed: PolicyRepo) -> None:
    result = mixed.check_raw("--format", "junit")
    assert result.code == 1
    root = ET.fromstring(result.out)  # noqa: S314 (gitrot's own output)
    assert root.tag in {"testsuites", "testsuite"}
    cases = root.iter("testcase")
    failures = [c for c in cases if c.find("failure") is not None]
    assert failures and all(c.get("name") for c in failures)
    assert any("version-step" in ET.tostring(c, encoding="unicode") for c in failures)


def test_github_annotations(mixed: PolicyRepo) -> None:
    result = mixed.check_raw("--format", "github")
    assert result.code == 1
    lines = [line for line in result.out.splitlines() if line.startswith("::")]
    assert f"::error file={INTENT},line=10,col=5,title=[version-step]::" in "\n".join(lines)
    assert any(line.startswith(f"::warning file={INTENT},") for line in lines)
    assert any(line.startswith(f"::notice file={INTENT},") for line in lines)


def test_markdown_summary(mixed: PolicyRepo) -> None:
    result = mixed.check_raw("--format", "markdown")
    assert result.code == 1
    assert result.out.startswith("### ❌ gitrot check: 1 error")
    assert f"| `{INTENT}` | 10:5 |" in result.out


def test_text_and_output_file(mixed: PolicyRepo, tmp_path: Path) -> None:
    result = mixed.check_raw()
    assert result.code == 1
    assert f"{INTENT}:10:5: error: [version-step]" in result.out
    assert result.err.startswith("gitrot: 1 error, 1 warning")
    report = tmp_path / "report.json"
    result = mixed.check_raw("--format", "json", "--output", str(report))
    assert result.code == 1 and result.out == ""
    assert ids(json.loads(report.read_text())) == [
        "rotation-noted",
        "target-changed",
        "version-step",
    ]


# -- 30. the repository's own rules ----------------------------------------------------------


def test_a_repository_rule_is_applied(policy: PolicyRepo) -> None:
    policy.write("policies/ticket.yaml", TICKET_RULE)
    policy.commit("Require tickets", ago=20 * DAY, author=MAINTAINER)
    policy.branch("pr")
    policy.rotate(DB, reason="Quarterly rotation")
    policy.commit("Rotate without a ticket", ago=2 * HOUR)
    code, found = policy.check()
    assert code == 1 and ids(found) == ["reason-names-a-ticket"]
    policy.rotate(DB, reason="Quarterly rotation CHG-2291")
    policy.edit(INTENT, "version: 3\n", "version: 2\n")
    policy.commit("Name the ticket", ago=HOUR)
    assert policy.check() == (0, [])


def test_a_broken_rule_file_is_an_input_error(policy: PolicyRepo) -> None:
    policy.branch("pr")
    policy.write("policies/ticket.yaml", TICKET_RULE.replace("matches(", "matches(("))
    policy.commit("Require tickets", ago=HOUR)
    result = policy.check_raw("--format", "json")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("gitrot: error: ") and "policies/ticket.yaml" in result.err
