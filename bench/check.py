"""Benchmark: ``gitrot check`` on the same 10-intent PR over a long and a short history.

Builds (once, cached under the system temp dir, keyed by the parameters) two policy
repositories that differ only in the length of their history: each holds --intents valid
intents (tests/intents.py ``intent_text``) in 100 team folders, with gitrot.yaml,
.sops.yaml, waivers.yaml, policies/, .gitignore and .pre-commit-config.yaml as
``gitrot init`` writes them (plus the trigger the intents name), and
  * main: --commits first-parent commits (the big one) or --small-commits (the small one),
    the last 10 days before the build; 85% bump one intent's version with a reason, the
    others edit README.md or policies/README.md. Both go at the same pace: each intent is
    rotated every 70 days (--schedule periodic: each in turn, as teams rotating on
    schedule do; 100,000 commits then span about 1.6 years) or any intent at random
    (--schedule random: some go unrotated for many cycles);
  * pr: a branch off main that rotates the same --changed intents (version + 1, a new
    reason) in three commits of the last hour.
Every commit is written by ``git fast-import`` from one stream (100,000 commits take
seconds, not minutes); main is checked out, and the repository is left as ``git clone``
leaves one: one pack, no commit-graph. ``--build-only`` builds, then runs ``gitrot
validate`` on main in both (it must exit 0) and stops.

Then it times ``gitrot check --base main --head pr --format json`` (the console script,
cwd = the repository: the whole process; with the PR's author and approvals in
``GITROT_PR_*`` as the GitHub Action sets them) --runs times in each repository, in turns
(so a noisy spell hits both), and prints the medians:
``check, 10 intents changed: 100,000 commits X ms, 100 commits Y ms -> ratio R (target <=
1.5); big repo X ms (target < 1000 ms)``. The check's cost should follow the size of the
change, not the length of the history.

Usage: python bench/check.py [--intents 10000] [--commits 100000] [--small-commits 100]
                             [--changed 10] [--runs 7] [--schedule periodic|random]
                             [--repo DIR] [--build-only]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from collections.abc import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gitrot.commands import init
from tests.intents import default_recipient, intent_text

GENERATOR = 2  # bump when the repositories change shape: the cache key includes it
DAY = 86400
TEAM_SIZE = 100
CLASSES = ("database-password", "api-key", "signing-key", "tls-certificate")
TRIGGERS = "triggers:\n  payments-api: {type: command, argv: [make, rebuild]}\n"
PEOPLE = (
    "Alice Martin <alice@example.com>",
    "Bilal Okafor <bilal@example.com>",
    "Chen Wei <chen@example.com>",
    "Dana Kowalski <dana@example.com>",
    "Esther Nakamura <esther@example.com>",
)
REASONS = (
    "Quarterly rotation CHG-{n}",
    "Scheduled rotation from gitrot due, CHG-{n}",
    "Rotate after a team member left, TKT-{n}",
    "Vendor asked for a key roll, VND-{n}",
    "Annual rotation per the key management policy, SEC-{n}",
)
TARGET_RATIO, TARGET_MS = 1.5, 1000
PERIOD = 70  # days between two rotations of an intent (periodic): under every max_age
ROTATING = 0.85  # the share of commits that rotate an intent
JITTER = 50  # rotations: how far an intent's turn moves from one cycle to the next
#: what the GitHub Action gives the check: the PR's author and approvals (so approval rules
#: are evaluated, as in CI), and no GIT_* variables
CI_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITROT_"))},
    "GITROT_PR_AUTHOR": "bilal",
    "GITROT_PR_APPROVALS": "alice,chen",
    "GITROT_PR_NUMBER": "42",
}


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        sys.exit(f"bench: {name} not found; run `make bench`, which installs it")
    return found


def git_env() -> dict[str, str]:
    """The environment without ``GIT_*``: git must work on the bench repository only."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def intent_path(index: int) -> tuple[str, str]:
    """(intent name, path in the repository) of intent ``index``."""
    name = f"team-{index // TEAM_SIZE:03d}/secret-{index % TEAM_SIZE:02d}"
    return name, f"secrets/{name}.yaml"


class Stream:
    """Writes a ``git fast-import`` stream: one commit at a time, files inline."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink

    def data(self, text: str) -> None:
        raw = text.encode()
        self.sink.write(b"data %d\n%s\n" % (len(raw), raw))

    def commit(self, branch: str, who: str, when: int, message: str, files: dict[str, str]) -> None:
        self.sink.write(f"commit refs/heads/{branch}\n".encode())
        self.sink.write(f"author {who} {when} +0000\ncommitter {who} {when} +0000\n".encode())
        self.data(message)
        for path, text in files.items():
            self.sink.write(f"M 100644 inline {path}\n".encode())
            self.data(text)

    def branch(self, name: str, start: str) -> None:
        self.sink.write(f"reset refs/heads/{name}\nfrom refs/heads/{start}\n\n".encode())


class Intents:
    """The intents' versions and reasons, and their text."""

    def __init__(self, count: int) -> None:
        self.versions = [1] * count
        self.reasons = ["Initial version, CHG-1"] * count

    def text(self, index: int) -> str:
        return intent_text(
            intent_path(index)[0],
            self.versions[index],
            klass=CLASSES[index % len(CLASSES)],
            reason=self.reasons[index],
        )

    def bump(self, index: int, reason: str) -> tuple[str, str]:
        """Rotate intent ``index``: (path, new text)."""
        self.versions[index] += 1
        self.reasons[index] = reason
        return intent_path(index)[1], self.text(index)


