"""The local backend: round trips, idempotency, conflicts, refs, options, modes, leaks."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pyrage
import pytest

from gitrot.backends.base import AppliedVersion, BackendContext, BackendError, VersionConflict
from gitrot.backends.local import DEFAULT_PATH, LocalBackend, check_ref
from gitrot.core.secret import SecretValue
from gitrot.errors import ConfigError
from tests.backends.helpers import COMMIT, NAME, REF, backend, new_context, random_value, write


def git_init(root: Path) -> None:
    import subprocess

    subprocess.run(["git", "init", "-q", str(root)], check=True)


def git_add(root: Path, *paths: str) -> None:
    import subprocess

    subprocess.run(["git", "-C", str(root), "add", *paths], check=True)


@pytest.fixture
def context(tmp_path: Path) -> BackendContext:
    return new_context(tmp_path)


@pytest.fixture
def store(context: BackendContext) -> LocalBackend:
    return backend(context)


def test_write_then_read_round_trips(store: LocalBackend) -> None:
    value = random_value()
    record = write(store, 1, value)
    assert record == AppliedVersion(
        ref=REF,
        version=1,
        name=NAME,
        commit=COMMIT,
        key=record.key,
        backend_id="v1.age",
        written_at=1_700_000_000,
        stage="current",
    )
    assert record.key.startswith("gr1-")
    assert store.read(REF) == value
    assert store.read(REF, 1) == value
    assert store.get(REF, 1) == record
    assert store.current([REF, "other"]) == {REF: record}


def test_stages_follow_the_newest_version(store: LocalBackend) -> None:
    values = {version: random_value() for version in (1, 2, 4)}
    for version, value in values.items():
        write(store, version, value)
    assert [(v.version, v.stage) for v in store.versions(REF)] == [
        (1, "previous"),
        (2, "previous"),
        (4, "current"),
    ]
    assert store.current([REF])[REF].version == 4
    assert store.get(REF, 2).stage == "previous"  # type: ignore[union-attr]
    assert store.get(REF, 3) is None
    assert store.read(REF) == values[4]
    assert store.read(REF, 2) == values[2]


def test_an_empty_store_has_nothing(store: LocalBackend) -> None:
    assert store.current([REF]) == {}
    assert store.get(REF, 1) is None
    assert store.versions(REF) == []
    with pytest.raises(BackendError, match="holds no version of this secret"):
        store.read(REF)
    write(store, 1, random_value())
    with pytest.raises(BackendError, match="holds no version 2 of this secret"):
        store.read(REF, 2)
    store.close()


def test_rewriting_with_the_same_key_returns_the_first_record(context: BackendContext) -> None:
    first, second = random_value(), random_value()
    record = write(backend(context, clock=100), 1, first)
    again = write(backend(context, clock=200), 1, second)
    assert again == record
    assert again.written_at == 100
    assert backend(context).read(REF, 1) == first


def test_rewriting_an_older_version_with_its_key_is_idempotent(store: LocalBackend) -> None:
    record = write(store, 1, random_value())
    write(store, 2, random_value())
    again = write(store, 1, random_value())
    assert again.as_dict() == {**record.as_dict(), "stage": "previous"}


def test_another_key_for_an_existing_version_conflicts(store: LocalBackend) -> None:
    value = random_value()
    write(store, 1, value)
    intruder = random_value()
    with pytest.raises(VersionConflict, match="already in backend 'local' with another") as info:
        store.write(REF, 1, intruder, name=NAME, commit=COMMIT, key="gr1-other")
    assert intruder.reveal() not in str(info.value)
    assert store.read(REF, 1) == value


def test_a_version_below_the_newest_conflicts(store: LocalBackend) -> None:
    write(store, 3, random_value())
    with pytest.raises(VersionConflict, match="version 2 is below version 3"):
        write(store, 2, random_value())
    assert [v.version for v in store.versions(REF)] == [3]


@pytest.mark.parametrize("version", [0, -1, True])
def test_a_version_is_a_positive_integer(store: LocalBackend, version: int) -> None:
    with pytest.raises(BackendError, match="positive integer"):
        write(store, version, random_value())


def test_an_empty_key_is_refused(store: LocalBackend) -> None:
    with pytest.raises(BackendError, match="idempotency key is empty"):
        store.write(REF, 1, random_value(), name=NAME, commit=COMMIT, key="")


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "/etc/passwd",
        "../outside",
        "a/../../b",
        "a/./b",
        "a//b",
        "a/",
        ".hidden",
        "a/.lock",
        "kv/data/app#password",
        "with space",
        "a\\b",
        "a\0b",
        "x" * 201,
        "db/v1.age",
        "db/v12.json/x",
    ],
)
def test_an_unsafe_ref_is_refused(store: LocalBackend, ref: str, tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="not a valid local ref") as info:
        write(store, 1, random_value(), ref=ref)
    if ref:
        assert ref not in info.value.message  # a ref is encrypted in git: not echoed
    for call in (lambda: store.current([ref]), lambda: store.get(ref, 1), lambda: store.read(ref)):
        with pytest.raises(BackendError):
            call()
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize(
    "ref", ["db", "a/b/c", "team-1/app_2/v1", "x.y", "v1.yaml", "-x", "x" * 200]
)
def test_safe_refs(ref: str) -> None:
    check_ref(ref)


def test_nested_refs_live_side_by_side(store: LocalBackend) -> None:
    parent, child = random_value(), random_value()
    write(store, 1, parent, ref="app")
    write(store, 1, child, ref="app/db")
    assert store.read("app") == parent
    assert store.read("app/db") == child
    assert [v.ref for v in store.current(["app", "app/db"]).values()] == ["app", "app/db"]


def test_the_store_defaults_to_dot_gitrot(context: BackendContext, tmp_path: Path) -> None:
    store = LocalBackend("local", {}, context)
    assert store.store == str(tmp_path / DEFAULT_PATH)
    write(store, 1, random_value())
    assert (tmp_path / DEFAULT_PATH / "payments" / "db" / "v1.json").is_file()


def test_an_untracked_symlink_may_lead_anywhere(context: BackendContext, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    """An operator links the store to a shared folder (git does not track the link)."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (Path(context.root) / "shared").symlink_to(elsewhere, target_is_directory=True)
    git_init(Path(context.root))
    store = LocalBackend("local", {"path": "shared/store"}, context)
    write(store, 1, random_value())
    assert (elsewhere / "store" / "payments" / "db" / "v1.age").is_file()


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"path": "../store"}, "must be a relative path inside the repository, got '../store'"),
        ({"path": "a/../../store"}, "must be a relative path inside the repository"),
        ({"path": "."}, "must be a folder inside the repository, not its root"),
        ({"path": "./"}, "must be a folder inside the repository, not its root"),
        ({"path": "~/store"}, "must be a relative path inside the repository"),
        ({"path": "/var/lib/store"}, "must be a relative path inside the repository"),
        ({"path": "st\nore"}, "must be a relative path inside the repository"),
        ({"path": ".git/store"}, "must not be in .git/"),
        ({"path": "./.GIT"}, "must not be in .GIT/"),
        ({"path": "secrets/store"}, "must not be in secrets/"),
        ({"path": "secrets"}, "must not be in secrets/"),
        ({"path": ""}, "must be a folder name, got ''"),
        ({"path": 3}, "must be a folder name, got 3"),
        ({"path": "s", "url": "x"}, "unknown option 'url' for type local"),
    ],
)
def test_bad_options_are_config_errors(context: BackendContext, options, problem: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=r"backends\.vault-ish") as info:
        LocalBackend("vault-ish", options, context)
    assert problem in info.value.message
    assert info.value.hint


