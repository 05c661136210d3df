"""Benchmark: ``gitrot reconcile`` applying 1,000 rotations, and a no-op ``gitrot plan``.

Builds a policy repository as ``gitrot init`` leaves it (a reconciler identity in
.gitrot/reconciler.key, the local backend) whose --rotations intents are written in the
layout ``gitrot new`` writes (``gitrot.files.intents.new_intent_text``: each ref encrypted for the
repository's recipient; one file per intent in 100 team folders), each consumed by one
command trigger (``true``), and commits them. Then times, as whole processes (the console
script, cwd = the repository):
  * ``gitrot reconcile`` on that commit: every intent written to the local backend at
    version 1 (one age-encrypted value and one record, each fsync'd) and its trigger run;
  * the same after a commit that bumps every intent to version 2;
and prints ``reconcile, 1,000 rotations: v1 X s, v2 Y s (target < 10 s)``.

Then a repository of --intents intents, built and reconciled once (cached under the system
temp dir, keyed by the parameters), and times ``gitrot plan`` there with everything up to
date (--runs times, median): ``plan, 10,000 up-to-date intents: Y ms (target < 1000 ms)``.
A missed target prints a cProfile top 15 by cumulative time of the command.

Last, the growth of the repository: a copy of that repository, ``git gc``, then --growth
commits each rotating one secret, each reconciled by ``gitrot reconcile``, then ``git gc``
again: ``growth, 100 reconciled rotations on 10,000 intents: A MB -> B MB (+C MB, target
< 2 MB)``. What grows is the commits themselves, one note each (what the run did) and the
state's changed entries: the state shares every unchanged secret's objects.

Usage: python bench/reconcile.py [--rotations 1000] [--intents 10000] [--runs 5]
                                 [--growth 100] [--jobs 4] [--repo DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GENERATOR = 2  # bump when the repositories change shape: the cache key includes it
TEAM_SIZE = 100
CLASS = "bench-key"  # no min_interval: the bench rotates every intent twice in a minute
TRIGGERS = 'triggers:\n  rebuild: {type: command, argv: ["true"]}\n'
TARGET_RECONCILE_S, TARGET_PLAN_MS, TARGET_GROWTH_MB = 10.0, 1000.0, 2.0


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        sys.exit(f"bench: {name} not found; run `make bench`, which installs it")
    return found


def git_env() -> dict[str, str]:
    """No ``GIT_*`` from outside (git must work on the bench repository only), a fixed
    identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITROT_"))}
    env.update(
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
    )
    return env


def intent_name(index: int) -> str:
    return f"team-{index // TEAM_SIZE:03d}/secret-{index % TEAM_SIZE:02d}"


def commit_all(root: Path, message: str) -> None:
    git, env = tool("git"), git_env()
    subprocess.run([git, "add", "-A"], cwd=root, env=env, check=True)
    subprocess.run(
        [git, "commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m", message],
        cwd=root,
        env=env,
        check=True,
    )


def build(
    root: Path, count: int, backend: tuple[str, dict[str, str]] | None = None, prefix: str = ""
) -> None:
    """``gitrot init``, the trigger and the class in gitrot.yaml, ``count`` intents at
    version 1 as ``gitrot new`` writes them, one commit. On the local store, or on
    ``backend`` (its name in gitrot.yaml, its options) under refs ``prefix/<name>``."""
    from gitrot.commands import init
    from gitrot.files import intents

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        init.init(str(root), break_glass=None)
    config = root / "gitrot.yaml"
    text = config.read_text().replace("triggers: {}\n", TRIGGERS)
    text = text.replace("classes:\n", f"classes:\n  {CLASS}: {{max_age: 90d}}\n")
    if backend is not None:
        line = f"  {backend[0]}: {json.dumps(backend[1])}\n"  # JSON is a YAML flow mapping
        text = text.replace("backends:\n", f"backends:\n{line}", 1)
    config.write_text(text)
    options = intents.creation_options(str(root), "secrets/team-000/secret-00.yaml")
    now = datetime.now(UTC)
    for index in range(count):
        name = intent_name(index)
        path = root / "secrets" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            intents.new_intent_text(
                name,
                owner=f"team-{index // TEAM_SIZE:03d}",
                rotation_class=CLASS,
                backend=backend[0] if backend else "local",
                ref=f"{prefix}/{name}" if prefix else name,
                environment=None,
                consumers=["rebuild"],
                length=32,
                alphabet="A-Za-z0-9",
                options=options,
                now=now,
            )
        )
    commit_all(root, f"{count} intents" + (f" on {backend[0]}" if backend else ""))


