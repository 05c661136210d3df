"""Step 5's fault invariants on the REAL servers (docs/architecture.md): OpenBao (KV v2,
tests/backends/openbao.py) and moto (AWS Secrets Manager, tests/backends/moto.py).

- ``gitrot reconcile`` SIGKILLed at random points of 30-rotation runs (30 kills per
  server), each kill followed by a normal run: every (name, version) is on the server once
  (one KV version, one AWS version id) with one value, every consumer was told once per
  version with its one delivery id, the note on HEAD is complete and the state's
  ``backend_version_id`` is the server's; at the end ``gitrot status --exit-code`` is clean.
- Two reconcilers at once (``--push origin``) on two clones of one remote and one server:
  each version written once, one note per commit on the remote.

The harness is tests/reconcile/test_faults.py's (its seed, intents and kill schedule); what
it reads from the local store is read here from the server with another client: urllib on
OpenBao's HTTP API with the root token, boto3 on moto (by version id, never by a plain read).
"""

from __future__ import annotations

import json
import random
import secrets
import shutil
import signal
import subprocess
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gitrot.backends.aws import version_id
from gitrot.backends.base import idempotency_key
from tests.backends.moto import CREDENTIALS, REGION, Moto, moto_fixture  # noqa: F401 - fixture
from tests.backends.openbao import OpenBao, openbao  # noqa: F401 - fixture
from tests.reconcile.conftest import intent_name, sealed_value
from tests.reconcile.helpers import (
    GITROT,
    PolicyRepo,
    environment,
    expected_delivery,
    git,
    logger_trigger,
    read_log,
    run,
    start,
)
from tests.reconcile.test_concurrency import Remote
from tests.reconcile.test_faults import (
    INTENTS,
    JOBS,
    KILLS,
    SEALED_EVERY,
    SEED,
    bump_all,
    check_deliveries,
    classify,
    reconcile_until_done,
    untraced,
)

BACKEND = "server"
CONCURRENT = 2
SERVERS = ["openbao", "moto"]


class ServerRepo(PolicyRepo):
    """A policy repository whose intents live on the backend :data:`BACKEND`, each at
    ``<prefix>/<name>`` (the servers are shared by the session's tests)."""

    backend_name = BACKEND


class Observer:
    """Every version the test has seen on the server: its backend id and value, from the
    first time it appeared (the local harness's ``Store``, read from a server)."""

    def __init__(self, repo: PolicyRepo) -> None:
        self.repo = repo
        self.seen: dict[tuple[str, int], tuple[str, str]] = {}  # -> (backend id, value)
        self.pool = ThreadPoolExecutor(8)

    # what a server answers: {backend id: (gitrot version, value) or None when already seen}
    def listing(self, name: str, ref: str) -> dict[str, tuple[int, str] | None]:
        raise NotImplementedError

    def value(self, ref: str, backend_id: str) -> str:
        raise NotImplementedError

    def observe(self) -> dict[str, set[int]]:
        """``{name: versions on the server}``; fails on a version stored twice (two backend
        ids) or with another value, or a version that is not the intent's."""
        found: dict[str, set[int]] = {}
        names = list(self.repo.refs.items())
        listings = self.pool.map(lambda item: self.listing(*item), names)
        for (name, _ref), listing in zip(names, listings, strict=True):
            ids = {bid for (n, _), (bid, _) in self.seen.items() if n == name}
            for backend_id, new in listing.items():
                if backend_id in ids:
                    continue
                assert new is not None
                version, value = new
                if (name, version) in self.seen:
                    first = self.seen[(name, version)][0]
                    raise AssertionError(
                        f"{name} v{version} was written twice (ids {first} and {backend_id})"
                    )
                self.check_value(name, version, value)
                self.seen[(name, version)] = (backend_id, value)
            gone = ids - set(listing)
            assert not gone, f"{name}: versions {sorted(gone)} disappeared from the server"
            found[name] = {v for (n, v) in self.seen if n == name}
        return {name: versions for name, versions in found.items() if versions}

    def check_value(self, name: str, version: int, value: str) -> None:
        sealed = self.repo.sealed.get((name, version))
        if sealed is not None:
            assert value == sealed, f"{name} v{version} does not hold its sealed value"
        else:
            assert len(value) == 32 and value.isalnum(), f"{name} v{version}: not generated"

    def check_exact(self) -> None:
        """The server holds exactly the versions desired at some commit, once each; no two
        versions hold the same value."""
        assert self.observe() == self.repo.versions
        values = [value for _, value in self.seen.values()]
        assert len(values) == len(set(values)), "two versions got the same value"

    def reread_all(self) -> None:
        """Every version read again by its backend id holds the value first seen."""
        items = list(self.seen.items())
        values = self.pool.map(
            lambda item: self.value(self.repo.refs[item[0][0]], item[1][0]), items
        )
        for ((name, version), (_, first)), value in zip(items, values, strict=True):
            assert value == first, f"{name} v{version} was written again (its value changed)"

    def backend_id(self, name: str, version: int) -> str:
        return self.seen[(name, version)][0]


