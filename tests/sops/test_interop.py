"""Interop with the real sops 3.11.0, both directions, feature by feature."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gitrot.codec import yaml_parse
from gitrot.codec.tree import Map
from tests.conftest import AGE, Key, make_key, run_sops, sops_decrypt, sops_encrypt

INTENT = """\
# rotation intent for the payments database
apiVersion: gitrot/v1
kind: RotationIntent
metadata:
    name: payments/db-password
    owner: team-payments
    labels:
        tier: "1"
spec:
    version: 7
    reason: Quarterly rotation CHG-2291
    emergency: false
    # where the secret lives
    target:
        backend: vault-prod
        ref: secret/data/payments/db
    value:
        generate:
            length: 32
            alphabet: A-Za-z0-9-_!#%
    consumers:
        - payments-api
        - ledger-worker
"""

TYPES = """\
string: hello wörld ✓
empty: ""
quoted_number: "42"
int: 42
negative: -7
octal: 017
hex: 0x1F
float: 1.5
exp: 1e+21
small: 1.0e-7
yes_string: yes
bool: true
nothing: null
when: 2024-05-06T07:08:09.5Z
date: 2024-01-02
multi: |
    line one
    line two
nested:
    list:
        - a
        - 1
        - 2.5
        - false
        - {k: v}
    empty_map: {}
    empty_list: []
keep_unencrypted: clear text
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _docs(text: str) -> list[Map]:
    return yaml_parse.parse(text)


SELECTOR_CASES = [
    [],
    ["--encrypted-regex", "^(ref|value|multi|list)$"],
    ["--unencrypted-regex", "^(kind|apiVersion|metadata)$"],
    ["--encrypted-suffix", "et"],
    ["--unencrypted-suffix", "_unencrypted"],
    ["--encrypted-regex", "^(ref|value)$", "--mac-only-encrypted"],
]


@pytest.mark.parametrize("flags", SELECTOR_CASES, ids=lambda f: " ".join(f) or "default")
@pytest.mark.parametrize("text", [INTENT, TYPES], ids=["intent", "types"])
def test_gitrot_encrypts_sops_decrypts(
    gitrot, key: Key, tmp_path: Path, flags: list[str], text: str
) -> None:
    plain = _write(tmp_path / "plain.yaml", text)
    out = tmp_path / "enc.yaml"
    result = gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(out), *flags)
    assert result.code == 0, result.err
    assert _docs(sops_decrypt(out, key)) == _docs(text)


@pytest.mark.parametrize("flags", SELECTOR_CASES, ids=lambda f: " ".join(f) or "default")
@pytest.mark.parametrize("text", [INTENT, TYPES], ids=["intent", "types"])
def test_sops_encrypts_gitrot_decrypts(
    gitrot, key: Key, tmp_path: Path, flags: list[str], text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _write(tmp_path / "plain.yaml", text)
    enc = _write(tmp_path / "enc.yaml", sops_encrypt(plain, key, "--age", key.recipient, *flags))
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    result = gitrot("decrypt", str(enc))
    assert result.code == 0, result.err
    assert _docs(result.out) == _docs(text)
    assert _docs(result.out) == _docs(sops_decrypt(enc, key))


def test_comment_selectors_both_ways(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        "a: 1\n# sops:enc\nb: secret\nc: clear\n# sops:enc\nd:\n    e: x\n    # inner\n    f: y\n"
    )
    plain = _write(tmp_path / "plain.yaml", text)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    for flag in ("--encrypted-comment-regex", "--unencrypted-comment-regex"):
        ours = tmp_path / "ours.yaml"
        assert (
            gitrot(
                "encrypt", str(plain), "--age", key.recipient, flag, "sops:enc", "-o", str(ours)
            ).code
            == 0
        )
        assert _docs(sops_decrypt(ours, key)) == _docs(text)
        theirs = _write(
            tmp_path / "theirs.yaml",
            sops_encrypt(plain, key, "--age", key.recipient, flag, "sops:enc"),
        )
        result = gitrot("decrypt", str(theirs))
        assert result.code == 0, result.err
        assert _docs(result.out) == _docs(text)


def test_multi_document_and_several_recipients(
    gitrot, key: Key, key2: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "a: 1\nb: two\n---\n# second\nc: [x, y]\n---\nd: {e: f}\n"
    plain = _write(tmp_path / "plain.yaml", text)
    out = tmp_path / "enc.yaml"
    assert (
        gitrot(
            "encrypt", str(plain), "--age", f"{key.recipient},{key2.recipient}", "-o", str(out)
        ).code
        == 0
    )
    for k in (key, key2):
        assert _docs(sops_decrypt(out, k)) == _docs(text)
    theirs = _write(
        tmp_path / "theirs.yaml",
        sops_encrypt(plain, key, "--age", f"{key.recipient},{key2.recipient}"),
    )
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key2.path))
    result = gitrot("decrypt", str(theirs))
    assert result.code == 0, result.err
    assert _docs(result.out) == _docs(text)


