"""updatekeys and encrypt over an existing file: which recipients are added and removed,
what is left alone, and the data-key and MAC edge cases, each checked with the real sops."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitrot.codec import agewrap, document
from tests.conftest import Key, make_key, run_sops, sops_decrypt

PLAIN = "db:\n    password: hunter2-Sup3rSecret\n"


def _rules(path: Path, *recipients: str) -> None:
    path.write_text(f"creation_rules:\n  - age: [{', '.join(recipients)}]\n")


def _stanzas(text: str) -> str:
    return text[text.index("sops:") : text.index("lastmodified:")]


@pytest.fixture
def work(gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    (tmp_path / "s.yaml").write_text(PLAIN)
    return tmp_path


def test_updatekeys_adds_removes_and_then_has_nothing_to_do(
    gitrot, work: Path, key: Key, key2: Key
) -> None:
    _rules(work / ".sops.yaml", key.recipient, key2.recipient)
    assert gitrot("encrypt", "-i", "s.yaml").code == 0
    values = [line for line in (work / "s.yaml").read_text().splitlines() if "ENC[" in line]
    _rules(work / ".sops.yaml", key.recipient)
    result = gitrot("updatekeys", "s.yaml")
    assert result.code == 0, result.err
    assert result.err.splitlines() == [
        f"gitrot: s.yaml: - {key2.recipient}",
        "gitrot: s.yaml: keys updated",
    ]
    text = (work / "s.yaml").read_text()
    assert key2.recipient not in text
    assert [line for line in text.splitlines() if "ENC[" in line] == values  # same data key
    assert sops_decrypt(work / "s.yaml", key) == PLAIN
    assert run_sops(["-d", "s.yaml"], key=key2, cwd=work).returncode != 0
    again = gitrot("updatekeys", "s.yaml")
    assert (again.code, again.err) == (0, "gitrot: s.yaml: already up to date\n")
    assert (work / "s.yaml").read_text() == text


def test_updatekeys_needs_creation_rules(gitrot, work: Path, key: Key) -> None:
    assert gitrot("encrypt", "-i", "s.yaml", "--age", key.recipient).code == 0
    before = (work / "s.yaml").read_text()
    result = gitrot("updatekeys", "s.yaml")
    assert result.code == 2
    assert result.err.splitlines() == [
        "gitrot: error: no .sops.yaml found",
        "hint: updatekeys needs creation rules; pass --config PATH",
    ]
    assert (work / "s.yaml").read_text() == before


def test_encrypt_over_a_file_with_key_groups_keeps_its_shares(
    gitrot, work: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-encrypting into an existing file with the same key groups and threshold keeps each
    group's wrapped share: only the changed value and the MAC differ, and sops opens it."""
    folder = tmp_path_factory.mktemp("group-keys")
    one, two = make_key(folder, "one.txt"), make_key(folder, "two.txt")
    both = folder / "both.txt"
    both.write_text(one.path.read_text() + two.path.read_text())
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(both))
    (work / ".sops.yaml").write_text(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n"
        f"      - age: [{one.recipient}]\n      - age: [{two.recipient}]\n"
    )
    assert gitrot("encrypt", "s.yaml", "-o", "e.yaml").code == 0
    first = (work / "e.yaml").read_text()
    (work / "s.yaml").write_text(PLAIN + "extra: 1\n")
    assert gitrot("encrypt", "s.yaml", "-o", "e.yaml").code == 0
    second = (work / "e.yaml").read_text()
    assert "shamir_threshold: 2" in second
    assert _stanzas(second) == _stanzas(first)
    shared = Key("", "", both)
    assert sops_decrypt(work / "e.yaml", shared) == PLAIN + "extra: 1\n"
    lone = run_sops(["-d", "e.yaml"], key=one, cwd=work)
    assert lone.returncode != 0  # one share of two opens nothing


def test_a_data_key_of_the_wrong_length_is_refused(gitrot, work: Path, key: Key) -> None:
    """A stanza that unwraps to 16 bytes (a forged file): exit 1, nothing printed."""
    assert gitrot("encrypt", "-i", "s.yaml", "--age", key.recipient).code == 0
    text = (work / "s.yaml").read_text()
    source = document.SopsFile.parse(text, fmt="yaml", where="s.yaml")
    forged = agewrap.wrap(b"\x01" * 16, key.recipient)
    old = source.metadata.groups[0][0].enc
    indent = "\n" + " " * 12
    (work / "s.yaml").write_text(
        text.replace(
            indent.join(old.rstrip("\n").split("\n")), indent.join(forged.rstrip("\n").split("\n"))
        )
    )
    assert (work / "s.yaml").read_text() != text
    result = gitrot("decrypt", "s.yaml")
    assert result.code == 1 and result.out == ""
    assert result.err.splitlines()[0] == (
        "gitrot: error: the unwrapped data key is not 32 bytes long (s.yaml)"
    )
    assert run_sops(["-d", "s.yaml"], key=key, cwd=work).returncode != 0


