"""The scanner on its regression corpus (tests/fixtures/scan/corpus): recall per kind of
secret at least the floors below, and no finding on the look-alikes of quiet/.

The corpus is generated from a fixed seed by tests/fixtures/scan/make_corpus.py (fake
credentials in the vendors' published formats, in the assignment forms of many languages);
its manifest.json labels every secret with its file, line (and last line when it spans
several) and kind. bench/scan.py scores gitleaks and detect-secrets the same way.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from gitrot.scan.detectors import scan_text

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "scan"
CORPUS = FIXTURES / "corpus"

Finding = tuple[str, int, int]  # (path under corpus/, first line, last line)

# Labelled secrets gitrot finds, per kind (of the total in the manifest): every one today;
# add cases the scanner misses to the corpus with the floor they get, never lower one silently.
# gitleaks 8.30 on the same corpus, for comparison, in the comment (bench/scan.py prints it).
FLOORS = {
    "age-identity": 2,  # of 2; gitleaks 2
    "aws-access-key-id": 5,  # of 5; gitleaks 5
    "aws-secret-key": 6,  # of 6; gitleaks 6
    "bearer": 2,  # of 2; gitleaks 1
    "connection-string": 12,  # of 12; gitleaks 1
    "encoded": 5,  # of 5; gitleaks 5
    "generic-secret": 26,  # of 26; gitleaks 15
    "github-token": 9,  # of 9; gitleaks 9
    "gitlab-token": 7,  # of 7; gitleaks 7
    "google-api-key": 3,  # of 3; gitleaks 3
    "jwt": 4,  # of 4; gitleaks 4
    "npm-token": 6,  # of 6; gitleaks 6
    "password": 24,  # of 24; gitleaks 5
    "private-key": 5,  # of 5; gitleaks 5
    "pypi-token": 6,  # of 6; gitleaks 4
    "sendgrid": 3,  # of 3; gitleaks 3
    "slack-token": 10,  # of 10; gitleaks 9
    "slack-webhook": 3,  # of 3; gitleaks 3
    "stripe-key": 5,  # of 5; gitleaks 5
    "twilio": 4,  # of 4; gitleaks 4
}

# False positives gitrot still makes on the corpus (path, line), as known gaps: none today.
# The test fails on any other one.
KNOWN_FALSE_POSITIVES: set[tuple[str, int]] = set()


def labels() -> list[dict[str, object]]:
    return list(json.loads((CORPUS / "manifest.json").read_text())["labels"])


def corpus_files() -> list[str]:
    return sorted(
        p.relative_to(CORPUS).as_posix()
        for p in CORPUS.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    )


def score(
    found: list[Finding], marks: list[dict[str, object]] | None = None
) -> tuple[dict[str, tuple[int, int]], list[Finding]]:
    """Recall by kind ({kind: (found, total)}) and the false positives. A finding counts
    for a labelled secret when it is in its file on its line (or, for a secret or a finding
    spanning several lines, when their lines meet); any other finding is a false positive,
    once per file and line range."""
    marks = labels() if marks is None else marks
    lines: dict[str, set[int]] = defaultdict(set)
    for path, first, last in found:
        lines[path].update(range(first, last + 1))
    covered: set[tuple[str, int]] = set()
    recall: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for label in marks:
        path, kind, first = str(label["path"]), str(label["kind"]), int(str(label["line"]))
        span = set(range(first, int(str(label.get("end", first))) + 1))
        covered |= {(path, n) for n in span}
        recall[kind][1] += 1
        if lines[path] & span:
            recall[kind][0] += 1
    false = sorted(
        {
            (path, first, last)
            for path, first, last in found
            if not any((path, n) in covered for n in range(first, last + 1))
        }
    )
    return {k: (v[0], v[1]) for k, v in sorted(recall.items())}, false


def gitrot_findings() -> list[Finding]:
    found: list[Finding] = []
    for name in corpus_files():
        text = (CORPUS / name).read_text(encoding="utf-8")
        found += [(hit.path, hit.line, hit.line) for hit in scan_text(text, path=name)]
    return found


def test_recall_per_kind_meets_the_floors() -> None:
    recall, _ = score(gitrot_findings())
    assert set(recall) == set(FLOORS), "a kind of the manifest without a floor (or the reverse)"
    below = {kind: recall[kind] for kind, floor in FLOORS.items() if recall[kind][0] < floor}
    assert below == {}, f"recall below the floor (found, total): {below}"


def test_no_false_positive_on_the_look_alikes() -> None:
    _, false = score(gitrot_findings())
    new = [(path, first) for path, first, _ in false if (path, first) not in KNOWN_FALSE_POSITIVES]
    assert new == [], "findings on quiet files or unlabelled lines"


def test_sops_files_age_recipients_and_public_keys_stay_quiet() -> None:
    """The promises the scanner keeps whatever its other gaps: never ciphertext, recipients
    or public key material."""
    quiet = ("quiet/sops/", "quiet/keys/", "quiet/.sops.yaml", "quiet/lock/")
    assert [f for f in gitrot_findings() if f[0].startswith(quiet)] == []


def test_the_cli_reports_what_the_core_finds() -> None:
    """``gitrot scan`` as the hook runs it (a whole process, the corpus files as arguments)
    reports the same lines, and never a value of the corpus."""
    proc = subprocess.run(
        [sys.executable, "-m", "gitrot", "scan", "--format", "json", *corpus_files()],
        cwd=CORPUS,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    hits = json.loads(proc.stdout)
    assert sorted({(h["file"], h["line"]) for h in hits}) == sorted(
        {(path, first) for path, first, _ in gitrot_findings()}
    )
    lines = (CORPUS / "positive" / ".env").read_text().splitlines()
    values = [line.split("=", 1)[1].strip('"') for line in lines if "=" in line]
    assert values and not any(value in proc.stdout + proc.stderr for value in values)


def test_the_corpus_is_what_its_generator_makes() -> None:
    spec = importlib.util.spec_from_file_location("make_corpus", FIXTURES / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    files = module.build()
    stale = [p for p, text in files.items() if (CORPUS / p).read_text() != text]
    assert stale == [], "run .venv/bin/python tests/fixtures/scan/make_corpus.py"
    made = set(files) | {p for p in corpus_files() if p.startswith("quiet/sops/")}
    assert made == set(corpus_files()) | {"manifest.json"}, "a file the generator does not make"


def test_every_label_points_at_a_line_of_a_positive_file() -> None:
    marks = labels()
    assert len(marks) >= 100
    for label in marks:
        path = str(label["path"])
        assert path.startswith("positive/")
        text = (CORPUS / path).read_text().splitlines()
        assert 1 <= int(str(label["line"])) <= int(str(label.get("end", label["line"])))
        assert int(str(label.get("end", label["line"]))) <= len(text)
        assert text[int(str(label["line"])) - 1].strip()
    positive = {p for p in corpus_files() if p.startswith("positive/")}
    assert positive == {str(label["path"]) for label in marks}, "a positive file without labels"