def policy_files(recipient: str) -> dict[str, str]:
    """The files of ``gitrot init``, with the trigger every intent names."""
    config = init.config_text(recipient, None).replace("triggers: {}\n", TRIGGERS)
    return {
        "gitrot.yaml": config,
        ".sops.yaml": init.sops_config_text([recipient]),
        ".pre-commit-config.yaml": init.pre_commit_text(),
        ".gitignore": init.GITIGNORE,
        "waivers.yaml": init.WAIVERS,
        "policies/README.md": init.POLICIES_README,
        "README.md": "# Policy repository\n\nRotation intents of every team.\n",
    }


def changed_intents(intents: int, changed: int) -> list[int]:
    """The intents the PR rotates: the same ones in both repositories."""
    return sorted(random.Random(7).sample(range(intents), changed))


def rotation_order(intents: int, schedule: str, rng: random.Random) -> Iterator[int]:
    """The intent each rotation commit bumps, endlessly.

    ``periodic``: every intent once per cycle, in one shuffled order (locally jittered), so
    each is rotated every :data:`PERIOD` days, as a team rotating on schedule does.
    ``random``: any intent, uniformly: some go unrotated for many cycles (a stress case:
    the last rotation of a changed intent lies far back in history).
    """
    if schedule == "random":
        while True:
            yield rng.randrange(intents)
    order = list(range(intents))
    rng.shuffle(order)
    while True:
        cycle = list(order)
        for first in range(0, intents, JITTER):
            block = cycle[first : first + JITTER]
            rng.shuffle(block)
            cycle[first : first + JITTER] = block
        yield from cycle


def write_history(  # noqa: PLR0917 - the parameters of the repository
    stream: Stream, intents: int, commits: int, changed: int, schedule: str, now: int
) -> None:
    state = Intents(intents)
    rng = random.Random(20240501)
    # the same pace in every repository: a cycle of rotations (one per intent) takes PERIOD
    step = PERIOD * DAY * ROTATING / intents
    end = now - 10 * DAY  # every class's min_interval has passed when the PR comes
    start = end - round((commits - 1) * step)
    files = policy_files(default_recipient())
    files.update({intent_path(index)[1]: state.text(index) for index in range(intents)})
    stream.commit("main", PEOPLE[0], start, "Policy repository with every team's intents\n", files)
    order = rotation_order(intents, schedule, rng)
    for number in range(1, commits):
        when = start + round(number * step)
        who = rng.choice(PEOPLE)
        if rng.random() < ROTATING:
            index = next(order)
            reason = rng.choice(REASONS).format(n=1000 + number)
            path, text = state.bump(index, reason)
            message = f"Rotate {intent_path(index)[0]} to v{state.versions[index]}\n\n{reason}\n"
            stream.commit("main", who, when, message, {path: text})
        elif rng.random() < 0.5:
            readme = f"# Policy repository\n\nRotation intents of every team ({number}).\n"
            stream.commit("main", who, when, f"README: update {number}\n", {"README.md": readme})
        else:
            notes = init.POLICIES_README + f"\nReviewed in change CHG-{1000 + number}.\n"
            stream.commit(
                "main", who, when, "Policies: review notes\n", {"policies/README.md": notes}
            )
    stream.branch("pr", "main")
    picked = changed_intents(intents, changed)
    batches = [picked[i::3] for i in range(3)]
    for hour, batch in zip((3, 2, 1), batches, strict=True):
        reason = f"Quarterly rotation CHG-9{hour:03d}: credentials of the payments teams"
        rotated = dict(state.bump(index, reason) for index in batch)
        names = ", ".join(intent_path(index)[0] for index in batch)
        message = f"Rotate {len(batch)} intents\n\n{reason}\n\n{names}\n"
        stream.commit("pr", PEOPLE[1], now - hour * 3600, message, rotated)


def build(path: Path, intents: int, commits: int, changed: int, schedule: str) -> None:
    """Write the repository with ``git fast-import``, then check out main."""
    git, env = tool("git"), git_env()
    path.mkdir(parents=True)
    subprocess.run(
        [git, "init", "--quiet", "--initial-branch=main", str(path)], check=True, env=env
    )
    importer = subprocess.Popen(
        [git, "-C", str(path), "fast-import", "--quiet", "--done"], stdin=subprocess.PIPE, env=env
    )
    assert importer.stdin is not None
    with importer.stdin as sink:
        write_history(Stream(sink), intents, commits, changed, schedule, int(time.time()))
        sink.write(b"done\n")
    if importer.wait() != 0:
        sys.exit(f"bench: git fast-import failed in {path}")
    subprocess.run(
        [git, "-C", str(path), "reset", "--quiet", "--hard", "main"], check=True, env=env
    )