def _shamir_config(directory: Path, keys: list[Key], threshold: int) -> None:
    groups = "".join(f"      - age: [{k.recipient}]\n" for k in keys)
    (directory / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: \\.yaml$\n    shamir_threshold: {threshold}\n    key_groups:\n{groups}"
    )


def test_key_groups_shamir_both_ways(
    gitrot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [make_key(tmp_path, f"k{i}.txt") for i in range(3)]
    _shamir_config(tmp_path, keys, 2)
    monkeypatch.chdir(tmp_path)
    plain = _write(tmp_path / "plain.yaml", INTENT)
    both = tmp_path / "both.txt"
    both.write_text(keys[0].path.read_text() + keys[2].path.read_text())
    pair = Key("", "", both)
    ours = tmp_path / "ours.yaml"
    assert gitrot("encrypt", str(plain), "-o", str(ours)).code == 0
    assert "shamir_threshold: 2" in ours.read_text()
    assert _docs(sops_decrypt(ours, pair)) == _docs(INTENT)
    # one share is not enough, for sops and for gitrot
    assert run_sops(["-d", str(ours)], key=keys[1]).returncode != 0
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keys[1].path))
    lonely = gitrot("decrypt", str(ours))
    assert lonely.code == 2 and "1 of the 2 key groups" in lonely.err
    theirs = _write(tmp_path / "theirs.yaml", sops_encrypt(plain, pair, cwd=tmp_path))
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(both))
    result = gitrot("decrypt", str(theirs))
    assert result.code == 0, result.err
    assert _docs(result.out) == _docs(INTENT)


def test_creation_rules_pick_the_same_recipients_as_sops(
    gitrot, key: Key, key2: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n"
        f"  - path_regex: ^secrets/.*\\.yaml$\n    encrypted_regex: ^(ref|value)$\n    mac_only_encrypted: true\n    age: {key.recipient}, {key2.recipient}\n"
        f"  - age: [{key2.recipient}]\n"
    )
    monkeypatch.chdir(tmp_path)
    plain = _write(tmp_path / "secrets" / "db.yaml", INTENT)
    result = gitrot("encrypt", "secrets/db.yaml")
    assert result.code == 0, result.err
    theirs = sops_encrypt(Path("secrets/db.yaml"), key, cwd=tmp_path)
    ours_doc, theirs_doc = _docs(result.out)[0], _docs(theirs)[0]
    meta_ours, meta_theirs = ours_doc.get("sops"), theirs_doc.get("sops")
    assert isinstance(meta_ours, Map) and isinstance(meta_theirs, Map)
    for field in ("encrypted_regex", "mac_only_encrypted"):
        assert meta_ours.get(field) == meta_theirs.get(field)
    recipients = lambda m: [s.get("recipient") for s in m.get("age").items]  # noqa: E731
    assert recipients(meta_ours) == recipients(meta_theirs) == [key.recipient, key2.recipient]
    assert plain.read_text() == INTENT


def test_json_and_binary_both_ways(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    data = {
        "name": "x",
        "n": 1,
        "f": 2.5,
        "big": 1e21,
        "ok": True,
        "none": None,
        "list": [1, "a", {"b": ""}],
        "html": "<&>",
    }
    plain = _write(tmp_path / "plain.json", json.dumps(data))
    ours = tmp_path / "ours.json"
    assert gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(ours)).code == 0
    assert json.loads(sops_decrypt(ours, key)) == data
    theirs = _write(tmp_path / "theirs.json", sops_encrypt(plain, key, "--age", key.recipient))
    result = gitrot("decrypt", str(theirs))
    assert result.code == 0, result.err
    assert json.loads(result.out) == data
    assert result.out == sops_decrypt(theirs, key)  # byte for byte, like sops prints it
    blob = _write(tmp_path / "blob.txt", "line 1\nünïcode: [not yaml\n")
    ours_bin = tmp_path / "ours.bin"
    assert gitrot("encrypt", str(blob), "--age", key.recipient, "-o", str(ours_bin)).code == 0
    assert sops_decrypt(ours_bin, key, "--input-type", "binary") == blob.read_text()
    theirs_bin = _write(tmp_path / "theirs.bin", sops_encrypt(blob, key, "--age", key.recipient))
    assert gitrot("decrypt", str(theirs_bin)).out == blob.read_text()


def test_upstream_fixtures_decrypt_like_sops(gitrot, monkeypatch: pytest.MonkeyPatch) -> None:
    fixtures = Path(__file__).parents[1] / "fixtures" / "sops-upstream"
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(fixtures / "keys.txt"))
    for name in ("example.yaml", "example.json", "example.txt"):
        result = gitrot("decrypt", str(fixtures / name))
        assert result.code == 0, (name, result.err)
        expected = (fixtures / name.replace("example.", "example.decrypted.")).read_text()
        if name.endswith(".yaml"):
            assert _docs(result.out) == _docs(expected)
        else:
            assert result.out == expected


