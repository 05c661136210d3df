"""Benchmark: gitrot decrypt against the real sops on the same intent-sized files.

Prints, from one run:
  1. decrypting N files with ONE gitrot process (``--output-dir``) vs N ``sops -d`` calls
     (target: gitrot at least 20x faster);
  2. one ``gitrot decrypt FILE`` process vs one ``sops -d FILE`` process, whole-process
     median over several runs (target: gitrot no slower than sops).

Usage: python bench/sops_decrypt.py [--files 1000] [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

INTENT = """\
apiVersion: gitrot/v1
kind: RotationIntent
metadata:
    name: payments/db-password-{n}
    owner: team-payments
    environment: prod
    class: database-password
    labels:
        tier: "1"
spec:
    version: {n}
    reason: Quarterly rotation CHG-{n}
    emergency: false
    target:
        backend: vault-prod
        ref: secret/data/payments/db-{n}
    value:
        generate:
            length: 32
            alphabet: A-Za-z0-9-_!#%
    consumers:
        - payments-api
        - ledger-worker
"""


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        sys.exit(f"bench: {name} not found; run `make bench`, which installs it")
    return found


def make_files(directory: Path, count: int, recipient: str) -> list[Path]:
    from gitrot.codec import document, yaml_parse

    options = document.EncryptOptions(
        groups=[[recipient]], selector=("encrypted_regex", "^(ref|value)$"), mac_only_encrypted=True
    )
    paths = []
    for n in range(count):
        docs = yaml_parse.parse(INTENT.format(n=n))
        text = document.encrypt(docs, options, now=datetime.now(UTC), fmt="yaml")
        path = directory / f"intent-{n:04d}.yaml"
        path.write_text(text)
        paths.append(path)
    return paths


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    gitrot, sops = tool("gitrot"), tool("sops")
    import pyrage

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        identity = pyrage.x25519.Identity.generate()
        key_file = work / "keys.txt"
        key_file.write_text(f"{identity}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
        env["SOPS_AGE_KEY_FILE"] = str(key_file)
        files = make_files(work, args.files, str(identity.to_public()))
        names = [p.name for p in files]

        # warm the page cache and both binaries once
        timed([sops, "-d", names[0]], env, work)
        timed([gitrot, "decrypt", names[0]], env, work)

        one_gitrot = timed([gitrot, "decrypt", *names, "--output-dir", "out"], env, work)
        many_sops = 0.0
        for name in names:
            many_sops += timed([sops, "-d", name], env, work)
        batch_ratio = many_sops / one_gitrot
        print(
            f"{args.files} files: one gitrot process {one_gitrot:.2f} s, "
            f"{args.files} sops -d calls {many_sops:.2f} s -> gitrot {batch_ratio:.1f}x faster "
            f"(target >= 20x) {'OK' if batch_ratio >= 20 else 'MISSED'}"
        )

        g_runs, s_runs = [], []
        for _ in range(args.runs):  # interleaved, so load affects both alike
            g_runs.append(timed([gitrot, "decrypt", names[0]], env, work))
            s_runs.append(timed([sops, "-d", names[0]], env, work))
        g_med, s_med = statistics.median(g_runs), statistics.median(s_runs)
        print(
            f"one file, whole process, median of {args.runs}: gitrot {g_med * 1000:.1f} ms, "
            f"sops {s_med * 1000:.1f} ms -> gitrot/sops = {g_med / s_med:.2f} "
            f"(target <= 1.0) {'OK' if g_med <= s_med else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