class BaoObserver(Observer):
    """The KV v2 versions of each ref (``bao kv metadata get``), each read by number."""

    def __init__(self, repo: PolicyRepo, server: OpenBao) -> None:
        super().__init__(repo)
        self.server = server

    def listing(self, name: str, ref: str) -> dict[str, tuple[int, str] | None]:
        known = {bid for (n, _), (bid, _) in self.seen.items() if n == name}
        answer: dict[str, tuple[int, str] | None] = {}
        for kv, meta in self.server.kv_versions(ref).items():
            assert not meta["deletion_time"] and not meta["destroyed"], (name, kv, meta)
            if str(kv) in known:
                answer[str(kv)] = None
                continue
            data = self.server.kv_get(ref, kv)
            version = data["gitrot_version"]
            assert (data["gitrot_name"], data["gitrot_key"]) == (
                name,
                idempotency_key(name, version),
            ), (name, kv)
            answer[str(kv)] = (version, data["value"])
        return answer

    def value(self, ref: str, backend_id: str) -> str:
        return str(self.server.kv_get(ref, int(backend_id))["value"])


class MotoObserver(Observer):
    """The version ids of each secret (deprecated ones too), each read by id: gitrot's
    version N has the id derived from (name, N)'s idempotency key."""

    def __init__(self, repo: PolicyRepo, client: Any) -> None:
        super().__init__(repo)
        self.client = client

    def listing(self, name: str, ref: str) -> dict[str, tuple[int, str] | None]:
        known = {bid for (n, _), (bid, _) in self.seen.items() if n == name}
        try:
            versions = self.client.list_secret_version_ids(
                SecretId=ref, IncludeDeprecated=True, MaxResults=100
            )["Versions"]
        except self.client.exceptions.ResourceNotFoundException:
            return {}
        newest = max(self.repo.versions.get(name, {0}) | {self.repo.pending.get(name, 0)})
        ids = {version_id(idempotency_key(name, v)): v for v in range(1, newest + 2)}
        answer: dict[str, tuple[int, str] | None] = {}
        for entry in versions:
            vid = entry["VersionId"]
            if vid in known:
                answer[vid] = None
                continue
            assert vid in ids, f"{name}: a version id that is no version's ({vid})"
            answer[vid] = (ids[vid], self.value(ref, vid))
        return answer

    def value(self, ref: str, backend_id: str) -> str:
        answer = self.client.get_secret_value(SecretId=ref, VersionId=backend_id)
        return str(answer["SecretString"])


