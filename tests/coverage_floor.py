"""Fail when any module of gitrot has less branch coverage than the floor (``make test``).

``coverage report --fail-under`` judges the whole package; this judges each module, so a
well-tested package cannot hide an untested module. Reads ``coverage json`` output.

    python tests/coverage_floor.py coverage.json 90
"""

from __future__ import annotations

import json
import sys


def below(report: dict[str, object], floor: float) -> list[tuple[str, float]]:
    files = report["files"]
    assert isinstance(files, dict)
    low = [
        (name, float(data["summary"]["percent_covered"]))
        for name, data in files.items()
        if float(data["summary"]["percent_covered"]) < floor
    ]
    return sorted(low, key=lambda item: item[1])


def main(argv: list[str]) -> int:
    path, floor = argv[0], float(argv[1])
    with open(path, encoding="utf-8") as handle:
        low = below(json.load(handle), floor)
    for name, percent in low:
        print(f"{name}: {percent:.1f}% branch coverage, below the floor of {floor:g}%")
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