def test_go_age_cli_unwraps_the_data_key_gitrot_wrapped(gitrot, key: Key, tmp_path: Path) -> None:
    assert AGE, "the age CLI is missing: run `make test`, which installs Debian's age"
    plain = _write(tmp_path / "plain.yaml", INTENT)
    result = gitrot("encrypt", str(plain), "--age", key.recipient)
    meta = _docs(result.out)[0].get("sops")
    assert isinstance(meta, Map)
    enc = meta.get("age").items[0].get("enc")  # type: ignore[union-attr]
    armored = _write(tmp_path / "dk.age", enc)
    data_key = subprocess.run(
        [AGE, "-d", "-i", str(key.path), str(armored)], capture_output=True, check=True
    ).stdout
    assert len(data_key) == 32


def test_reencrypting_keeps_unchanged_values_byte_identical(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    plain = _write(tmp_path / "plain.yaml", INTENT)
    enc = tmp_path / "enc.yaml"
    assert gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(enc)).code == 0
    first = enc.read_text()
    # nothing changed: the file does not change at all
    assert gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(enc)).code == 0
    assert enc.read_text() == first
    # one value changed: only that line, lastmodified and mac change
    plain.write_text(INTENT.replace("ledger-worker", "ledger-api"))
    assert gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(enc)).code == 0
    changed = [
        (a, b)
        for a, b in zip(first.splitlines(), enc.read_text().splitlines(), strict=True)
        if a != b
    ]
    kinds = [a.split(":")[0].strip() for a, _ in changed]
    # lastmodified changes too unless both writes fall in the same second
    assert kinds in (
        ["- ENC[AES256_GCM,data", "mac"],
        ["- ENC[AES256_GCM,data", "lastmodified", "mac"],
    )
    assert _docs(sops_decrypt(enc, key)) == _docs(INTENT.replace("ledger-worker", "ledger-api"))


def test_rekey_and_updatekeys_interop(
    gitrot, key: Key, key2: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {key.recipient}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    plain = _write(tmp_path / "s.yaml", INTENT)
    assert gitrot("encrypt", "-i", "s.yaml").code == 0
    before = plain.read_text()
    assert gitrot("rekey", "s.yaml").code == 0
    after = plain.read_text()
    assert before != after
    assert _docs(sops_decrypt(plain, key)) == _docs(INTENT)
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - age: [{key.recipient}, {key2.recipient}]\n"
    )
    result = gitrot("updatekeys", "s.yaml")
    assert result.code == 0, result.err
    assert key2.recipient in result.err
    assert _docs(sops_decrypt(plain, key2)) == _docs(INTENT)
    values = [
        line for line in plain.read_text().splitlines() if "ENC[" in line and "mac:" not in line
    ]
    assert values == [line for line in after.splitlines() if "ENC[" in line and "mac:" not in line]


LIST_COMMENTS = """\
hosts:
    # primary
    - alpha
    # secondary
    - beta
    - name: gamma
      # inner note
      port: 1
"""


def test_comments_in_lists_are_list_items_when_encrypted(
    gitrot, key: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sops writes an encrypted list comment as an item ``- ENC[...,type:comment]``."""
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.path))
    plain = _write(tmp_path / "plain.yaml", LIST_COMMENTS)
    theirs = sops_encrypt(plain, key, "--age", key.recipient)
    assert "- ENC[AES256_GCM" in theirs and ",type:comment]" in theirs
    theirs_path = _write(tmp_path / "theirs.yaml", theirs)
    result = gitrot("decrypt", str(theirs_path))
    assert result.code == 0, result.err
    assert _docs(result.out) == _docs(LIST_COMMENTS)
    ours = tmp_path / "ours.yaml"
    assert gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(ours)).code == 0
    ours_lines = [line.strip()[:17] for line in ours.read_text().splitlines()]
    theirs_lines = [line.strip()[:17] for line in theirs.splitlines()]
    assert ours_lines[:8] == theirs_lines[:8]  # same shape as sops writes it
    assert _docs(sops_decrypt(ours, key)) == _docs(LIST_COMMENTS)


def test_negative_zero_survives_where_sops_fails_its_own_file(
    gitrot, key: Key, tmp_path: Path
) -> None:
    """go-yaml writes an unencrypted -0.0 as ``-0`` (read back as int 0), so sops' MAC over
    "-0" no longer matches its own file; gitrot writes ``-0.0`` and both tools agree."""
    plain = _write(tmp_path / "plain.yaml", "z_unencrypted: -0.0\nsecret: x\n")
    theirs = _write(tmp_path / "theirs.yaml", sops_encrypt(plain, key, "--age", key.recipient))
    assert run_sops(["-d", str(theirs)], key=key).returncode == 51  # sops' own bug
    ours = tmp_path / "ours.yaml"
    assert gitrot("encrypt", str(plain), "--age", key.recipient, "-o", str(ours)).code == 0
    assert "z_unencrypted: -0.0" in ours.read_text()
    assert _docs(sops_decrypt(ours, key)) == _docs("z_unencrypted: -0.0\nsecret: x\n")