def repository(base: Path, intents: int, commits: int, changed: int, schedule: str) -> Path:
    """The cached repository of these parameters, built first if it is missing."""
    name = f"v{GENERATOR}-{intents}-intents-{commits}-commits-{changed}-changed-{schedule}"
    path = base / name
    done = path / ".git" / "gitrot-bench-complete"
    if not done.exists():
        shutil.rmtree(path, ignore_errors=True)
        print(f"building {path}", file=sys.stderr)
        began = time.perf_counter()
        build(path, intents, commits, changed, schedule)
        done.touch()
        print(f"  built in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    return path


def validate(gitrot: str, path: Path) -> None:
    """``gitrot validate`` on main must pass: the repository is a valid policy repository."""
    began = time.perf_counter()
    ran = subprocess.run(
        [gitrot, "validate", "--format", "json"],
        cwd=path,
        capture_output=True,
        text=True,
        check=False,
        env=CI_ENV,
    )
    errors = [f for f in json.loads(ran.stdout or "[]") if f["severity"] == "error"]
    if ran.returncode != 0 or errors:
        sys.exit(
            f"bench: gitrot validate failed in {path} (exit {ran.returncode}):\n"
            f"{ran.stdout[:2000]}{ran.stderr[:2000]}"
        )
    spent = time.perf_counter() - began
    print(
        f"gitrot validate on main: exit 0, {len(json.loads(ran.stdout))} findings "
        f"({spent:.1f} s) in {path.name}",
        file=sys.stderr,
    )


def has_check(gitrot: str) -> bool:
    ran = subprocess.run([gitrot, "check", "--help"], capture_output=True, check=False)
    return ran.returncode == 0


def run_check(argv: list[str], path: Path) -> float:
    """One whole-process run; exits on anything but 0 or 1 (findings)."""
    began = time.perf_counter()
    ran = subprocess.run(argv, cwd=path, capture_output=True, text=True, check=False, env=CI_ENV)
    spent = time.perf_counter() - began
    if ran.returncode not in (0, 1):
        sys.exit(f"bench: {' '.join(argv[1:])} exited {ran.returncode} in {path}:\n{ran.stderr}")
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--small-commits", type=int, default=100)
    parser.add_argument("--changed", type=int, default=10, help="intents the PR rotates")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--schedule",
        choices=("periodic", "random"),
        default="periodic",
        help="which intent each rotation commit bumps: each in turn (default) or any",
    )
    parser.add_argument("--repo", type=Path, default=None, help="where to build (and cache)")
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="build, run gitrot validate on main in both, stop (validate reads every "
        "intent's history: use small sizes, e.g. --intents 200 --commits 1000)",
    )
    args = parser.parse_args()
    if not 3 <= args.changed <= args.intents or min(args.commits, args.small_commits) < 1:
        parser.error("need 3 <= --changed <= --intents, and at least one commit")
    gitrot = tool("gitrot")
    if not args.build_only and not has_check(gitrot):
        sys.exit(
            f"bench: `gitrot check` is not available in {gitrot} (gitrot check --help failed); "
            "install a gitrot that has it (make bench reinstalls this checkout), or run "
            "with --build-only to build the repositories alone"
        )
    base = args.repo or Path(tempfile.gettempdir(), "gitrot-bench-check")
    big = repository(base, args.intents, args.commits, args.changed, args.schedule)
    small = repository(base, args.intents, args.small_commits, args.changed, args.schedule)
    if args.build_only:
        validate(gitrot, big)
        validate(gitrot, small)
        return
    check = [gitrot, "check", "--base", "main", "--head", "pr", "--format", "json"]
    out = subprocess.run(check, cwd=big, capture_output=True, text=True, check=False, env=CI_ENV)
    if out.returncode == 1:
        errors = [f for f in json.loads(out.stdout) if f["severity"] == "error"]
        print(f"note: the PR has {len(errors)} error findings, e.g. {errors[:1]}", file=sys.stderr)
    run_check(check, small)  # both warm: the page cache holds both repositories
    times: dict[Path, list[float]] = {big: [], small: []}
    for _ in range(args.runs):
        for path, spent in times.items():
            spent.append(run_check(check, path))
    big_ms, small_ms = (statistics.median(times[p]) * 1000 for p in (big, small))
    ratio = big_ms / small_ms
    print(
        f"check, {args.changed} intents changed: {args.commits:,} commits {big_ms:.0f} ms, "
        f"{args.small_commits:,} commits {small_ms:.0f} ms -> ratio {ratio:.2f} "
        f"(target <= {TARGET_RATIO}); big repo {big_ms:.0f} ms (target < {TARGET_MS} ms)"
    )


if __name__ == "__main__":
    main()
