"""The html audit report in a real browser: Debian's ``chromium``, headless.

The page loads from a ``file://`` URL with no console message at all (a blocked fetch, a
script the page's Content-Security-Policy refuses, a parse error would each log one), the
DOM chromium built holds the charts, and the screenshot shows them: the age lines' blue
and the shaded gaps' pink are on the screen. The screenshot is kept as a test artefact,
``build/test-reports/audit-html.png`` (git-ignored). A control page with a script and an
outside image proves the console capture sees what it should.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

from gitrot.audit.html import render_html
from tests.audit import html_sample as sample
from tests.conftest import require_tool

ARTEFACT = Path(__file__).resolve().parents[2] / "build" / "test-reports" / "audit-html.png"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars")
BLUE = (0x09, 0x69, 0xDA)  # the age polyline
RED = (0xD9, 0x2D, 0x20)  # the max-age line and emergency markers


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run chromium headless with its own profile and home under ``tmp_path``."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    return subprocess.run(
        [
            require_tool("chromium"),
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )


def console_lines(stderr: str) -> list[str]:
    """What the page logged: chromium's ``CONSOLE`` lines and uncaught errors."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def pixels(png: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """A PNG's width, height and RGB pixels (8-bit RGB or RGBA, not interlaced: what
    chromium writes), decoded with zlib alone."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks, header = 8, [], b""
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind, data = png[offset + 4 : offset + 8], png[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            chunks.append(data)
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    step = 4 if colour == 6 else 3
    raw, stride = zlib.decompress(b"".join(chunks)), width * step
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up, corner = previous[i], previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                near = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + near) & 0xFF
        rows.append(line)
        previous = line
    flat = [(r[i], r[i + 1], r[i + 2]) for r in rows for i in range(0, stride, step)]
    return width, height, flat


def near(pixel: tuple[int, int, int], colour: tuple[int, int, int], slack: int = 40) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(pixel, colour, strict=True))


def test_chromium_renders_the_report_with_no_console_message(tmp_path: Path) -> None:
    ledger = sample.rows()
    page = tmp_path / "audit.html"
    page.write_text(
        render_html(ledger, sample.compliance(ledger), sample.problems(), sample.META),
        encoding="utf-8",
    )
    shot = tmp_path / "audit.png"
    shown = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,900", page.as_uri())
    assert shot.is_file(), shown.stderr[-2000:]
    assert console_lines(shown.stderr) == []
    ARTEFACT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTEFACT)

    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert console_lines(dom.stderr) == []
    assert dom.stdout.count("<svg") == 3 and dom.stdout.count("<polyline") == 3
    assert "Secret rotation audit" in dom.stdout

    width, height, image = pixels(shot.read_bytes())
    assert (width, height) == (1200, 900)
    blue = sum(1 for p in image if near(p, BLUE))
    red = sum(1 for p in image if near(p, RED))
    assert blue > 500, "no age line on the screen"
    assert red > 200, "no max-age line or marker on the screen"


def test_the_console_capture_sees_a_blocked_script_and_fetch(tmp_path: Path) -> None:
    """The control: a page the report's policy would block logs what the test looks for."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'\"></head><body><script>boom()</script>"
        "<img src='https://example.invalid/x.png'></body></html>",
        encoding="utf-8",
    )
    done = chromium(tmp_path, "--dump-dom", page.as_uri())
    logged = console_lines(done.stderr)
    assert len(logged) == 2, done.stderr[-2000:]