class Server:
    """One of the real servers as a gitrot backend: its gitrot.yaml entry, the children's
    environment, and an observer."""

    def __init__(self, kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.kind = kind
        self.prefix = f"faults-{secrets.token_hex(5)}"
        if kind == "openbao":
            self.bao: OpenBao = request.getfixturevalue("openbao")
            self.entry = f"{{type: vault, url: '{self.bao.url}'}}"
            self.env = environment(VAULT_TOKEN=self.bao.root_token)
        else:
            moto: Moto = request.getfixturevalue("moto")
            self.entry = (
                f"{{type: aws-secrets-manager, region: {REGION}, endpoint_url: {moto.endpoint}}}"
            )
            files = {
                "AWS_CONFIG_FILE": str(tmp_path / "aws-config-none"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials-none"),
            }
            self.env = environment(**CREDENTIALS, **files)
            import boto3

            self.client = boto3.client(
                "secretsmanager",
                region_name=REGION,
                endpoint_url=moto.endpoint,
                aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            )

    def repo(
        self,
        root: Path,
        log: Path,
        *,
        intents: int,
        sealed_every: int,
        store: Path | None = None,
    ) -> ServerRepo:
        """A policy repository with ``intents`` intents on this server, committed."""
        repo = ServerRepo.create(root, triggers={"api": logger_trigger(log)}, store=store)
        repo.prefix = self.prefix
        config = root / "gitrot.yaml"
        line = f"  {BACKEND}: {self.entry}\n"
        config.write_text(config.read_text().replace("backends:\n", f"backends:\n{line}", 1))
        for index in range(intents):
            sealed = sealed_every and index % sealed_every == 0
            repo.new(intent_name(index), sealed=sealed_value(index, 2) if sealed else None)
        if self.kind == "openbao":  # keep every KV version (the default keeps the last 10)
            for ref in repo.refs.values():
                path = f"secret/metadata/{urllib.parse.quote(ref)}"
                status, body = self.bao.api("POST", path, {"max_versions": 100})
                assert status in (200, 204), body
        repo.commit("Add the intents")
        return repo

    def observer(self, repo: PolicyRepo) -> Observer:
        if self.kind == "openbao":
            return BaoObserver(repo, self.bao)
        return MotoObserver(repo, self.client)


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Server:
    return Server(request.param, request, tmp_path)


def state_of(root: Path) -> dict[str, Any]:
    """``PolicyRepo.state()`` in two git processes (``cat-file --batch``), not one a secret."""
    listing = git(root, "ls-tree", "-r", "refs/gitrot/state", "--", "secrets").splitlines()
    rows = [line.split("\t") for line in listing]
    done = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=root,
        env=environment(),
        input="".join(info.split()[2] + "\n" for info, _ in rows).encode(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    found, out = {}, done.stdout
    for _info, path in rows:
        header, _, out = out.partition(b"\n")
        size = int(header.split()[2])
        found[path.removeprefix("secrets/").removesuffix(".json")] = json.loads(out[:size])
        out = out[size + 1 :]
    return found


def check_note(repo: PolicyRepo, observer: Observer, previous: str | None) -> None:
    """test_faults.check_note with the server's version ids: every intent at its desired
    version in the state (its blob, key, the server's id for it, its consumer told), the
    note on HEAD lists every version, the previous reconciled commit and the state;
    ``refs/gitrot/reconciled`` is HEAD."""
    head = repo.head()
    assert repo.reconciled() == head
    note = repo.note()
    assert note is not None, "no note on HEAD"
    assert (note["gitrot_note"], note["commit"], note["refused"]) == (2, head, [])
    assert note["state"] == git(repo.root, "rev-parse", "refs/gitrot/state").strip()
    ledger = state_of(repo.root)
    assert set(ledger) == set(repo.desired)
    blobs = repo.blobs()
    for name, version in repo.desired.items():
        entry = ledger[name]
        assert (entry["version"], entry["blob"]) == (version, blobs[name])
        assert entry["key"] == idempotency_key(name, version)
        assert entry["backend_version_id"] == observer.backend_id(name, version)
        told = entry["deliveries"]["api"]
        assert (told["ok"], told["delivery_id"]) == (True, expected_delivery(name, version))
    assert note["previous"] == previous
    assert {(a["name"], a["version"]) for a in note["applied"]} == set(repo.desired.items())


# The two long runs are two tests far apart in the file: xdist keeps a test's next one on
# its worker, so adjacent ones would run one after the other.
@pytest.mark.slow
@pytest.mark.parametrize("server", ["openbao"], indirect=True)
def test_killed_anywhere_a_normal_run_converges_on_openbao(server: Server, tmp_path: Path) -> None:
    outcomes = killed_anywhere(server, tmp_path)
    assert sum(outcomes.values()) == KILLS
    assert outcomes["some written"] >= KILLS // 10, outcomes  # the kills hit the writes


def killed_anywhere(server: Server, tmp_path: Path) -> Counter[str]:
    """30 kills of 30-rotation runs on ``server``, each followed by a normal run checked
    whole; how far each killed run got."""
    log = tmp_path / "deliveries.log"
    repo = server.repo(tmp_path / "policy", log, intents=INTENTS, sealed_every=SEALED_EVERY)
    env = untraced(server.env)
    observer = server.observer(repo)
    rng = random.Random(SEED)
    began = time.perf_counter()
    first = run(repo.root, "reconcile", "--jobs", JOBS, env=env)
    length = time.perf_counter() - began
    assert first.returncode == 0, first.stderr
    check_deliveries(repo, read_log(log))
    observer.check_exact()
    check_note(repo, observer, None)
    previous = repo.head()
    outcomes: Counter[str] = Counter()
    for _ in range(KILLS):
        head = bump_all(repo)
        process = start(repo.root, "reconcile", "--jobs", JOBS, env=env)
        time.sleep(rng.uniform(0, length))
        process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode in (-signal.SIGKILL, 0), stderr.decode()
        told = read_log(log)  # before the server: a delivery comes after its write
        state = observer.observe()
        for (name, version), ids in told.items():
            assert version in state.get(name, ()), f"{name} v{version} told before written"
            assert ids == {expected_delivery(name, version)}, (name, version, ids)
        outcomes[classify(repo, state, head)] += 1
        reconcile_until_done(repo, env)
        observer.check_exact()
        check_deliveries(repo, read_log(log))
        check_note(repo, observer, previous)
        previous = head
    observer.reread_all()
    status = run(repo.root, "status", "--exit-code", "--format", "json", env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    rows = json.loads(status.stdout)["secrets"]
    assert {r["name"]: (r["desired"], r["applied"]) for r in rows} == {
        name: (version, version) for name, version in repo.desired.items()
    }
    print(f"\n{KILLS} kills on {server.kind} (run of {length:.2f} s): {dict(outcomes)}")
    return outcomes


def reconcile_at_once(clones: list[Path], env: dict[str, str]) -> list[tuple[int, str]]:
    """``gitrot reconcile --push origin`` started in every clone at once; (exit, stderr)."""
    processes = [
        subprocess.Popen(
            [*GITROT, "reconcile", "--push", "origin", "--jobs", JOBS],
            cwd=path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in clones
    ]
    return [(p.wait(timeout=120), p.communicate()[1]) for p in processes]


# moto differs from AWS here: its PutSecretValue checks whether the ClientRequestToken is in
# use, then adds the version, without a lock, in a threaded server. Two reconcilers putting
# version 1 of a secret at once (same token, their own values) both pass the check: the
# second put replaces the first one's value and staging labels (dropping the AWSCURRENT
# moto gave the first version), and moto's UpdateSecretVersionStage then fails with an
# IndexError (500): exit 3, or a version with two values. One put after the other is
# refused as AWS refuses it (ResourceExistsException, which the backend takes as "written
# by the other reconciler"); the race is checked on the in-tree fake
# (tests/backends/test_aws_contract.py), so this test runs on OpenBao only: on moto its result
# would depend on the race, and a test that may pass or fail proves nothing.


@pytest.mark.slow
@pytest.mark.parametrize("server", ["openbao"], indirect=True)  # moto: see above
def test_two_reconcilers_at_once_write_each_version_once(server: Server, tmp_path: Path) -> None:
    log = tmp_path / "deliveries.log"
    repo = server.repo(
        tmp_path / "policy", log, intents=20, sealed_every=4, store=tmp_path / "shared-store"
    )
    remote = Remote(tmp_path, repo)
    clones = remote.clones[:CONCURRENT]
    env = untraced(server.env)
    observer = server.observer(repo)
    commits = [repo.head()]
    for round_ in range(2):
        if round_:
            commits.append(bump_all_of(repo, 20, 4))
            remote.publish()
            for path in clones:
                git(path, "pull", "--quiet", "--ff-only", "origin", "main")
        for code, stderr in reconcile_at_once(clones, env):
            assert code == 0, stderr
        observer.check_exact()
        told = read_log(log)
        check_deliveries(repo, told)
        fresh = remote.fresh_clone(tmp_path / f"fresh-{round_}")
        (fresh / ".gitrot").mkdir(mode=0o700, exist_ok=True)
        for key in ("reconciler.key", "signing.key"):  # the refs are encrypted to it
            shutil.copyfile(repo.root / ".gitrot" / key, fresh / ".gitrot" / key)
            (fresh / ".gitrot" / key).chmod(0o600)
        notes = git(fresh, "notes", "--ref", "gitrot", "list").splitlines()
        assert sorted(line.split()[1] for line in notes) == sorted(commits)
        assert len(git(fresh, "rev-list", "refs/notes/gitrot").split()) == len(commits)
        assert git(fresh, "rev-parse", "refs/gitrot/reconciled").strip() == commits[-1]
        state = repo.state(cwd=fresh)
        for name, version in repo.desired.items():
            entry = state[name]
            assert entry["version"] == version
            assert entry["backend_version_id"] == observer.backend_id(name, version)
        status = run(fresh, "status", "--exit-code", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
    observer.reread_all()


def bump_all_of(repo: PolicyRepo, intents: int, sealed_every: int) -> str:
    for index in range(intents):
        name = intent_name(index)
        sealed = index % sealed_every == 0
        repo.rotate(name, value=sealed_value(index, repo.desired[name] + 1) if sealed else None)
    return repo.commit("Rotate everything")


@pytest.mark.parametrize("server", ["openbao", "moto"], indirect=True)
def test_the_observer_sees_a_version_written_twice(server: Server, tmp_path: Path) -> None:
    """The checks above are not vacuous: a version of an intent written again behind
    gitrot's back (another KV version with its record; on moto, another version id) fails
    them."""
    repo = server.repo(tmp_path / "policy", tmp_path / "log", intents=2, sealed_every=0)
    done = run(repo.root, "reconcile", env=untraced(server.env))
    assert done.returncode == 0, done.stderr
    observer = server.observer(repo)
    observer.check_exact()
    name = intent_name(1)
    ref, again = repo.refs[name], "x" * 32
    if server.kind == "openbao":
        data = server.bao.kv_get(ref) | {"value": again}
        server.bao.kv_put(ref, data)
        with pytest.raises(AssertionError, match=f"{name} v1 was written twice"):
            observer.check_exact()
    else:  # another version of the secret, with an id that is no version's of the intent
        token = version_id(idempotency_key(name, 1) + "-again")
        server.client.put_secret_value(SecretId=ref, ClientRequestToken=token, SecretString=again)
        with pytest.raises(AssertionError, match=f"{name}: a version id that is no version's"):
            observer.check_exact()


@pytest.mark.slow
@pytest.mark.parametrize("server", ["moto"], indirect=True)
def test_killed_anywhere_a_normal_run_converges_on_moto(server: Server, tmp_path: Path) -> None:
    outcomes = killed_anywhere(server, tmp_path)
    assert sum(outcomes.values()) == KILLS
    assert outcomes["some written"] >= KILLS // 10, outcomes  # the kills hit the writes