def test_files_are_0600_and_folders_0700(context: BackendContext, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store = backend(context, path="deep/store")
        write(store, 1, random_value(), ref="a/b")
        write(store, 2, random_value(), ref="a/b")
    finally:
        os.umask(old)
    created = [tmp_path / "deep", *(tmp_path / "deep").rglob("*")]
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode) for p in created}
    assert modes == {
        "deep": 0o700,
        "deep/store": 0o700,
        "deep/store/a": 0o700,
        "deep/store/a/b": 0o700,
        "deep/store/a/b/.lock": 0o600,
        "deep/store/a/b/v1.age": 0o600,
        "deep/store/a/b/v1.json": 0o600,
        "deep/store/a/b/v2.age": 0o600,
        "deep/store/a/b/v2.json": 0o600,
    }


def test_no_file_holds_a_value_in_clear(context: BackendContext, tmp_path: Path) -> None:
    store = backend(context)
    values = [random_value() for _ in range(6)]
    for version, value in enumerate(values[:4], start=1):
        write(store, version, value)
    write(store, 4, values[4])  # idempotent: discarded
    with pytest.raises(VersionConflict):
        store.write(REF, 4, values[5], name=NAME, commit=COMMIT, key="gr1-other")
    data = b"".join(p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file())
    for value in values:
        plain = value.reveal().encode()
        assert plain not in data
        assert plain.hex().encode() not in data
    assert [store.read(REF, v) for v in (1, 2, 3, 4)] == values[:4]


