"""The reconciler trusts no record it did not verify, never blocks on one, and lets no
secret take another's location (issue 10, items 3, 5 and 7; the note's size).

(a) Forged records: a note whose ledger claims the new version, a state commit that is
unsigned, signed by another key, or corrupt: a one-line warning, every intent compared with
the backend, and the rotation applied; then the state verifies again (also with
``git verify-commit``, gpg.format=ssh).
(b) Malformed notes (not JSON, ``version: 1e400``) on the reconciled and the target commit
never block a run.
(c) ``dev/innocent`` takes the ref of ``payments/db-password`` (starting at version 4 with a
sealed attacker value, merged through a pull request): refused by reconcile, by the
backend's records and, when those are gone, by the state's ownership hashes; ``gitrot
exec`` still hands out the owner's value, and refuses a version written for another name.
(d) One broken sealed value among good ones: the good ones are applied and recorded, and a
rerun tells their consumers nothing again.
(e) SIGTERM mid-run, then a normal run: every version written once, every consumer told
with its one delivery id.
(f) No value and no ref in any object of the state or the notes.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from typing import TYPE_CHECKING, Any

import pygit2

from gitrot.backends.base import idempotency_key
from gitrot.git import sshsig
from tests.reconcile.conftest import intent_name
from tests.reconcile.helpers import (
    Store,
    cli,
    environment,
    expected_delivery,
    git,
    logger_trigger,
    read_log,
    run,
    start,
)

if TYPE_CHECKING:
    from pathlib import Path

    from tests.reconcile.conftest import MakeRepo
    from tests.reconcile.helpers import PolicyRepo

STATE = "refs/gitrot/state"
OWNER, OWNER_REF = "payments/db-password", "pg-prod/main-cluster/app-user"
ATTACKER = "dev/innocent"


def merge(repo: PolicyRepo, branch: str, change: Any, message: str) -> str:
    """``change(repo)`` committed on ``branch``, then merged into main (no fast-forward)."""
    git(repo.root, "checkout", "--quiet", "-b", branch)
    change(repo)
    repo.commit(message)
    git(repo.root, "checkout", "--quiet", "main")
    git(repo.root, "merge", "--quiet", "--no-ff", "--no-edit", branch)
    return repo.head()


def plan(repo: PolicyRepo, *args: str) -> tuple[int, dict[str, str], str]:
    done = run(repo.root, "plan", "--format", "json", *args)
    assert done.returncode in (0, 1), done.stderr
    items = {i["name"]: i["action"] for i in json.loads(done.stdout)["items"]}
    return done.returncode, items, done.stderr


def reconcile(repo: PolicyRepo, *args: str) -> subprocess.CompletedProcess[str]:
    done = run(repo.root, "reconcile", "--format", "json", *args)
    assert "unexpected" not in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done


def rotated(make_repo: MakeRepo, count: int = 2) -> PolicyRepo:
    """``count`` intents reconciled at version 1, then the first rotated to 2 (merged, not
    yet reconciled)."""
    repo = make_repo(count)
    assert reconcile(repo).returncode == 0
    repo.rotate(intent_name(0))
    repo.commit("Rotate the first secret")
    return repo


def forge_state(repo: PolicyRepo, *, sign_with: bytes | None = None, tree: str = "") -> str:
    """A state commit claiming every intent at HEAD settled (``intents/`` = HEAD's
    ``secrets/``, the entries claiming HEAD's blobs and versions), unsigned or signed with
    the private key ``sign_with``; on ``refs/gitrot/state``."""
    pg = pygit2.Repository(str(repo.root))
    if not tree:
        old = pg.revparse_single(STATE).peel(pygit2.Tree)
        builder = pg.TreeBuilder(old)
        builder.insert("intents", pg.revparse_single("HEAD:secrets").id, pygit2.GIT_FILEMODE_TREE)
        entries = pg.TreeBuilder(pg[old["secrets"].id])
        forged: dict[str, bytes] = {}
        for name, blob in repo.blobs().items():
            version = repo.desired[name]
            entry = {"name": name, "blob": blob, "version": version, "backend": "local"}
            entry |= {"backend_version_id": f"v{version}.age"}
            entry |= {"key": idempotency_key(name, version), "deliveries": {}, "owns": []}
            forged[name] = json.dumps(entry).encode()
        tree = str(builder.write())
        for name, data in forged.items():
            team, leaf = name.split("/")
            sub = pg.TreeBuilder(pg[entries.get(team).id])
            sub.insert(f"{leaf}.json", pg.create_blob(data), pygit2.GIT_FILEMODE_BLOB)
            entries.insert(team, sub.write(), pygit2.GIT_FILEMODE_TREE)
        builder = pg.TreeBuilder(pg[tree])
        builder.insert("secrets", entries.write(), pygit2.GIT_FILEMODE_TREE)
        tree = str(builder.write())
    who = pygit2.Signature("gitrot reconciler", "gitrot@localhost")
    parent = [pg.lookup_reference(STATE).target]
    if sign_with is None:
        oid = pg.create_commit(None, who, who, "forged\n", tree, parent)
    else:
        content = str(pg.create_commit_string(who, who, "forged\n", tree, parent))
        armored = sshsig.sign(sshsig.load_private(sign_with), content.encode())
        oid = pg.create_commit_with_signature(content, armored, "gpgsig")
    git(repo.root, "update-ref", STATE, str(oid))
    return str(oid)


def assert_rotation_applied_after_a_warning(repo: PolicyRepo, why: str) -> None:
    code, items, stderr = plan(repo)
    assert (code, items.get(intent_name(0))) == (0, "write"), (items, stderr)
    [warning] = [line for line in stderr.splitlines() if "warning" in line]
    assert "refs/gitrot/state is not trusted" in warning and why in warning, warning
    assert "comparing every intent with its backend" in warning
    done = reconcile(repo)
    assert done.returncode == 0, done.stderr
    applied = {a["name"]: a["version"] for a in json.loads(done.stdout)["applied"]}
    assert applied[intent_name(0)] == 2
    assert [v.version for v in repo.backend().versions(intent_name(0))] == [1, 2]
    again = run(repo.root, "plan", "--format", "json")  # signed again: trusted, nothing to do
    assert (again.returncode, json.loads(again.stdout)["items"]) == (0, [])
    assert "warning" not in again.stderr, again.stderr


# --- (a) forged records --------------------------------------------------------------------


def test_a_forged_note_ledger_claiming_the_rotation_changes_nothing(make_repo: MakeRepo) -> None:
    repo = rotated(make_repo)
    previous = repo.reconciled()
    assert previous is not None
    note = repo.note(previous)
    assert note is not None and "ledger" not in note  # notes no longer carry the state
    name = intent_name(0)
    note["ledger"] = {
        name: {"blob": repo.blobs()[name], "version": 2, "backend": "local",
               "backend_version_id": "v2.age", "key": idempotency_key(name, 2),
               "deliveries": {"api": {"delivery_id": "x", "ok": True, "at": 1}}},
    }  # fmt: skip
    for rev in (previous, "HEAD"):
        git(repo.root, "notes", "--ref", "gitrot", "add", "-f", "-m", json.dumps(note), rev)
    code, items, _ = plan(repo)
    assert (code, items) == (0, {name: "write"})
    assert reconcile(repo).returncode == 0
    assert [v.version for v in repo.backend().versions(name)] == [1, 2]


def test_an_unsigned_state_is_ignored_with_a_warning(make_repo: MakeRepo) -> None:
    repo = rotated(make_repo)
    forge_state(repo)
    assert_rotation_applied_after_a_warning(repo, "is not signed")


def test_a_state_signed_by_another_key_is_ignored_with_a_warning(make_repo: MakeRepo) -> None:
    repo = rotated(make_repo)
    other, _ = sshsig.generate()
    forge_state(repo, sign_with=other)
    assert_rotation_applied_after_a_warning(repo, "signed by another key")


def test_a_corrupt_or_unknown_state_is_ignored_with_a_warning(make_repo: MakeRepo) -> None:
    repo = rotated(make_repo)
    key = (repo.root / ".gitrot" / "signing.key").read_bytes()
    pg = pygit2.Repository(str(repo.root))
    junk = pg.TreeBuilder()
    junk.insert("state.json", pg.create_blob(b"{ not json"), pygit2.GIT_FILEMODE_BLOB)
    forge_state(repo, sign_with=key, tree=str(junk.write()))  # signed right, unreadable
    assert_rotation_applied_after_a_warning(repo, "corrupt")
    repo.rotate(intent_name(0))
    repo.commit("Rotate again")
    unknown = pg.TreeBuilder()
    meta = b'{"gitrot_state": 99}'
    unknown.insert("state.json", pg.create_blob(meta), pygit2.GIT_FILEMODE_BLOB)
    forge_state(repo, sign_with=key, tree=str(unknown.write()))
    _, items, stderr = plan(repo)
    assert items[intent_name(0)] == "write" and "format 99" in stderr
    blob = pg.create_blob(b"not a commit")
    git(repo.root, "update-ref", STATE, str(blob))  # the ref names a blob
    _, items, stderr = plan(repo)
    assert items[intent_name(0)] == "write" and "does not name a commit" in stderr


def test_the_state_is_a_git_verifiable_ssh_signature(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo(1)
    assert reconcile(repo).returncode == 0
    config = (repo.root / "gitrot.yaml").read_text()
    public = re.search(r"signing_key: (ssh-ed25519 \S+)", config)
    assert public is not None
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"gitrot@localhost {public[1]}\n")
    done = subprocess.run(
        ["git", "-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={allowed}",
         "verify-commit", STATE],
        cwd=repo.root, env=environment(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert 'Good "git" signature' in done.stderr
    _, other_public = sshsig.generate()
    allowed.write_text(f"gitrot@localhost {other_public}\n")
    done = subprocess.run(
        ["git", "-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={allowed}",
         "verify-commit", STATE],
        cwd=repo.root, env=environment(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode != 0


def test_init_adds_a_signing_key_to_a_repository_without_one(make_repo: MakeRepo) -> None:
    repo = make_repo(1)
    config = repo.root / "gitrot.yaml"
    text = config.read_text()
    config.write_text(
        re.sub(r"(?ms)^# the public key.*?^reconciler:\n  signing_key: .*?\n", "", text)
    )
    (repo.root / ".gitrot" / "signing.key").unlink()
    repo.commit("An older repository: no signing key")
    first = reconcile(repo)
    assert first.returncode == 0, first.stderr
    code, items, stderr = plan(repo)  # unsigned state: not trusted, says how to fix it
    assert "no reconciler.signing_key" in stderr and "gitrot init" in stderr
    assert cli(repo.root.parent, "init", repo.root.name) == 0
    assert "reconciler:\n  signing_key: ssh-ed25519 " in config.read_text()
    key = repo.root / ".gitrot" / "signing.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert "signing.key" not in git(repo.root, "status", "--porcelain", "--ignored=no")
    repo.commit("Add the reconciler's signing key")
    assert reconcile(repo).returncode == 0
    code, items, stderr = plan(repo)
    assert (code, items, "warning" in stderr) == (0, {}, False), stderr


# --- (b) malformed notes -------------------------------------------------------------------


def test_malformed_notes_never_block_a_run(make_repo: MakeRepo) -> None:
    repo = rotated(make_repo)
    previous = repo.reconciled()
    assert previous is not None
    name = intent_name(0)
    huge = json.dumps({"gitrot_note": 1, "ledger": {name: {"version": "VERSION"}}})
    for text in ("{ this is not json", huge.replace('"VERSION"', "1e400")):
        for rev in (previous, "HEAD"):
            git(repo.root, "notes", "--ref", "gitrot", "add", "-f", "-m", text, rev)
        code, items, _ = plan(repo)
        assert code == 0 and items.get(name) in ("write", None)
    git(repo.root, "notes", "--ref", "gitrot", "add", "-f", "-m", "{ not json", "HEAD")
    done = reconcile(repo)
    assert done.returncode == 0, done.stderr
    assert "is not one gitrot wrote; replacing it" in done.stderr
    note = repo.note()
    assert note is not None and note["gitrot_note"] == 2 and note["commit"] == repo.head()
    assert [v.version for v in repo.backend().versions(name)] == [1, 2]
    assert run(repo.root, "reconcile").returncode == 0


# --- (c) a location belongs to one secret --------------------------------------------------


def owner_repo(make_repo: MakeRepo) -> PolicyRepo:
    """``payments/db-password`` at ``OWNER_REF``, rotated to version 3, reconciled."""
    repo = make_repo(0, commit=False)
    repo.new(OWNER, ref=OWNER_REF)
    repo.commit("Add the payments database password")
    assert reconcile(repo).returncode == 0
    for _ in range(2):
        repo.rotate(OWNER)
        repo.commit()
        assert reconcile(repo).returncode == 0
    return repo


def take_over(repo: PolicyRepo, value: str) -> None:
    """``gitrot new dev/innocent --ref <the owner's ref>``, moved to version 3 by hand, then
    rotated to 4 with a sealed value (the attacker's)."""
    repo.new(ATTACKER, ref=OWNER_REF)
    path = repo.root / "secrets" / "dev" / "innocent.yaml"
    path.write_text(path.read_text().replace("version: 1\n", "version: 3\n", 1))
    repo.pending[ATTACKER] = 3
    repo.rotate(ATTACKER, value=value)


def exec_value(repo: PolicyRepo, name: str) -> subprocess.CompletedProcess[str]:
    return run(repo.root, "exec", "--secret", f"{name}=X", "--", "sh", "-c", 'printf %s "$X"')


def test_a_dev_intent_cannot_take_over_a_prod_secrets_location(
    make_repo: MakeRepo, trigger_log: Path
) -> None:
    repo = owner_repo(make_repo)
    owners_value = repo.backend().read(OWNER_REF).reveal()
    attack = "attacker-chosen-value-7f3a9c"
    merge(repo, "dev-innocent", lambda r: take_over(r, attack), "Add a harmless dev secret")
    code, items, _ = plan(repo)
    assert (code, items) == (1, {ATTACKER: "refuse"})
    done = reconcile(repo)
    assert done.returncode == 1, done.stderr
    [refused] = json.loads(done.stdout)["refused"]
    assert refused["name"] == ATTACKER
    assert [r.name for r in repo.backend().versions(OWNER_REF)] == [OWNER] * 3
    assert (ATTACKER, 4) not in read_log(trigger_log)
    given = exec_value(repo, OWNER)
    assert (given.returncode, given.stdout) == (0, owners_value), given.stderr
    assert attack not in given.stdout + given.stderr + done.stdout + done.stderr


def test_the_backends_records_and_the_states_hashes_each_refuse_a_taken_location(
    make_repo: MakeRepo,
) -> None:
    """At version 1 (what the PR check lets a new intent start at), the location is still
    the owner's: by the backend's records, and by the state's ownership hashes once the
    backend no longer has them (a purged secret, another backend)."""
    repo = owner_repo(make_repo)
    repo.new(ATTACKER, ref=OWNER_REF)
    repo.commit("Add a dev secret on the owner's location")
    done = reconcile(repo)
    [refused] = json.loads(done.stdout)["refused"]
    assert f"written for another secret ({OWNER})" in refused["reason"]
    store = repo.root / ".gitrot" / "store" / "pg-prod"
    subprocess.run(["rm", "-rf", str(store)], check=True)  # the backend forgot the owner
    done = reconcile(repo)
    assert done.returncode == 1
    reasons = {r["name"]: r["reason"] for r in json.loads(done.stdout)["refused"]}
    assert f"belongs to another secret ({OWNER}, refs/gitrot/state)" in reasons[ATTACKER]
    assert repo.backend().versions(OWNER_REF) == []  # nothing written for the attacker


def test_exec_refuses_a_version_written_for_another_secret(make_repo: MakeRepo) -> None:
    from gitrot.core.secret import SecretValue

    repo = owner_repo(make_repo)
    backend = repo.backend()  # what an older gitrot let through: version 4 for dev/innocent
    attack = "attacker-chosen-value-0b1d"
    key = idempotency_key(ATTACKER, 4)
    backend.write(OWNER_REF, 4, SecretValue(attack), name=ATTACKER, commit="c" * 40, key=key)
    given = exec_value(repo, OWNER)
    assert given.returncode == 1
    assert attack not in given.stdout + given.stderr
    first = given.stderr.splitlines()[0]
    assert (
        first.startswith("gitrot: error: ") and f"written for another secret ({ATTACKER})" in first
    )
    missing = run(repo.root, "exec", "--version", "9", "--secret", f"{OWNER}=X", "--", "true")
    assert missing.returncode == 2 and "bug in gitrot" not in missing.stderr, missing.stderr
    assert len(missing.stderr.strip().splitlines()) <= 2


# --- (d) one failing item ------------------------------------------------------------------


def test_one_broken_sealed_value_never_stops_the_others(
    make_repo: MakeRepo, trigger_log: Path
) -> None:
    repo = make_repo(3, commit=False)
    repo.new("svc/broken", sealed="a-value-with-a-bad-mac-0001")
    sealed = repo.root / "secrets" / "svc" / "broken.v2.sealed.yaml"
    text = sealed.read_text()
    mac = re.search(r"mac: ENC\[AES256_GCM,data:([A-Za-z0-9+/]{8})", text)
    assert mac is not None
    flipped = mac[1][:-1] + ("A" if mac[1][-1] != "A" else "B")
    sealed.write_text(text.replace(mac[0], mac[0][: -len(mac[1])] + flipped))
    repo.commit("Three good secrets and one whose sealed value was tampered with")
    first = reconcile(repo)
    assert first.returncode == 1, first.stderr
    report = json.loads(first.stdout)
    assert [r["name"] for r in report["refused"]] == ["svc/broken"]
    assert (
        "svc/broken" in report["refused"][0]["reason"] or "broken" in report["refused"][0]["reason"]
    )
    good = {intent_name(i) for i in range(3)}
    assert {a["name"] for a in report["applied"]} == good
    assert set(repo.state()) == good  # recorded
    assert repo.reconciled() == repo.head()
    again = reconcile(repo)
    assert again.returncode == 1
    assert json.loads(again.stdout)["deliveries"] == []
    told = read_log(trigger_log)
    assert {k: len(v) for k, v in told.items()} == {(name, 1): 1 for name in good}
    assert sum(1 for _ in trigger_log.read_text().splitlines()) == 3  # each told once


# --- (e) SIGTERM mid-run -------------------------------------------------------------------


def test_sigterm_mid_run_then_a_normal_run_converges(
    make_repo: MakeRepo, trigger_log: Path
) -> None:
    triggers = {"api": logger_trigger(trigger_log, sleep=0.2)}
    repo = make_repo(16, triggers=triggers)
    store = Store(repo)
    process = start(repo.root, "reconcile", "--jobs", "2")
    time.sleep(1.5)  # past the start-up: some items done, some running
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode in (143, 0, 1), stderr.decode()
    if process.returncode == 143:
        note = repo.note()
        if note is not None:  # the interrupted run recorded what it finished
            assert note["interrupted"] is True
            assert repo.reconciled() != repo.head()
            recorded = repo.state()
            for record in note["applied"]:
                assert record["name"] in recorded
    done = run(repo.root, "reconcile")
    assert done.returncode == 0, done.stderr
    store.check_exact()
    told = read_log(trigger_log)
    assert set(told) == {(name, 1) for name in repo.desired}
    for (name, version), ids in told.items():
        assert ids == {expected_delivery(name, version)}
    assert repo.reconciled() == repo.head()
    note = repo.note()
    assert note is not None and note["interrupted"] is False


# --- (f) nothing leaks into the records ----------------------------------------------------


def test_no_value_and_no_ref_in_the_state_or_the_notes(make_repo: MakeRepo) -> None:
    repo = make_repo(2, commit=False)
    repo.new(OWNER, ref=OWNER_REF, sealed="a-sealed-value-9c2e1f")
    repo.commit()
    assert reconcile(repo).returncode == 0
    repo.rotate(OWNER, value="a-sealed-value-44d0aa")
    repo.rotate(intent_name(0))
    repo.commit()
    assert reconcile(repo).returncode == 0
    backend = repo.backend()
    values = [
        backend.read(repo.refs[name], version).reveal()
        for name, versions in repo.versions.items()
        for version in versions
    ]
    listed = git(repo.root, "rev-list", "--objects", STATE, "refs/notes/gitrot")
    head = set(git(repo.root, "rev-list", "--objects", "HEAD").split())
    oids = [line.split()[0] for line in listed.splitlines()]
    mine = [oid for oid in oids if oid not in head]  # the intents/ tree is HEAD's own
    assert mine
    data = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=repo.root, env=environment(), input="\n".join(mine).encode(),
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert b'"gitrot_state": 1' in data and b'"gitrot_note": 2' in data
    for secret in values:
        assert secret.encode() not in data
    assert OWNER_REF.encode() not in data and b"main-cluster" not in data
    notes = git(repo.root, "log", "--notes=gitrot", "--format=%N", "-1")
    assert len(notes.encode()) < 4096  # one run's note reads in git log
