"""Benchmark: ``gitrot due`` against ``git log --name-only -- secrets/`` on one big history.

Builds (once, cached) a policy repository with --intents intents in 100 team folders and
--commits first-parent commits over two years of backdated time: most commits bump one
intent's version, some only touch other files. Then times, median of --runs each:
  * ``gitrot due --format json`` (the console script, cwd = the repository), the whole
    process: start-up and imports, every intent loaded from the work tree, and the history
    read by ``gitrot.git.VersionChanges``, which streams ``git log --first-parent --raw -z
    -- secrets/`` from the real git (started before the intents load, so the two overlap)
    and reads about two blobs per intent (its version at HEAD and before its last bump)
    with pygit2. The least rotated intents date from the first commit, so the whole
    history is read;
  * ``git log --name-only --format=%H%x00%ct -- secrets/`` with the real git, the cheapest
    way git itself answers "which commit last touched each file" (the same walk and tree
    diffs, no blob reads, no version comparison);
run in turns, and prints ``gitrot due X s, git log Y s -> ratio R (target <= 1.5)``. With
--fallback it also times ``gitrot due`` with no ``git`` on ``PATH``, where the history walk
runs on pygit2 alone (every compared tree read through Python; reported, no target).

Usage: python bench/due.py [--intents 10000] [--commits 50000] [--runs 5] [--repo DIR]
                           [--fallback]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.intents import config_text, intent_text

DAY = 86400
TEAM_SIZE = 100
CLASSES = ("database-password", "api-key", "signing-key")
BLOB, TREE = 0o100644, 0o040000


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        sys.exit(f"bench: {name} not found; run `make bench`, which installs it")
    return found


def intent_path(index: int) -> tuple[str, str, str]:
    """(name, team folder, file name) of intent ``index``."""
    team, file = f"team-{index // TEAM_SIZE:03d}", f"secret-{index % TEAM_SIZE:02d}"
    return f"{team}/{file}", team, f"{file}.yaml"


def build(path: Path, intents: int, commits: int) -> None:
    """Write the repository with pygit2 (TreeBuilder, no index), pack it, check it out."""
    import pygit2

    repo = pygit2.init_repository(str(path), initial_head="main")
    rng = random.Random(20240501)
    start = int(time.time()) - 2 * 365 * DAY
    step = (2 * 365 * DAY - DAY) // max(commits, 1)
    versions = [1] * intents

    def text(index: int) -> str:
        name = intent_path(index)[0]
        klass = CLASSES[index % len(CLASSES)]
        return intent_text(name, versions[index], klass=klass, reason=f"CHG-{versions[index]}")

    teams: dict[str, pygit2.Oid] = {}
    for team_start in range(0, intents, TEAM_SIZE):
        builder = repo.TreeBuilder()
        for index in range(team_start, min(team_start + TEAM_SIZE, intents)):
            _, team, file = intent_path(index)
            builder.insert(file, repo.create_blob(text(index)), BLOB)
        teams[intent_path(team_start)[1]] = builder.write()
    secrets = repo.TreeBuilder()
    for team, oid in teams.items():
        secrets.insert(team, oid, TREE)
    root = repo.TreeBuilder()
    root.insert("gitrot.yaml", repo.create_blob(config_text()), BLOB)
    root.insert("README.md", repo.create_blob("policy repository\n"), BLOB)
    secrets_id = secrets.write()
    root.insert("secrets", secrets_id, TREE)
    root_id = root.write()

    def commit(message: str, tree: pygit2.Oid, parents: list[pygit2.Oid], when: int) -> pygit2.Oid:
        signature = pygit2.Signature("Bench", "bench@example.com", when, 0)
        return repo.create_commit(None, signature, signature, message, tree, parents)

    head = commit("initial policy", root_id, [], start)
    for number in range(1, commits):
        when = start + number * step
        if rng.random() < 0.85:
            index = rng.randrange(intents)
            versions[index] += 1
            _, team, file = intent_path(index)
            builder = repo.TreeBuilder(teams[team])
            builder.insert(file, repo.create_blob(text(index)), BLOB)
            teams[team] = builder.write()
            secrets = repo.TreeBuilder(secrets_id)
            secrets.insert(team, teams[team], TREE)
            secrets_id = secrets.write()
            root = repo.TreeBuilder(root_id)
            root.insert("secrets", secrets_id, TREE)
            message = f"Rotate {intent_path(index)[0]} to v{versions[index]}"
        else:
            root = repo.TreeBuilder(root_id)
            root.insert("README.md", repo.create_blob(f"policy repository {number}\n"), BLOB)
            message = f"Docs {number}"
        root_id = root.write()
        head = commit(message, root_id, [head], when)
        if number % 5000 == 0:
            print(f"  {number} commits", file=sys.stderr)
    repo.references.create("refs/heads/main", head, force=True)
    git = tool("git")
    print("  packing", file=sys.stderr)
    subprocess.run([git, "-C", str(path), "gc", "--quiet"], check=True)
    repo.checkout_head(strategy=pygit2.enums.CheckoutStrategy.FORCE)


def median_times(
    commands: list[list[str]], cwd: Path, runs: int, env: dict[str, str] | None = None
) -> list[float]:
    """The median wall time of each command, run in turns (so a noisy spell hits them all)."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for argv, spent in zip(commands, times, strict=True):
            start = time.perf_counter()
            subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=env)
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repo", type=Path, default=None, help="where to build (and cache) it")
    parser.add_argument(
        "--fallback", action="store_true", help="also time gitrot due without git on PATH"
    )
    args = parser.parse_args()
    path = args.repo or Path(
        tempfile.gettempdir(), f"gitrot-bench-due-{args.intents}-{args.commits}"
    )
    if not (path / ".git" / "gitrot-bench-complete").exists():
        shutil.rmtree(path, ignore_errors=True)
        print(f"building {path} ({args.intents} intents, {args.commits} commits)", file=sys.stderr)
        began = time.perf_counter()
        build(path, args.intents, args.commits)
        (path / ".git" / "gitrot-bench-complete").touch()
        print(f"  built in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    gitrot = tool("gitrot")
    git = tool("git")
    log = [git, "log", "--name-only", "--format=%H%x00%ct", "--", "secrets/"]
    due = [gitrot, "due", "--format", "json"]
    subprocess.run(due, cwd=path, check=True, stdout=subprocess.DEVNULL)  # warm the page cache
    ours, theirs = median_times([due, log], path, args.runs)
    ratio = ours / theirs
    print(f"gitrot due {ours:.2f} s, git log {theirs:.2f} s -> ratio {ratio:.2f} (target <= 1.5)")
    if args.fallback:
        without_git = {**os.environ, "PATH": str(Path(gitrot).parent)}
        (alone,) = median_times([due], path, args.runs, env=without_git)
        print(f"without git on PATH (pygit2 walk): {alone:.2f} s -> ratio {alone / theirs:.2f}")


if __name__ == "__main__":
    main()