def test_the_record_never_holds_the_value(store: LocalBackend, tmp_path: Path) -> None:
    value = random_value()
    write(store, 1, value)
    record = json.loads((tmp_path / "store" / REF / "v1.json").read_text())
    assert sorted(record) == [
        "backend_id", "commit", "format", "key", "name", "ref", "sha256", "version", "written_at",
    ]  # fmt: skip
    assert record["format"] == 1


def test_a_value_is_encrypted_to_every_recipient(tmp_path: Path) -> None:
    one, two = pyrage.x25519.Identity.generate(), pyrage.x25519.Identity.generate()
    recipients = (str(one.to_public()), str(two.to_public()))
    value = random_value()
    writer = BackendContext(root=str(tmp_path), recipients=recipients, identities="")
    write(backend(writer), 1, value)
    for identity in (one, two):
        reader = BackendContext(root=str(tmp_path), recipients=(), identities=f"{identity}\n")
        assert backend(reader).read(REF) == value
    with pytest.raises(BackendError, match="no age identity to open version 1 with"):
        backend(writer).read(REF)
    stranger = pyrage.x25519.Identity.generate()
    reader = BackendContext(root=str(tmp_path), recipients=(), identities=f"{stranger}\n")
    with pytest.raises(BackendError, match="no identity opens version 1") as info:
        backend(reader).read(REF)
    assert str(stranger) not in info.value.message


def test_no_recipient_is_refused(tmp_path: Path) -> None:
    context = BackendContext(root=str(tmp_path), recipients=(), identities="")
    with pytest.raises(BackendError, match="no age recipient"):
        write(backend(context), 1, random_value())


def test_a_bad_recipient_is_refused(tmp_path: Path) -> None:
    context = BackendContext(root=str(tmp_path), recipients=("age1nope",), identities="")
    with pytest.raises(BackendError, match="cannot encrypt to the recipient 'age1nope'"):
        write(backend(context), 1, random_value())


def test_a_tampered_value_is_refused(store: LocalBackend, tmp_path: Path) -> None:
    value = random_value()
    write(store, 1, value)
    write(store, 2, random_value())
    folder = tmp_path / "store" / REF
    (folder / "v1.age").write_bytes((folder / "v2.age").read_bytes())
    with pytest.raises(BackendError, match="does not match its record") as info:
        store.read(REF, 1)
    assert "payments/db" not in info.value.message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not valid JSON"),
        ('{"format": 2}', "format 2, this gitrot reads format 1"),
        ("[]", "format None"),
        ('{"format": 1, "ref": "payments/db"}', "is not valid; restore"),
    ],
)
def test_a_damaged_record_is_refused(
    store: LocalBackend, tmp_path: Path, text: str, problem: str
) -> None:
    write(store, 1, random_value())
    (tmp_path / "store" / REF / "v1.json").write_text(text)
    with pytest.raises(BackendError, match="the record of version 1") as info:
        store.current([REF])
    assert problem in info.value.message


def test_a_record_moved_to_another_version_is_refused(store: LocalBackend, tmp_path: Path) -> None:
    write(store, 1, random_value())
    folder = tmp_path / "store" / REF
    (folder / "v2.json").write_bytes((folder / "v1.json").read_bytes())
    with pytest.raises(BackendError, match="record of version 2 is not valid"):
        store.get(REF, 2)