def bump_all(root: Path, count: int) -> None:
    """Every intent to version 2 with a reason, as ``gitrot rotate`` edits them (only the
    ref is encrypted and the MAC covers only it: no key needed), one commit."""
    for index in range(count):
        path = root / "secrets" / f"{intent_name(index)}.yaml"
        text = path.read_text()
        assert "\n    version: 1\n" in text, path
        text = text.replace("\n    version: 1\n", "\n    version: 2\n", 1)
        path.write_text(text.replace("reason: Initial version", "reason: Bench rotation CHG-2"))
    commit_all(root, f"Rotate {count} intents")


def gitrot(root: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """One whole-process run: (seconds, result); exits on anything but exit 0."""
    began = time.perf_counter()
    done = subprocess.run(
        [tool("gitrot"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=git_env(),
        check=False,
    )
    spent = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"bench: gitrot {' '.join(args)} exited {done.returncode} in {root}:\n"
                 f"{done.stdout[-2000:]}{done.stderr[-2000:]}")  # fmt: skip
    return spent, done


def check_applied(done: subprocess.CompletedProcess[str], count: int, version: int) -> None:
    report = json.loads(done.stdout)
    applied = [a for a in report["applied"] if a["version"] == version and not a["found"]]
    told = [d for d in report["deliveries"] if d["ok"]]
    if len(applied) != count or len(told) != count or report["refused"]:
        sys.exit(
            f"bench: expected {count} versions written and told, got {len(applied)} written, "
            f"{len(told)} told, {len(report['refused'])} refused"
        )


def profile(root: Path, args: list[str], top: int = 15) -> None:
    """Print a cProfile top ``top`` by cumulative time of ``gitrot ARGS``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "gitrot.prof")
        subprocess.run(
            [sys.executable, "-m", "cProfile", "-o", out, "-m", "gitrot", *args],
            cwd=root,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=git_env(),
        )
        print(f"  cProfile of gitrot {' '.join(args)}, top {top} by cumulative time:")
        sys.stdout.flush()
        stats = pstats.Stats(out, stream=sys.stdout)
        stats.strip_dirs().sort_stats("cumulative").print_stats(top)


def time_rotations(count: int, jobs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="gitrot-bench-reconcile-") as tmp:
        root = Path(tmp, "policy")
        began = time.perf_counter()
        build(root, count)
        print(f"  built {count:,} intents in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        reconcile = ["reconcile", "--jobs", str(jobs), "--format", "json"]
        first, done = gitrot(root, *reconcile)
        check_applied(done, count, 1)
        bump_all(root, count)
        second, done = gitrot(root, *reconcile)
        check_applied(done, count, 2)
        worst = max(first, second)
        verdict = "OK" if worst < TARGET_RECONCILE_S else "MISSED"
        print(
            f"reconcile, {count:,} rotations: v1 {first:.2f} s, v2 {second:.2f} s "
            f"(target < {TARGET_RECONCILE_S:g} s) {verdict} [--jobs {jobs}]",
            flush=True,
        )
        if worst >= TARGET_RECONCILE_S:
            for path in (root / "secrets").rglob("*.yaml"):  # profile a third round
                text = path.read_text().replace("\n    version: 2\n", "\n    version: 3\n", 1)
                path.write_text(text)
            commit_all(root, "Rotate again")
            profile(root, reconcile)


def up_to_date(base: Path, count: int, jobs: int) -> Path:
    """The cached repository of ``count`` intents, reconciled once (built first if
    missing)."""
    root = base / f"v{GENERATOR}-{count}-intents-reconciled"
    done = root / ".git" / "gitrot-bench-complete"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        print(f"building {root}", file=sys.stderr)
        began = time.perf_counter()
        build(root, count)
        print(f"  built in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        began = time.perf_counter()
        spent, result = gitrot(root, "reconcile", "--jobs", str(jobs), "--format", "json")
        check_applied(result, count, 1)
        print(f"  reconciled {count:,} rotations in {spent:.1f} s", file=sys.stderr)
        done.touch()
    return root


def time_plan(base: Path, count: int, runs: int, jobs: int) -> None:
    root = up_to_date(base, count, jobs)
    _, done = gitrot(root, "plan")  # also warms the page cache and bytecode
    if "nothing to do" not in done.stdout:
        sys.exit(f"bench: the {count:,}-intent repository is not up to date:\n{done.stdout[:2000]}")
    times = [gitrot(root, "plan")[0] for _ in range(runs)]
    median = statistics.median(times) * 1000
    verdict = "OK" if median < TARGET_PLAN_MS else "MISSED"
    print(
        f"plan, {count:,} up-to-date intents: {median:.0f} ms "
        f"(target < {TARGET_PLAN_MS:g} ms) {verdict} [median of {runs}]",
        flush=True,
    )
    if median >= TARGET_PLAN_MS:
        profile(root, ["plan"])


def repository_size(root: Path) -> int:
    """Bytes of the repository's objects after ``git gc`` (packs and any loose ones)."""
    git, env = tool("git"), git_env()
    subprocess.run([git, "gc", "--quiet", "--prune=now"], cwd=root, env=env, check=True)
    done = subprocess.run(
        [git, "count-objects", "-v"], cwd=root, env=env, check=True, capture_output=True, text=True
    )
    fields = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    return (int(fields["size"]) + int(fields["size-pack"])) * 1024


def time_growth(base: Path, count: int, rotations: int, jobs: int) -> None:
    """``rotations`` commits on a copy of the up-to-date repository, each rotating one
    secret and reconciled; the repository's size after ``git gc`` before and after."""
    source = up_to_date(base, count, jobs)
    with tempfile.TemporaryDirectory(prefix="gitrot-bench-growth-") as tmp:
        root = Path(tmp, "policy")
        shutil.copytree(source, root, symlinks=True)
        before = repository_size(root)
        began = time.perf_counter()
        for step in range(rotations):
            index = (step * 97) % count  # spread over the teams
            path = root / "secrets" / f"{intent_name(index)}.yaml"
            text = path.read_text()
            version = int(text.split("\n    version: ", 1)[1].split("\n", 1)[0])
            text = text.replace(f"\n    version: {version}\n", f"\n    version: {version + 1}\n", 1)
            path.write_text(text.replace("reason: Initial version", f"reason: Bench CHG-{step}"))
            commit_all(root, f"Rotate {intent_name(index)}")
            _, done = gitrot(root, "reconcile", "--jobs", str(jobs), "--format", "json")
            applied = json.loads(done.stdout)["applied"]
            if [a["name"] for a in applied] != [intent_name(index)]:
                sys.exit(f"bench: rotation {step} applied {applied!r}")
        spent = time.perf_counter() - began
        after = repository_size(root)
        grown = (after - before) / 1e6
        verdict = "OK" if grown < TARGET_GROWTH_MB else "MISSED"
        print(
            f"growth, {rotations:,} reconciled rotations on {count:,} intents: "
            f"{before / 1e6:.2f} MB -> {after / 1e6:.2f} MB (+{grown:.2f} MB, target < "
            f"{TARGET_GROWTH_MB:g} MB) {verdict} [{spent / rotations:.2f} s per commit + run]",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rotations", type=int, default=1000)
    parser.add_argument("--intents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--growth", type=int, default=100, help="rotations for the growth")
    parser.add_argument("--jobs", type=int, default=4, help="gitrot reconcile --jobs")
    parser.add_argument("--repo", type=Path, default=None, help="where to cache the big one")
    args = parser.parse_args()
    tool("gitrot")
    time_rotations(args.rotations, args.jobs)
    base = args.repo or Path(tempfile.gettempdir(), "gitrot-bench-reconcile")
    time_plan(base, args.intents, args.runs, args.jobs)
    if args.growth:
        time_growth(base, args.intents, args.growth, args.jobs)


if __name__ == "__main__":
    main()
