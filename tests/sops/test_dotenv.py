"""The dotenv store (.env files): byte-compatible with sops 3.11.0, both directions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gitrot.codec import dotenv_store
from gitrot.codec.document import detect_format
from gitrot.codec.metadata import from_map
from gitrot.codec.tree import Comment, Entry, Map, Seq, Timestamp
from gitrot.errors import InputError
from tests.conftest import Key, make_key, run_sops, sops_decrypt, sops_encrypt

# sops' canonical form: what `sops -d` prints for it is exactly this text
CANONICAL = (
    "# database settings\n"
    "DB_HOST=db.internal\n"
    "DB_PASSWORD=s3cr3t=with=equals\n"
    "C = spaced \n"
    "export TOKEN=abc\n"
    'QUOTED="kept quotes"\n'
    "MULTI=line one\\nline two\n"
    "#\n"
    "#no space after the hash\n"
    "EMPTY=\n"
    "CRLF=value\r\n"
    "UNICODE=wörld ✓\n"
    "PLAIN_unencrypted=clear text\n"
    "DUP=1\n"
    "DUP=2\n"
)
# blank lines vanish, everything else is kept as written
LOOSE = "\n\n# header\nA=1\n\n\nB=two words\n# trailer\n"


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode())
    return path


def _layout(text: str) -> list[str]:
    """Each line with values and ciphertexts blanked: keys, comments and their order."""
    lines = []
    for line in text.split("\n"):
        if line.startswith("#ENC["):
            lines.append("#ENC")
        elif line.startswith("#") or "=" not in line:
            lines.append(line)
        else:
            key, _, value = line.partition("=")
            if value.startswith("ENC[") or key.endswith("__map_enc") or key == "sops_lastmodified":
                value = "..."
            lines.append(f"{key}={value}")
    return lines


def test_env_extension_selects_the_dotenv_store() -> None:
    assert detect_format("secrets/app.env") == "dotenv"
    assert detect_format("x.ENV") == "dotenv"
    assert detect_format("app/.env") == "dotenv"  # sops tests the suffix, so ".env" counts
    assert detect_format("x.txt", "dotenv") == "dotenv"


def test_gitrot_encrypts_sops_decrypts_exactly(gitrot, key: Key, tmp_path: Path) -> None:
    plain = _write(tmp_path / "plain.env", CANONICAL)
    out = tmp_path / "enc.env"
    result = gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(out))
    assert result.code == 0, result.err
    text = out.read_text()
    assert "db.internal" not in text and "s3cr3t" not in text and "database" not in text
    assert "PLAIN_unencrypted=clear text\n" in text
    assert re.search(r"^#ENC\[AES256_GCM,.*,type:comment\]$", text, re.M)
    assert "\n#\n" in text  # an empty comment stays as it is
    assert "\nEMPTY=\n" in text
    assert sops_decrypt(out, key) == CANONICAL


@pytest.mark.parametrize("text", [CANONICAL, LOOSE], ids=["canonical", "loose"])
def test_sops_encrypts_gitrot_decrypts_byte_for_byte(
    gitrot, key: Key, tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _write(tmp_path / "plain.env", text)
    enc = _write(tmp_path / "enc.env", sops_encrypt(plain, key, "--age", key.recipient))
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    result = gitrot("decrypt", str(enc))
    assert result.code == 0, result.err
    assert result.out == sops_decrypt(enc, key)
    if text == CANONICAL:
        assert result.out == CANONICAL
    else:
        assert result.out == "# header\nA=1\nB=two words\n# trailer\n"


def test_comments_both_ways(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "# first\nA=1\n# between\n#\nB=2\n# last\n"
    plain = _write(tmp_path / "plain.env", text)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    ours = tmp_path / "ours.env"
    assert gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(ours)).code == 0
    assert ours.read_text().count(",type:comment]\n") == 3
    assert sops_decrypt(ours, key) == text
    theirs = _write(tmp_path / "theirs.env", sops_encrypt(plain, key, "--age", key.recipient))
    assert _layout(theirs.read_text()) == _layout(ours.read_text())
    assert gitrot("decrypt", str(theirs)).out == text


def test_two_recipients_both_ways(
    gitrot, key: Key, key2: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _write(tmp_path / "plain.env", CANONICAL)
    recipients = f"{key.recipient},{key2.recipient}"
    ours = tmp_path / "ours.env"
    assert gitrot("encrypt", str(plain), "--age", recipients, "-o", str(ours)).code == 0
    for k in (key, key2):
        assert sops_decrypt(ours, k) == CANONICAL
    theirs = _write(tmp_path / "theirs.env", sops_encrypt(plain, key, "--age", recipients))
    assert _layout(ours.read_text()) == _layout(theirs.read_text())
    assert "sops_age__list_1__map_recipient=" + key2.recipient in theirs.read_text()
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key2.path))
    result = gitrot("decrypt", str(theirs))
    assert result.code == 0, result.err
    assert result.out == CANONICAL


def test_encrypted_layout_equals_sops(gitrot, key: Key, tmp_path: Path) -> None:
    plain = _write(tmp_path / "plain.env", CANONICAL)
    ours = tmp_path / "ours.env"
    assert gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(ours)).code == 0
    theirs = sops_encrypt(plain, key, "--age", key.recipient)
    assert _layout(ours.read_text()) == _layout(theirs)
    sops_keys = [line.split("=", 1)[0] for line in theirs.splitlines() if line.startswith("sops_")]
    assert sops_keys == [
        "sops_age__list_0__map_enc",
        "sops_age__list_0__map_recipient",
        "sops_lastmodified",
        "sops_mac",
        "sops_unencrypted_suffix",
        "sops_version",
    ]
    enc = next(line for line in ours.read_text().splitlines() if "__map_enc=" in line)
    assert enc.startswith("sops_age__list_0__map_enc=-----BEGIN AGE ENCRYPTED FILE-----\\n")
    assert enc.endswith("\\n-----END AGE ENCRYPTED FILE-----\\n")


@pytest.mark.parametrize(
    "flags",
    [["--mac-only-encrypted"], ["--encrypted-regex", "^DB_"], ["--unencrypted-suffix", "_pub"]],
    ids=["mac-only", "encrypted-regex", "suffix"],
)
def test_selectors_and_mac_only_both_ways(
    gitrot,
    key: Key,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
) -> None:
    plain = _write(tmp_path / "plain.env", CANONICAL)
    ours = tmp_path / "ours.env"
    result = gitrot("encrypt", str(plain), "--age", key.recipient, *flags, "-o", str(ours))
    assert result.code == 0, result.err
    assert sops_decrypt(ours, key) == CANONICAL
    theirs = _write(
        tmp_path / "theirs.env", sops_encrypt(plain, key, "--age", key.recipient, *flags)
    )
    assert _layout(ours.read_text()) == _layout(theirs.read_text())
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    result = gitrot("decrypt", str(theirs))
    assert result.code == 0, result.err
    assert result.out == CANONICAL


def test_key_groups_shamir_from_sops(
    gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [make_key(tmp_path, f"k{i}.txt") for i in range(3)]
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: \\.env$\n    shamir_threshold: 2\n"
        "    mac_only_encrypted: true\n    key_groups:\n"
        f"      - age: [{keys[0].recipient}]\n"
        f"      - age: [{keys[1].recipient}, {keys[2].recipient}]\n"
    )
    monkeypatch.chdir(tmp_path)
    plain = _write(tmp_path / "plain.env", CANONICAL)
    pair = tmp_path / "pair.txt"
    pair.write_text(keys[0].path.read_text() + keys[2].path.read_text())
    theirs = _write(tmp_path / "theirs.env", sops_encrypt(plain, Key("", "", pair), cwd=tmp_path))
    text = theirs.read_text()
    assert "\nsops_shamir_threshold=2\n" in text
    assert "\nsops_mac_only_encrypted=true\n" in text
    assert "sops_key_groups__list_1__map_age__list_1__map_recipient=" + keys[2].recipient in text
    parsed = dotenv_store.parse(text)[0]
    meta = from_map(parsed.get("sops"), where="theirs.env")
    assert meta.threshold == 2 and meta.mac_only_encrypted is True
    assert meta.recipients() == [[keys[0].recipient], [keys[1].recipient, keys[2].recipient]]
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(pair))
    result = gitrot("decrypt", str(theirs))
    assert result.code == 0, result.err
    assert result.out == CANONICAL
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keys[1].path))
    lonely = gitrot("decrypt", str(theirs))
    assert lonely.code == 2 and "1 of the 2 key groups" in lonely.err
    # and the other way: gitrot writes the same layout, and sops opens it
    ours = tmp_path / "ours.env"
    assert gitrot("encrypt", str(plain), "-o", str(ours)).code == 0
    assert _layout(ours.read_text()) == _layout(text)
    assert sops_decrypt(ours, Key("", "", pair)) == CANONICAL


def test_tampered_value_fails_with_exit_1(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _write(tmp_path / "plain.env", "A=first\nB=second\n")
    enc = tmp_path / "enc.env"
    enc.write_text(sops_encrypt(plain, key, "--age", key.recipient))
    lines = enc.read_text().split("\n")
    a, b = lines[0].split("=", 1)[1], lines[1].split("=", 1)[1]
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    swapped = tmp_path / "swapped.env"
    swapped.write_text("\n".join([f"A={b}", f"B={a}", *lines[2:]]))
    result = gitrot("decrypt", str(swapped))
    assert result.code == 1
    assert "swapped.env:1" in result.err
    dropped = tmp_path / "dropped.env"
    dropped.write_text("\n".join(lines[1:]))
    result = gitrot("decrypt", str(dropped))
    assert result.code == 1 and "MAC mismatch" in result.err
    assert "first" not in result.err and "second" not in result.err


def test_malformed_line_is_exit_2_with_line_number(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _write(tmp_path / "plain.env", "# ok\nA=1\n  \nTOPSECRETVALUE\n")
    result = gitrot("encrypt", str(plain), "--age", key.recipient)
    assert result.code == 2
    assert "plain.env:3" in result.err  # a whitespace-only line is not blank for sops
    assert "TOPSECRET" not in result.err
    assert run_sops(["-e", "--age", key.recipient, str(plain)]).returncode != 0
    plain.write_text("A=1\nTOPSECRETVALUE\n")
    result = gitrot("encrypt", str(plain), "--age", key.recipient)
    assert result.code == 2 and "plain.env:2" in result.err and "TOPSECRET" not in result.err
    enc = tmp_path / "enc.env"
    plain.write_text("A=1\n")
    enc.write_text(sops_encrypt(plain, key, "--age", key.recipient) + "broken\n")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    result = gitrot("decrypt", str(enc))
    assert result.code == 2 and re.search(r"enc\.env:\d+", result.err)


def test_plaintext_with_sops_keys_is_refused_like_sops(gitrot, key: Key, tmp_path: Path) -> None:
    plain = _write(tmp_path / "plain.env", "A=1\nsops_note=hello\n")
    assert run_sops(["-e", "--age", key.recipient, str(plain)]).returncode == 203
    result = gitrot("encrypt", str(plain), "--age", key.recipient)
    assert result.code == 2 and "sops" in result.err


def test_rekey_and_updatekeys_keep_the_dotenv_format(
    gitrot, key: Key, key2: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {key.recipient}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    path = _write(tmp_path / "s.env", CANONICAL)
    assert gitrot("encrypt", "-i", "s.env").code == 0
    assert gitrot("rekey", "s.env").code == 0
    assert sops_decrypt(path, key) == CANONICAL
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - age: [{key.recipient}, {key2.recipient}]\n"
    )
    result = gitrot("updatekeys", "s.env")
    assert result.code == 0, result.err
    assert sops_decrypt(path, key2) == CANONICAL


def test_output_type_dotenv_formats_scalars_like_sops(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        "i: 42\nneg: -5\nf: 1.5\nbig: 1e+21\nmillion: 1000000.0\nc: 100000.0\nsmall: 0.00001\n"
        "z: -0.0\ninf: .inf\nb: true\nn: null\nt: 2024-05-06T07:08:09.123+02:00\n"
        "d: 2024-01-02\nbin: !!binary aGVsbG8=\ns: 'a\\nb'\nm: \"x\\ny\"\n"
    )
    plain = _write(tmp_path / "plain.yaml", text)
    enc = _write(tmp_path / "enc.yaml", sops_encrypt(plain, key, "--age", key.recipient))
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    result = gitrot("decrypt", "--output-type", "dotenv", str(enc))
    assert result.code == 0, result.err
    assert result.out == sops_decrypt(enc, key, "--output-type", "dotenv")


# --- the store on its own -------------------------------------------------------------------


def test_parse_splits_at_the_first_equals_and_keeps_everything_else() -> None:
    [doc] = dotenv_store.parse("# c \n\nexport K = v=w \r\nE=\nN=a\\nb\n")
    assert doc.items == [
        Comment(" c "),
        Entry("export K ", " v=w \r"),
        Entry("E", ""),
        Entry("N", "a\nb"),
    ]
    assert [item.line for item in doc.items] == [1, 3, 4, 5]


def test_parse_unflattens_the_metadata_with_types() -> None:
    text = (
        "A=ENC[x]\n"
        "sops_key_groups__list_1__map_age__list_0__map_recipient=r2\n"
        "sops_key_groups__list_0__map_age__list_0__map_enc=one\\ntwo\\n\n"
        "sops_key_groups__list_0__map_age__list_0__map_recipient=r1\n"
        "sops_key_groups__list_1__map_age__list_0__map_enc=three\n"
        "sops_shamir_threshold=2\n"
        "sops_mac_only_encrypted=true\n"
        "sops_lastmodified=2026-01-01T00:00:00Z\n"
        "sops_mac=ENC[m]\n"
        "sops_encrypted_regex=^A\n"
        "sops_version=3.11.0\n"
    )
    [doc] = dotenv_store.parse(text, filename="f.env")
    assert [e.key for e in doc.entries()] == ["A", "sops"]
    block = doc.get("sops")
    assert isinstance(block, Map)
    assert block.get("shamir_threshold") == 2
    assert block.get("mac_only_encrypted") is True
    groups = block.get("key_groups")
    assert isinstance(groups, Seq) and len(groups.items) == 2
    meta = from_map(block, where="f.env")
    assert meta.recipients() == [["r1"], ["r2"]]
    assert meta.groups[0][0].enc == "one\ntwo\n"
    assert meta.selector == ("encrypted_regex", "^A")
    assert meta.threshold == 2 and meta.mac_only_encrypted


def test_mac_only_encrypted_other_than_true_reads_as_false() -> None:
    [doc] = dotenv_store.parse("sops_mac_only_encrypted=yes\n")
    block = doc.get("sops")
    assert isinstance(block, Map) and block.get("mac_only_encrypted") is False


@pytest.mark.parametrize(
    "text",
    [
        "sops_shamir_threshold=two\n",
        "sops_age=x\nsops_age__list_0__map_enc=y\n",
        "sops_age__list_x__map_enc=y\n",
        "sops=1\n",
    ],
    ids=["threshold", "conflict", "index", "bare-sops"],
)
def test_damaged_metadata_is_an_input_error_with_a_line(text: str) -> None:
    with pytest.raises(InputError) as info:
        dotenv_store.parse("A=1\n" + text, filename="f.env")
    assert info.value.where == "f.env" and info.value.line >= 2


def test_emit_round_trips_and_sorts_the_metadata_bytewise() -> None:
    block = Map(
        [
            Entry("shamir_threshold", 2),
            Entry(
                "key_groups",
                Seq(
                    [
                        Map(
                            [
                                Entry("hc_vault", Seq()),
                                Entry("age", Seq([Map([Entry("recipient", f"r{i}")])])),
                            ]
                        )
                        for i in range(11)
                    ]
                ),
            ),
            Entry("lastmodified", "2026-01-01T00:00:00Z"),
            Entry("mac", "ENC[m]"),
            Entry("unencrypted_suffix", "_unencrypted"),
            Entry("mac_only_encrypted", True),
            Entry("version", "3.11.0"),
        ]
    )
    doc = Map([Comment(" c"), Entry("A", "x\ny"), Entry("sops", block)])
    text = dotenv_store.emit([doc])
    lines = text.splitlines()
    assert lines[:2] == ["# c", "A=x\\ny"]
    assert lines[2:5] == [
        "sops_key_groups__list_0__map_age__list_0__map_recipient=r0",
        "sops_key_groups__list_10__map_age__list_0__map_recipient=r10",
        "sops_key_groups__list_1__map_age__list_0__map_recipient=r1",
    ]
    assert lines[-6:] == [
        "sops_lastmodified=2026-01-01T00:00:00Z",
        "sops_mac=ENC[m]",
        "sops_mac_only_encrypted=true",
        "sops_shamir_threshold=2",
        "sops_unencrypted_suffix=_unencrypted",
        "sops_version=3.11.0",
    ]
    again = dotenv_store.parse(text)
    assert dotenv_store.emit(again) == text


def test_emit_refuses_nested_values_and_several_documents() -> None:
    with pytest.raises(InputError):
        dotenv_store.emit([Map([Entry("m", Map([Entry("x", "1")]))])])
    with pytest.raises(InputError):
        dotenv_store.emit([Map(), Map()])
    assert dotenv_store.emit([Map([Entry("t", Timestamp("2024-01-02T03:04:05.5Z"))])]) == (
        "t=2024-01-02T03:04:05Z\n"
    )