def test_an_unreadable_store_is_unreachable(
    store: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(store, 1, random_value())

    def denied(path: str) -> list[str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "listdir", denied)  # chmod 0 would not stop root
    with pytest.raises(
        BackendError, match=r"cannot read the store .* \(Permission denied\)"
    ) as info:
        store.current([REF])
    assert info.value.unreachable


def test_a_store_that_is_a_file_is_unreachable(context: BackendContext, tmp_path: Path) -> None:
    (tmp_path / "store").write_text("not a folder")
    store = backend(context)
    assert store.current([REF]) == {}
    with pytest.raises(BackendError, match="cannot write to the store") as info:
        write(store, 1, random_value())
    assert info.value.unreachable


def test_a_missing_value_file_is_reported(store: LocalBackend, tmp_path: Path) -> None:
    write(store, 1, random_value())
    (tmp_path / "store" / REF / "v1.age").unlink()
    with pytest.raises(BackendError, match="cannot read from the store"):
        store.read(REF)


def test_a_non_utf8_value_is_refused(
    store: LocalBackend, context: BackendContext, tmp_path: Path
) -> None:
    import hashlib

    write(store, 1, random_value())
    folder = tmp_path / "store" / REF
    recipient = pyrage.x25519.Recipient.from_str(context.recipients[0])
    ciphertext = pyrage.encrypt(b"\xff\xfe", [recipient])
    (folder / "v1.age").write_bytes(ciphertext)
    record = json.loads((folder / "v1.json").read_text())
    record["sha256"] = hashlib.sha256(ciphertext).hexdigest()
    (folder / "v1.json").write_text(json.dumps(record))
    with pytest.raises(BackendError, match="does not hold a UTF-8 value"):
        store.read(REF)


def test_secret_values_stay_out_of_reprs(store: LocalBackend) -> None:
    value = SecretValue("hunter2-very-secret")
    record = write(store, 1, value)
    assert "hunter2" not in repr(record) + repr(record.as_dict()) + repr(store.read(REF))


def test_an_ssh_recipient_is_accepted(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    ssh = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    identity = pyrage.x25519.Identity.generate()
    recipients = (ssh.decode(), str(identity.to_public()))
    context = BackendContext(root=str(tmp_path), recipients=recipients, identities=str(identity))
    value = random_value()
    write(backend(context), 1, value)
    assert backend(context).read(REF) == value


def test_a_failed_write_leaves_no_version_and_no_temporary_file(
    store: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.replace

    def full_disk(source: str, target: str) -> None:
        if target.endswith(".json"):
            raise OSError(28, "No space left on device")
        real(source, target)

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(BackendError, match=r"cannot write to the store .* \(No space left") as info:
        write(store, 1, random_value())
    assert info.value.unreachable
    assert "payments" not in info.value.message.replace(str(tmp_path), "")
    folder = tmp_path / "store" / REF
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "v1.age"]
    assert store.get(REF, 1) is None
    monkeypatch.setattr(os, "replace", real)
    value = random_value()
    write(store, 1, value)
    assert store.read(REF) == value


@pytest.mark.parametrize("link", ["store", "data", ".gitrot"])
def test_a_committed_symlink_on_the_store_path_is_refused(
    context: BackendContext, tmp_path_factory: pytest.TempPathFactory, link: str
) -> None:
    """A pull request commits a link and points the store through it: refused, nothing
    written where the link leads."""
    root = Path(context.root)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    git_init(root)
    (root / link).symlink_to(elsewhere, target_is_directory=True)
    git_add(root, link)
    path = {"store": "store", "data": "data/store", ".gitrot": ".gitrot/store"}[link]
    with pytest.raises(ConfigError, match=rf"goes through {link}, a symbolic link committed"):
        LocalBackend("local", {"path": path}, context)
    assert not list(elsewhere.iterdir())


def test_outside_a_repository_a_symlink_must_stay_inside(
    context: BackendContext, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = Path(context.root)
    (root / "real").mkdir()
    (root / "inside").symlink_to(root / "real", target_is_directory=True)
    assert LocalBackend("local", {"path": "inside/store"}, context).store == str(
        root / "inside" / "store"
    )
    (root / "out").symlink_to(tmp_path_factory.mktemp("out"), target_is_directory=True)
    with pytest.raises(ConfigError, match="goes through out, a symbolic link"):
        LocalBackend("local", {"path": "out/store"}, context)
