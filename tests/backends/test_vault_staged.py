"""Pending versions (StagedBackend) of the vault backend against a real OpenBao
(tests/backends/openbao.py): the pending value lives at ``gitrot-pending/<ref>`` until
promotion, so ``bao kv get <ref>`` never returns it; a rotation killed before any request
resumes with the same value."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitrot.backends.vault import PENDING_ROOT, VaultBackend
from gitrot.core.ports import (
    ABANDONED,
    PROMOTED,
    SET,
    TESTED,
    WRITTEN,
    AppliedVersion,
    BackendContext,
    BackendError,
    StagedBackend,
    VersionConflict,
    idempotency_key,
)
from gitrot.core.secret import SecretValue
from tests.backends.helpers import COMMIT, NAME
from tests.backends.openbao import OpenBao, openbao  # noqa: F401 - the fixture

TOKEN_ENV = "GITROT_TEST_VAULT_TOKEN"
SECRET = "s3cr3t-pending-never-shown"  # gitrot: allow a made-up value the tests look for


class Killed(BaseException):
    """The reconciler's process died here (no except clause of the backend catches it)."""


@pytest.fixture
def ref() -> str:
    return f"apps/t-{secrets.token_hex(6)}/db"


def open_vault(server: OpenBao, root: Path, token: str, mp: pytest.MonkeyPatch) -> VaultBackend:
    mp.setenv(TOKEN_ENV, token)
    context = BackendContext(root=str(root), recipients=(), identities="")
    return VaultBackend("vault", {"url": server.url, "token_env": TOKEN_ENV}, context)


