"""Applying and recording, in process, with a handed backend (tests/reconcile/fakes.py):
a backend that misbehaves, a trigger that fails, a sealed value that cannot be read, the
records of an earlier note that are not what gitrot writes, the signing key's warnings,
intents deleted from the repository."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from gitrot.core.models import SealedValue
from gitrot.core.ports import AppliedVersion, BackendError, Delivery, Receipt, idempotency_key
from gitrot.core.secret import SecretValue
from gitrot.errors import EnvironmentFailure, InputError
from gitrot.files.fields import parse_root
from gitrot.reconcile import values
from gitrot.reconcile.apply import new_value
from gitrot.reconcile.plan import Desired
from gitrot.reconcile.run import reconcile
from gitrot.reconcile.wiring import Reconciler
from tests.reconcile.conftest import intent_name
from tests.reconcile.fakes import MemoryBackend, Recorder
from tests.reconcile.helpers import environment, git

if TYPE_CHECKING:
    from pathlib import Path

    from tests.reconcile.conftest import MakeRepo
    from tests.reconcile.helpers import PolicyRepo


def _now() -> datetime:
    return datetime(2030, 1, 1, tzinfo=UTC)


def _reconciler(root: Path, backend: MemoryBackend, trigger: object = None) -> Reconciler:
    trigger = trigger if trigger is not None else Recorder("api")
    return Reconciler(
        str(root), environment(), backends={"local": backend}, triggers={"api": trigger}
    )  # type: ignore[dict-item]


class Hostile(MemoryBackend):
    """A backend whose write misbehaves for one ref: ``how`` is ``key`` (returns a record
    with another key), ``crash`` (a bug: RuntimeError) or ``refuse`` (BackendError)."""

    def __init__(self, name: str, ref: str, how: str) -> None:
        super().__init__(name)
        self.ref, self.how = ref, how

    def write(
        self, ref: str, version: int, value: SecretValue, *, name: str, commit: str, key: str
    ) -> AppliedVersion:
        if ref != self.ref:
            return super().write(ref, version, value, name=name, commit=commit, key=key)
        if self.how == "crash":
            raise RuntimeError(f"boom {value.reveal()}")
        if self.how == "refuse":
            raise BackendError("the store is read-only")
        return AppliedVersion(ref=ref, version=version, name="svc/squatter", commit=commit,
                              key="gr1-not-this-one", backend_id="x", written_at=0)  # fmt: skip


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("key", "backend local: version 1 of its ref in local was written for another secret"),
        ("crash", "unexpected RuntimeError (a bug in gitrot; secrets/svc/secret-01.yaml)"),
        ("refuse", "backend local: the store is read-only"),
    ],
)
def test_a_misbehaving_backend_refuses_that_item_only(
    make_repo: MakeRepo, how: str, reason: str
) -> None:
    repo = make_repo(2)
    bad = intent_name(1)
    backend = Hostile("local", repo.refs[bad], how)
    outcome = reconcile(_reconciler(repo.root, backend), "HEAD", now=_now)
    assert outcome.failed
    assert [r["name"] for r in outcome.refused] == [bad]
    assert str(outcome.refused[0]["reason"]).startswith(reason)
    assert "boom" not in str(outcome.refused)  # an unexpected error's text is never shown
    assert outcome.unreachable == []
    assert [a["name"] for a in outcome.applied] == [intent_name(0)]
    note = repo.note()
    assert note is not None and [r["name"] for r in note["refused"]] == [bad]
    assert repo.reconciled() == repo.head()


class Failing:
    """A trigger whose consumer prints what it got and fails."""

    def __init__(self, name: str, printed: str) -> None:
        self.name, self.printed = name, printed

    def fire(self, delivery: Delivery) -> Receipt:
        return Receipt(trigger=self.name, delivery_id=delivery.delivery_id, ok=False,
                       attempts=1, detail=f"exit 1: {self.printed}", at=0)  # fmt: skip


class Unreadable(MemoryBackend):
    def read(self, ref: str, version: int | None = None) -> SecretValue:
        raise BackendError("reading is not allowed here")


def test_a_retried_delivery_is_redacted_with_the_stored_value_or_without_it(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(1)
    name = intent_name(0)
    ref = repo.refs[name]
    stored = "Stored-Value-9vQ2-kept-in-the-backend"
    for backend, shown in ((MemoryBackend("local"), "[redacted]"), (Unreadable("local"), "")):
        # the version is there (another run wrote it): this run records it and tells api,
        # which prints the stored value and fails
        backend.write(ref, 1, SecretValue(stored), name=name, commit="0" * 40,
                      key=idempotency_key(name, 1))  # fmt: skip
        trigger = Failing("api", f"got {stored[:20]}")
        outcome = reconcile(_reconciler(repo.root, backend, trigger), "HEAD", now=_now)
        assert outcome.failed and outcome.refused == []
        [delivery] = outcome.deliveries
        assert delivery["ok"] is False and stored[:20] not in str(delivery["detail"])
        assert shown in str(delivery["detail"])  # pieces of the value, or a high-entropy token
        assert backend.writes == [(ref, 1)]


def test_a_sealed_value_that_is_missing_or_not_utf8_is_refused_at_its_file(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(0)
    bad = repo.root / "secrets" / "svc" / "bad.v2.sealed.yaml"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"value: \xff\xfe\n")
    head = repo.commit("A sealed value that is not UTF-8")
    reconciler = Reconciler.from_config(str(repo.root), environment())

    def want(path: str) -> Desired:
        return Desired(name="svc/bad", path="secrets/svc/bad.yaml", blob="b", version=2,
                       backend="local", ref="svc/bad", value=SealedValue(path),
                       consumers=())  # fmt: skip

    with pytest.raises(InputError, match="is not UTF-8") as caught:
        new_value(reconciler, want("secrets/svc/bad.v2.sealed.yaml"), head)
    assert caught.value.location() == "secrets/svc/bad.v2.sealed.yaml"
    with pytest.raises(InputError, match="is missing") as caught:
        new_value(reconciler, want("secrets/svc/gone.v2.sealed.yaml"), head)
    assert caught.value.location() == "secrets/svc/gone.v2.sealed.yaml"


def test_a_document_without_sops_metadata_is_not_opened() -> None:
    root = parse_root("value: plain\n", "secrets/x.v2.sealed.yaml", InputError)
    with pytest.raises(InputError, match="no 'sops' metadata"):
        values.open_tree_field(root, "secrets/x.v2.sealed.yaml", [], "value")


def test_an_unreachable_backend_on_write_is_recorded_then_exit_3(make_repo: MakeRepo) -> None:
    class Down(MemoryBackend):
        def write(self, *args: object, **kwargs: object) -> AppliedVersion:
            raise BackendError("connection refused", unreachable=True)

    repo = make_repo(1)
    with pytest.raises(EnvironmentFailure, match="connection refused") as caught:
        reconcile(_reconciler(repo.root, Down("local")), "HEAD", now=_now)
    assert caught.value.exit_code == 3
    note = repo.note()
    assert note is not None and note["refused"][0]["reason"] == "backend local: connection refused"


def _note(repo: PolicyRepo, document: dict[str, object]) -> None:
    git(repo.root, "notes", "--ref", "gitrot", "add", "-f", "-m", json.dumps(document), "HEAD")


def test_an_earlier_notes_records_are_kept_only_when_they_look_like_gitrots(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(1)
    kept = {"name": "svc/earlier", "version": 3, "backend": "local"}
    _note(repo, {
        "gitrot_note": 2, "previous": "not-a-commit-id", "started_at": "yesterday",
        "applied": [kept, {"name": 7, "version": 1}, {"name": "svc/x", "version": "1"}, "junk"],
        "deliveries": "not a list",
    })  # fmt: skip
    reconcile(_reconciler(repo.root, MemoryBackend("local")), "HEAD", now=_now)
    note = repo.note()
    assert note is not None
    assert note["previous"] is None  # not an id: what this run knows instead
    assert note["started_at"] == "2030-01-01T00:00:00Z"
    assert [a["name"] for a in note["applied"]] == ["svc/earlier", intent_name(0)]
    assert [d["name"] for d in note["deliveries"]] == [intent_name(0)]


def test_a_note_that_is_not_json_is_replaced_with_a_warning(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(1)
    git(repo.root, "notes", "--ref", "gitrot", "add", "-f", "-m", "hand-written", "HEAD")
    capsys.readouterr()
    reconcile(_reconciler(repo.root, MemoryBackend("local")), "HEAD", now=_now)
    assert "is not one gitrot wrote; replacing it" in capsys.readouterr().err
    note = repo.note()
    assert note is not None and note["commit"] == repo.head()


@pytest.mark.parametrize(
    ("key", "warning"),
    [
        (None, "no .gitrot/signing.key: the state is written unsigned"),
        (b"not a key\n", ".gitrot/signing.key is not an unencrypted Ed25519 OpenSSH key"),
        ("other", ".gitrot/signing.key is not the key reconciler.signing_key in gitrot.yaml"),
    ],
)
def test_the_signing_keys_problems_are_warnings_and_the_state_is_still_written(
    make_repo: MakeRepo,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    key: bytes | str | None,
    warning: str,
) -> None:
    repo = make_repo(1)
    path = repo.root / ".gitrot" / "signing.key"
    if key is None:
        path.unlink()
    elif key == "other":
        subprocess_keygen(tmp_path / "other.key")
        path.write_bytes((tmp_path / "other.key").read_bytes())
    else:
        path.write_bytes(key)  # type: ignore[arg-type]
    capsys.readouterr()
    outcome = reconcile(_reconciler(repo.root, MemoryBackend("local")), "HEAD", now=_now)
    assert warning in capsys.readouterr().err
    assert outcome.state is not None and not outcome.failed
    assert repo.reconciled() == repo.head()


def subprocess_keygen(path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )


def test_deleted_intents_leave_the_state(make_repo: MakeRepo) -> None:
    repo = make_repo(2)
    backend = MemoryBackend("local")
    reconcile(_reconciler(repo.root, backend), "HEAD", now=_now)
    assert sorted(repo.state()) == [intent_name(0), intent_name(1)]
    (repo.root / "secrets" / "svc" / "secret-01.yaml").unlink()
    repo.commit("Remove one")
    reconcile(_reconciler(repo.root, backend), "HEAD", now=_now)
    assert sorted(repo.state()) == [intent_name(0)]
    (repo.root / "secrets" / "svc" / "secret-00.yaml").unlink()
    repo.commit("Remove the last")
    outcome = reconcile(_reconciler(repo.root, backend), "HEAD", now=_now)
    assert not outcome.failed and outcome.items == []
    assert repo.state() == {}
    assert repo.reconciled() == repo.head()
