"""Benchmark: ``gitrot validate`` against ``check-jsonschema`` on the same intent files.

Builds a temporary policy repository (``gitrot.yaml`` from tests/intents.py ``config_text``
plus the trigger the intents name, and --intents real SOPS intents from ``intent_text``),
checks that ``gitrot validate`` reports nothing on them (and ``check-jsonschema`` accepts
the first; every timed run must exit 0 too), then times, whole process, the median of
runs taken in turns:
  * ``gitrot validate FILE...`` (the console script, cwd = the repository): the loader's
    checks (schema, names, paths, encryption) and the policy rules;
  * ``check-jsonschema --schemafile gitrot/schemas/intent.schema.json FILE...``, the
    schema-only check pre-commit users run today, with its default options;
on one intent (--runs turns) and on all of them in one invocation (--batch-runs turns), and prints
``validate, N intent(s): gitrot X ms, check-jsonschema Y ms -> ratio R (target <= 0.5)``.
When a target is missed it prints where gitrot's time goes: the top cumulative imports
(``python -X importtime``) for one intent, a cProfile top 10 by cumulative time for many.

One run of check-jsonschema on 2,000 intents takes ~17 s, so the batch case takes
--batch-runs turns (default 7), which keeps the whole benchmark under ~3 minutes.

Usage: python bench/validate.py [--intents 2000] [--runs 11] [--batch-runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.intents import config_text, intent_text

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "gitrot" / "schemas" / "intent.schema.json"
TARGET = 0.5
TEAM_SIZE = 100
CLASSES = ("database-password", "api-key")
# the one consumer intent_text writes must be a trigger, or the consumers-exist rule fires
TRIGGERS = "triggers:\n  payments-api: {type: command, argv: [make, rebuild]}\n"
ENTRY = "import sys; from gitrot.main import main; sys.exit(main())"  # what the script runs


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        sys.exit(f"bench: {name} not found; run `make bench`, which installs it")
    return found


def build(root: Path, count: int) -> list[str]:
    """Write gitrot.yaml and ``count`` intents under ``root``; their relative paths."""
    (root / "gitrot.yaml").write_text(config_text() + TRIGGERS)
    paths = []
    for index in range(count):
        team, file = f"team-{index // TEAM_SIZE:03d}", f"secret-{index % TEAM_SIZE:02d}"
        folder = root / "secrets" / team
        folder.mkdir(parents=True, exist_ok=True)
        klass = CLASSES[index % len(CLASSES)]
        text = intent_text(
            f"{team}/{file}", 1 + index % 7, klass=klass, reason=f"Quarterly rotation CHG-{index}"
        )
        (folder / f"{file}.yaml").write_text(text)
        paths.append(f"secrets/{team}/{file}.yaml")
    commit_all(root)
    return paths


def commit_all(root: Path) -> None:
    """Commit the repository, as a pre-commit hook always finds it: validate then compares
    every intent with HEAD and asks git when its version took effect."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
    )
    for argv in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"],
                 ["git", "commit", "-qm", "intents"]):  # fmt: skip
        subprocess.run(argv, cwd=root, env=env, check=True)


def check_valid(gitrot: str, peer: list[str], files: list[str], cwd: Path) -> None:
    """Fail loudly unless gitrot reports no finding and the peer accepts every file."""
    done = subprocess.run(
        [gitrot, "validate", "--format", "json", *files],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(done.stdout or "null")
    except ValueError:
        report = done.stdout
    clean = report == []  # the json report is the list of findings
    if done.returncode != 0 or not clean:
        sys.exit(
            f"bench: gitrot validate rejects the generated intents (exit {done.returncode}):\n"
            f"{done.stdout[:4000]}{done.stderr[:4000]}"
        )
    # the peer on one file only (it takes ~17 s on 2,000): the timed runs check its exit code
    done = subprocess.run([*peer, *files[:1]], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(
            f"bench: check-jsonschema rejects the generated intents (exit {done.returncode}):\n"
            f"{done.stdout[:4000]}{done.stderr[:4000]}"
        )


def median_times(commands: list[list[str]], cwd: Path, runs: int) -> list[float]:
    """The median wall time of each command, run in turns (so a noisy spell hits them all)."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for argv, spent in zip(commands, times, strict=True):
            start = time.perf_counter()
            subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def import_times(file: str, cwd: Path, top: int = 15) -> None:
    """Print the imports with the largest cumulative time in ``gitrot validate FILE``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", ENTRY, "validate", file],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(fields) != 3:
            continue
        self_us, cumulative_us, name = fields
        try:
            rows.append((int(cumulative_us), int(self_us), name.rstrip()))
        except ValueError:  # the header line
            continue
    rows.sort(reverse=True)
    print(f"  top {top} imports by cumulative time (python -X importtime):")
    for cumulative, own, name in rows[:top]:
        print(f"    {cumulative / 1000:7.1f} ms cumulative {own / 1000:6.1f} ms self  {name}")


def profile(files: list[str], cwd: Path, top: int = 10) -> None:
    """Print a cProfile top ``top`` by cumulative time of ``gitrot validate FILE...``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "validate.prof")
        subprocess.run(
            [sys.executable, "-m", "cProfile", "-o", out, "-m", "gitrot", "validate", *files],
            cwd=cwd,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"  cProfile, top {top} by cumulative time:")
        sys.stdout.flush()
        stats = pstats.Stats(out, stream=sys.stdout)
        stats.strip_dirs().sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=11, help="turns for one intent")
    parser.add_argument("--batch-runs", type=int, default=7, help="turns for all the intents")
    args = parser.parse_args()
    gitrot = tool("gitrot")
    peer = [tool("check-jsonschema"), "--schemafile", str(SCHEMA)]
    with tempfile.TemporaryDirectory(prefix="gitrot-bench-validate-") as tmp:
        root = Path(tmp)
        files = build(root, args.intents)
        check_valid(gitrot, peer, files, root)  # also warms the page cache and bytecode
        cases = (
            ("1 intent", files[:1], args.runs),
            (f"{len(files):,} intents", files, args.batch_runs),
        )
        for label, chosen, runs in cases:
            ours, theirs = median_times(
                [[gitrot, "validate", *chosen], [*peer, *chosen]], root, runs
            )
            ratio = ours / theirs
            verdict = "OK" if ratio <= TARGET else "MISSED"
            print(
                f"validate, {label}: gitrot {ours * 1000:.0f} ms, check-jsonschema "
                f"{theirs * 1000:.0f} ms -> ratio {ratio:.2f} (target <= {TARGET}) {verdict} "
                f"[median of {runs}]",
                flush=True,
            )
            if ratio > TARGET:
                if len(chosen) == 1:
                    import_times(chosen[0], root)
                else:
                    profile(chosen, root)


if __name__ == "__main__":
    main()