def test_a_changed_lastmodified_is_caught_and_ignore_mac_opens_the_file(
    gitrot, work: Path, key: Key
) -> None:
    assert gitrot("encrypt", "-i", "s.yaml", "--age", key.recipient).code == 0
    text = (work / "s.yaml").read_text()
    start = text.index("lastmodified: ") + len("lastmodified: ")
    stamp = text[start : text.index("\n", start)]
    (work / "s.yaml").write_text(text.replace(stamp, '"2001-01-01T00:00:00Z"'))
    result = gitrot("decrypt", "s.yaml")
    assert result.code == 1 and result.out == ""
    assert result.err.splitlines()[0] == (
        "gitrot: error: the MAC could not be decrypted (the 'mac' or 'lastmodified' field was "
        "changed) (s.yaml)"
    )
    assert run_sops(["-d", "s.yaml"], key=key, cwd=work).returncode != 0
    recovered = gitrot("decrypt", "--ignore-mac", "s.yaml")
    assert (recovered.code, recovered.out) == (0, PLAIN)
    theirs = run_sops(["-d", "--ignore-mac", "s.yaml"], key=key, cwd=work)
    assert theirs.stdout.decode() == PLAIN


def _reseal_mac(path: Path, key: Key, lastmodified: str) -> None:
    """Write the file's MAC again under another spelling of ``lastmodified``, as a tool
    other than sops might (the AAD is that time re-formatted the way Go does)."""
    text = path.read_text()
    source = document.SopsFile.parse(text, fmt="yaml", where=str(path))
    opened = document.decrypt(source, [agewrap_identity(key)])
    meta = source.metadata
    digest, _ = opened.cipher.decrypt(meta.mac, document.mac_aad(meta.lastmodified))
    mac = opened.cipher.encrypt(digest, "str", document.mac_aad(lastmodified))
    text = text.replace(meta.mac, mac).replace(f'"{meta.lastmodified}"', f'"{lastmodified}"')
    path.write_text(text)


def agewrap_identity(key: Key) -> object:
    import pyrage

    return pyrage.x25519.Identity.from_str(key.identity)


@pytest.mark.parametrize(
    "lastmodified", ["2024-01-02T03:04:05.123456Z", "2024-01-02T05:04:05.9+02:00"]
)
def test_a_mac_under_another_spelling_of_the_time_opens_as_in_sops(
    gitrot, work: Path, key: Key, lastmodified: str
) -> None:
    assert gitrot("encrypt", "-i", "s.yaml", "--age", key.recipient).code == 0
    _reseal_mac(work / "s.yaml", key, lastmodified)
    assert lastmodified in (work / "s.yaml").read_text()
    assert sops_decrypt(work / "s.yaml", key) == PLAIN
    result = gitrot("decrypt", "s.yaml")
    assert (result.code, result.out) == (0, PLAIN)


@pytest.mark.parametrize(
    ("lastmodified", "message"),
    [
        ("yesterday", "invalid lastmodified timestamp 'yesterday'"),
        ("2024-01-02T03:04:05", "lastmodified '2024-01-02T03:04:05' has no time zone"),
    ],
)
def test_a_lastmodified_that_is_not_rfc3339_is_refused(
    gitrot, work: Path, key: Key, lastmodified: str, message: str
) -> None:
    assert gitrot("encrypt", "-i", "s.yaml", "--age", key.recipient).code == 0
    text = (work / "s.yaml").read_text()
    start = text.index("lastmodified: ") + len("lastmodified: ")
    (work / "s.yaml").write_text(
        text[:start] + f'"{lastmodified}"' + text[text.index("\n", start) :]
    )
    result = gitrot("decrypt", "s.yaml")
    assert result.code == 1 and result.out == ""
    assert result.err.splitlines()[0] == f"gitrot: error: {message} (s.yaml)"
    assert run_sops(["-d", "s.yaml"], key=key, cwd=work).returncode != 0


def test_encrypt_over_a_file_whose_mac_does_not_hold_writes_a_new_one(work: Path, key: Key) -> None:
    """The library's ``previous`` opened without the MAC check (recovery): nothing of the
    old MAC is kept, and the result is a file sops verifies."""
    from datetime import UTC, datetime

    options = document.EncryptOptions(groups=[[key.recipient]])
    docs = document.parse_plain(PLAIN, "yaml", where="s.yaml")
    first = document.encrypt(docs, options, now=datetime(2024, 1, 1, tzinfo=UTC), fmt="yaml")
    source = document.SopsFile.parse(first, fmt="yaml", where="s.yaml")
    broken = first.replace(source.metadata.mac, source.metadata.mac.replace("data:", "data:AA"))
    previous = document.decrypt(
        document.SopsFile.parse(broken, fmt="yaml", where="s.yaml"),
        [agewrap_identity(key)],
        verify_mac=False,
    )
    again = document.encrypt(
        docs, options, now=datetime(2024, 1, 2, tzinfo=UTC), fmt="yaml", previous=previous
    )
    assert 'lastmodified: "2024-01-02T00:00:00Z"' in again
    (work / "again.yaml").write_text(again)
    assert sops_decrypt(work / "again.yaml", key) == PLAIN