@pytest.fixture
def vault(
    openbao: OpenBao,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[VaultBackend]:
    backend = open_vault(openbao, tmp_path, openbao.root_token, monkeypatch)
    yield backend
    backend.close()


def key(version: int, name: str = NAME) -> str:
    return idempotency_key(name, version)


def pending(store: VaultBackend, ref: str, version: int, value: str) -> AppliedVersion:
    return store.write_pending(
        ref, version, SecretValue(value), name=NAME, commit=COMMIT, key=key(version)
    )


def write(store: VaultBackend, ref: str, version: int, value: str) -> AppliedVersion:
    return store.write(ref, version, SecretValue(value), name=NAME, commit=COMMIT, key=key(version))


def rotate(store: VaultBackend, ref: str, version: int, value: str) -> AppliedVersion:
    """The reconciler's rotation at the source, resuming at the step the backend recorded."""
    record = pending(store, ref, version, value)
    if record.stage == "pending":
        for step in (SET, TESTED)[(WRITTEN, SET, TESTED).index(record.step) :]:
            store.mark(ref, version, step, key=key(version))
    return store.promote(ref, version, key=key(version))


def test_a_pending_value_is_not_what_kv_get_returns(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    ref: str,
) -> None:
    assert isinstance(vault, StagedBackend)
    write(vault, ref, 1, "one")
    record = pending(vault, ref, 2, SECRET)
    assert (record.stage, record.step, record.version) == ("pending", WRITTEN, 2)
    assert (record.backend_id, record.key, record.commit) == (f"{PENDING_ROOT}:1", key(2), COMMIT)
    assert openbao.kv_get(ref)["value"] == "one"  # a consumer
    assert list(openbao.kv_versions(ref)) == [1]
    assert openbao.kv_get(f"{PENDING_ROOT}/{ref}")["gitrot_step"] == WRITTEN
    assert vault.read(ref).reveal() == "one"
    assert vault.read(ref, 2).reveal() == SECRET
    assert vault.current([ref])[ref] == record
    assert vault.get(ref, 2) == record
    assert [v.version for v in vault.versions(ref)] == [1]  # promoted ones
    # idempotent on the key: the stored value stays, nothing is written
    assert pending(vault, ref, 2, "another-generated-value") == record
    assert list(openbao.kv_versions(f"{PENDING_ROOT}/{ref}")) == [1]
    assert vault.read(ref, 2).reveal() == SECRET
    with pytest.raises(VersionConflict, match="another idempotency key") as info:
        vault.write_pending(ref, 2, SecretValue(SECRET), name=NAME, commit=COMMIT, key="gr1-x")
    assert SECRET not in info.value.message
    assert pending(vault, ref, 1, "x").stage == "current"  # promoted already: its record
    pending(vault, ref, 3, "three")
    with pytest.raises(VersionConflict, match="below version 3"):
        pending(vault, ref, 2, SECRET)
    with pytest.raises(BackendError, match="positive integer"):
        vault.write_pending(ref, 0, SecretValue("x"), name=NAME, commit=COMMIT, key="k")
    with pytest.raises(BackendError, match="key is empty"):
        vault.write_pending(ref, 4, SecretValue("x"), name=NAME, commit=COMMIT, key="")


def test_the_first_pending_version_is_invisible_until_promoted(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    ref: str,
) -> None:
    pending(vault, ref, 1, SECRET)
    assert openbao.kv_versions(ref) == {}  # nothing at the consumers' path
    with pytest.raises(BackendError, match="holds no version of this secret") as info:
        vault.read(ref)
    assert SECRET not in info.value.message
    done = rotate(vault, ref, 1, "discarded")
    assert (done.stage, done.step, done.backend_id) == ("current", PROMOTED, "1")
    assert openbao.kv_get(ref)["value"] == SECRET


def test_mark_never_goes_back(vault: VaultBackend, openbao: OpenBao, ref: str) -> None:  # noqa: F811
    write(vault, ref, 1, "one")
    pending(vault, ref, 2, SECRET)
    assert vault.mark(ref, 2, SET, key=key(2)).step == SET
    assert vault.mark(ref, 2, TESTED, key=key(2)).step == TESTED
    versions = list(openbao.kv_versions(f"{PENDING_ROOT}/{ref}"))
    assert vault.mark(ref, 2, SET, key=key(2)).step == TESTED
    assert vault.mark(ref, 2, WRITTEN, key=key(2)).step == TESTED
    assert list(openbao.kv_versions(f"{PENDING_ROOT}/{ref}")) == versions == [1, 2, 3]
    assert vault.get(ref, 2).step == TESTED  # type: ignore[union-attr]
    assert vault.read(ref, 2).reveal() == SECRET  # the same value at every step
    with pytest.raises(BackendError, match="marked set, tested, abandoned, not 'promoted'"):
        vault.mark(ref, 2, PROMOTED, key=key(2))
    with pytest.raises(VersionConflict, match="another idempotency key"):
        vault.mark(ref, 2, SET, key=key(2, "other"))
    with pytest.raises(BackendError, match="version 1 is current, not pending"):
        vault.mark(ref, 1, SET, key=key(1))
    with pytest.raises(BackendError, match="holds no version 3"):
        vault.mark(ref, 3, SET, key=key(3))
    assert openbao.kv_get(ref)["value"] == "one"


def test_promote_moves_current_to_previous_and_destroys_the_pending_value(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    ref: str,
) -> None:
    write(vault, ref, 1, "one")
    pending(vault, ref, 2, SECRET)
    vault.mark(ref, 2, TESTED, key=key(2))
    record = vault.promote(ref, 2, key=key(2))
    assert (record.stage, record.step, record.backend_id) == ("current", PROMOTED, "2")
    assert openbao.kv_get(ref) == {
        "value": SECRET,
        "gitrot_version": 2,
        "gitrot_name": NAME,
        "gitrot_commit": COMMIT,
        "gitrot_key": key(2),
    }
    one = vault.get(ref, 1)
    assert one is not None and (one.stage, one.step) == ("previous", PROMOTED)
    sibling = openbao.kv_versions(f"{PENDING_ROOT}/{ref}")
    assert all(meta["destroyed"] for meta in sibling.values())
    assert vault.promote(ref, 2, key=key(2)) == record  # idempotent
    assert list(openbao.kv_versions(ref)) == [1, 2]
    assert vault.current([ref])[ref] == record
    assert vault.read(ref).reveal() == SECRET
    with pytest.raises(VersionConflict):
        vault.promote(ref, 2, key=key(2, "other"))
    with pytest.raises(BackendError, match="holds no version 3"):
        vault.promote(ref, 3, key=key(3))


def test_a_pending_version_abandoned_by_a_newer_one(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    ref: str,
) -> None:
    write(vault, ref, 1, "one")
    pending(vault, ref, 2, "two-failed-its-test")
    assert vault.mark(ref, 2, ABANDONED, key=key(2)).step == ABANDONED
    assert vault.mark(ref, 2, TESTED, key=key(2)).step == ABANDONED  # final
    three = pending(vault, ref, 3, SECRET)
    assert (three.stage, three.step) == ("pending", WRITTEN)
    two = vault.get(ref, 2)
    assert two is not None and (two.stage, two.step) == ("pending", ABANDONED)
    with pytest.raises(BackendError, match="version 2 in backend 'vault' was abandoned") as info:
        vault.promote(ref, 2, key=key(2))
    assert "two-failed-its-test" not in info.value.message
    assert vault.read(ref, 2).reveal() == "two-failed-its-test"  # still readable by version
    assert rotate(vault, ref, 3, "x").stage == "current"
    assert openbao.kv_get(ref)["value"] == SECRET
    assert vault.get(ref, 2) is None  # destroyed with the pending path at promotion
    # a newer pending version abandons an older one nobody marked
    pending(vault, ref, 4, "four")
    pending(vault, ref, 5, "five")
    four = vault.get(ref, 4)
    assert four is not None and (four.stage, four.step) == ("pending", ABANDONED)
    assert vault.mark(ref, 4, SET, key=key(4)).step == ABANDONED
    # and so does a version written without a rotator
    write(vault, ref, 6, "six")
    five = vault.get(ref, 5)
    assert five is not None and (five.stage, five.step) == ("pending", ABANDONED)
    assert vault.current([ref])[ref].version == 6
    with pytest.raises(BackendError, match="abandoned"):
        vault.promote(ref, 5, key=key(5))


def count_requests(vault: VaultBackend, ref: str) -> int:
    write(vault, ref, 1, "one")
    made = []
    request = vault._request

    def counting(*args: Any, **kw: Any) -> object:
        made.append(args[0])
        return request(*args, **kw)

    vault._request = counting  # type: ignore[method-assign]
    rotate(vault, ref, 2, SECRET)
    vault._request = request  # type: ignore[method-assign]
    return len(made)


def test_a_rotation_killed_before_any_request_resumes_with_the_same_value(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    ref: str,
) -> None:
    """Kill the run before its k-th request to the server, for every k; a new run (with
    another generated value) resumes: once the pending value was written, that value is
    the one promoted, and until promotion ``kv get`` returns the old one."""
    total = count_requests(vault, ref + "-count")
    assert total >= 10
    request = vault._request
    for kill in range(total):
        target = f"{ref}-{kill}"
        write(vault, target, 1, "one")
        made: list[str] = []

        def dying(doing: str, method: str, url: str, **kw: Any) -> object:
            if len(made) == kill:  # noqa: B023 - called within this iteration only
                raise Killed
            made.append(f"{method} {url}")  # noqa: B023
            return request(doing, method, url, **kw)

        vault._request = dying  # type: ignore[method-assign]
        with pytest.raises(Killed):
            rotate(vault, target, 2, SECRET)
        vault._request = request  # type: ignore[method-assign]
        wrote_pending = any(
            call.startswith(f"post /v1/secret/data/{PENDING_ROOT}/") for call in made
        )
        promoted = f"post /v1/secret/data/{target}" in made
        if not promoted:
            assert openbao.kv_get(target)["value"] == "one", kill
        record = rotate(vault, target, 2, "second-run-value")
        assert (record.stage, record.step) == ("current", PROMOTED), kill
        assert openbao.kv_get(target)["value"] == (SECRET if wrote_pending else "second-run-value")
        assert list(openbao.kv_versions(target)) == [1, 2], kill
        sibling = openbao.kv_versions(f"{PENDING_ROOT}/{target}")
        assert all(meta["destroyed"] for meta in sibling.values()), kill


def test_concurrent_runs_lose_the_check_and_set_and_take_the_stored_record(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    ref: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another reconciler writes just before each of this one's writes: the check-and-set
    fails on the server and this run returns what the other stored."""
    other = open_vault(openbao, tmp_path, openbao.root_token, monkeypatch)
    write(vault, ref, 1, "one")
    request = vault._request
    races = {
        "pending": lambda: pending(other, ref, 2, "the-winner"),
        "mark": lambda: other.mark(ref, 2, SET, key=key(2)),
        "promote": lambda: other.promote(ref, 2, key=key(2)),
    }
    race: list[str] = []

    def raced(doing: str, method: str, url: str, **kw: Any) -> object:
        if doing == "write" and race:
            races[race.pop()]()
        return request(doing, method, url, **kw)

    vault._request = raced  # type: ignore[method-assign]
    race.append("pending")
    assert pending(vault, ref, 2, "the-loser").step == WRITTEN
    assert vault.read(ref, 2).reveal() == "the-winner"
    race.append("mark")
    assert vault.mark(ref, 2, SET, key=key(2)).step == SET
    race.append("promote")
    assert vault.promote(ref, 2, key=key(2)).stage == "current"
    assert openbao.kv_get(ref)["value"] == "the-winner"
    assert list(openbao.kv_versions(ref)) == [1, 2]
    # a race this run cannot take as its own: nothing written, a one-line error
    races["pending"] = lambda: pending(other, ref, 3, "three")
    race.append("pending")
    with pytest.raises(BackendError, match="changed on the server") as info:
        pending(vault, ref, 4, SECRET)
    assert SECRET not in info.value.message
    assert vault.current([ref])[ref].version == 3
    races["mark"] = lambda: other.mark(ref, 3, ABANDONED, key=key(3))
    race.append("mark")
    assert vault.mark(ref, 3, SET, key=key(3)).step == ABANDONED
    other.close()


def test_the_documented_policy_allows_a_rotation_and_consumers_never_read_pending(
    openbao: OpenBao,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = Path(__file__).parents[2] / "docs" / "backends.md"
    section = docs.read_text().split("## vault", 1)[1].split("\n## ", 1)[0]
    policy = section.split("```hcl\n", 1)[1].split("```", 1)[0]
    vault = open_vault(openbao, tmp_path, openbao.token(policy), monkeypatch)
    ref = f"apps/least-{secrets.token_hex(4)}"
    write(vault, ref, 1, "one")
    pending(vault, ref, 2, SECRET)
    consumer = openbao.token('path "secret/data/apps/*" { capabilities = ["read"] }')
    status, body = openbao.api("GET", f"secret/data/{PENDING_ROOT}/{ref}", token=consumer)
    assert status == 403
    assert SECRET not in str(body)
    assert rotate(vault, ref, 2, "x").stage == "current"
    assert openbao.kv_get(ref)["value"] == SECRET
    vault.close()


def test_a_ref_under_the_pending_root_is_refused(vault: VaultBackend) -> None:
    with pytest.raises(BackendError, match=f"{PENDING_ROOT}/ holds gitrot's pending values"):
        vault.current([f"{PENDING_ROOT}/apps/db"])


def test_pending_data_changed_outside_gitrot(
    vault: VaultBackend,
    openbao: OpenBao,  # noqa: F811
    ref: str,
) -> None:
    """A pending path written by hand: without the field, marking and promoting refuse;
    with a step gitrot does not know, the record is not gitrot's."""
    write(vault, ref, 1, "one")
    record = {"gitrot_version": 2, "gitrot_name": NAME, "gitrot_commit": COMMIT}
    record |= {"gitrot_key": key(2), "gitrot_step": SET}
    openbao.kv_put(f"{PENDING_ROOT}/{ref}", record)
    assert vault.current([ref])[ref].step == SET
    with pytest.raises(BackendError, match="version 2 has no text field 'value'"):
        vault.mark(ref, 2, TESTED, key=key(2))
    with pytest.raises(BackendError, match="version 2 has no text field 'value'"):
        vault.promote(ref, 2, key=key(2))
    openbao.kv_put(f"{PENDING_ROOT}/{ref}", record | {"value": "x", "gitrot_step": "bogus"})
    assert vault.current([ref])[ref].version == 1


def test_a_token_that_may_not_destroy_then_one_that_may(
    openbao: OpenBao,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Promotion's write lands, the destroy is denied (exit 3, naming the path to grant);
    the next promote with a token that may finishes the destroy."""
    ref = f"apps/nodestroy-{secrets.token_hex(4)}"
    policy = (
        'path "secret/data/apps/*" { capabilities = ["create", "update", "read"] }\n'
        'path "secret/data/gitrot-pending/apps/*" { capabilities = ["create", "update", "read"] }'
    )
    vault = open_vault(openbao, tmp_path, openbao.token(policy), monkeypatch)
    pending(vault, ref, 1, SECRET)
    with pytest.raises(BackendError) as info:
        vault.promote(ref, 1, key=key(1))
    assert info.value.unreachable
    assert info.value.message.endswith(
        "to destroy (403 permission denied); give a valid token whose policy allows update "
        "on secret/destroy/gitrot-pending/* (docs/backends.md)"
    )
    assert SECRET not in info.value.message
    assert openbao.kv_get(ref)["value"] == SECRET  # promoted: the commit point passed
    vault.close()
    vault = open_vault(openbao, tmp_path, openbao.root_token, monkeypatch)
    assert vault.promote(ref, 1, key=key(1)).stage == "current"
    sibling = openbao.kv_versions(f"{PENDING_ROOT}/{ref}")
    assert all(meta["destroyed"] for meta in sibling.values())
    vault.close()
