"""A secret value never leaves the backend (docs/architecture.md): after a full run
(generated and sealed values, two rounds), no value appears in any git object (notes
included), in the store's files, in the temporary directory the commands used, in what a
consumer received (a command's environment, a webhook's request), or in the output of
plan, reconcile and status, in text and in json."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from typing import TYPE_CHECKING

from tests.reconcile.conftest import intent_name, sealed_value
from tests.reconcile.helpers import environment, git, logger_trigger, read_log, run
from tests.triggers.receiver import KEY, Receiver

if TYPE_CHECKING:
    from pathlib import Path

    from tests.reconcile.conftest import MakeRepo

INTENTS = 6  # secret-00, -02, -04 sealed; -01, -03, -05 generated


def forms(value: str) -> dict[str, bytes]:
    """The shapes a leaked value could take."""
    raw = value.encode()
    return {
        "plain": raw,
        "base64": base64.b64encode(raw).rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "hex": raw.hex().encode(),
        "json": json.dumps(value).encode(),
    }


def files_under(folder: Path) -> dict[str, bytes]:
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[str(path)] = path.read_bytes()
    return found


def hits(places: dict[str, bytes], values: dict[str, str]) -> list[str]:
    """``place: secret (form)`` for every value found; never the value itself."""
    found: list[str] = []
    for label, value in values.items():
        for form, needle in forms(value).items():
            found.extend(f"{place}: {label} ({form})" for place, data in places.items()
                         if needle in data)  # fmt: skip
    return found


def test_no_value_appears_anywhere_after_a_full_run(
    make_repo: MakeRepo, tmp_path: Path, trigger_log: Path
) -> None:
    dumps = tmp_path / "consumer-environments"
    dumps.mkdir()
    dump = {
        "type": "command",
        "argv": ["sh", "-c", 'env > "$1/$GITROT_DELIVERY_ID.env"', "dump", str(dumps)],
    }
    temp = tmp_path / "tmp"
    temp.mkdir()
    outputs: dict[str, bytes] = {}
    with Receiver() as receiver:
        hook = {"type": "webhook", "url": receiver.url, "secret_env": "GITROT_WEBHOOK_SECRET"}
        triggers = {"api": logger_trigger(trigger_log), "dump": dump, "hook": hook}
        repo = make_repo(0, triggers=triggers, commit=False)
        for index in range(INTENTS):
            sealed = sealed_value(index, 2) if index % 2 == 0 else None
            repo.new(intent_name(index), consumers=("api", "dump", "hook"), sealed=sealed)
        repo.commit()
        env = environment(GITROT_WEBHOOK_SECRET=KEY, TMPDIR=str(temp))

        def gitrot(*args: str, expect: int = 0) -> None:
            done = run(repo.root, *args, env=env)
            assert done.returncode == expect, done.stderr
            label = f"run {len(outputs) // 2 + 1}: gitrot {' '.join(args)}"
            outputs[f"{label} (stdout)"] = done.stdout.encode()
            outputs[f"{label} (stderr)"] = done.stderr.encode()

        for fmt in ("text", "json"):
            gitrot("plan", "--format", fmt)
        gitrot("reconcile", "--format", "text")
        for index in range(INTENTS):
            value = sealed_value(index, 3) if index % 2 == 0 else None
            repo.rotate(intent_name(index), value=value)
        repo.commit()
        for fmt in ("text", "json"):
            gitrot("plan", "--format", fmt)
            gitrot("status", "--format", fmt)
        gitrot("reconcile", "--format", "json")
        for fmt in ("text", "json"):
            gitrot("plan", "--format", fmt)
            gitrot("status", "--format", fmt)
            gitrot("reconcile", "--format", fmt)  # nothing to do
        requests = {f"webhook request {n}": json.dumps([r.headers, r.body.decode()]).encode()
                    for n, r in enumerate(receiver.requests)}  # fmt: skip

    backend = repo.backend()
    values = {
        f"{name} v{version}": backend.read(repo.refs[name], version).reveal()
        for name, versions in repo.versions.items()
        for version in versions
    }
    assert len(values) == 2 * INTENTS
    assert len(set(values.values())) == len(values)
    for (name, version), value in repo.sealed.items():
        if version in repo.versions[name]:
            assert values[f"{name} v{version}"] == value
    assert len(read_log(trigger_log)) == 2 * INTENTS
    assert len(list(dumps.iterdir())) == 2 * INTENTS
    assert len(requests) >= 2 * INTENTS

    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=repo.root,
        env=environment(),
        capture_output=True,
        check=True,
    ).stdout
    assert git(repo.root, "notes", "--ref", "gitrot", "list").count("\n") == 2
    assert b'"gitrot_note": 2' in objects  # the notes are among the objects scanned
    assert b'"gitrot_state": 1' in objects  # and so is the state
    places = {"git objects (cat-file --batch-all-objects)": objects}
    places |= files_under(repo.root)  # the work tree, .git and .gitrot/store, raw
    places |= files_under(temp)
    places |= files_under(dumps)
    places |= outputs | requests
    places[str(trigger_log)] = trigger_log.read_bytes()
    assert any(".gitrot/store" in place for place in places)
    assert not hits(places, values)
    assert os.listdir(temp) == []  # the commands cleaned up after themselves
