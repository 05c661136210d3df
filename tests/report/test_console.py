"""``gitrot.ui``: rich's tables and progress bar on a terminal, the plain text elsewhere.

The decision (a terminal, no ``NO_COLOR``, no ``TERM=dumb``), the plain text printed byte
for byte when it says no, cells shown as text (never rich markup), the progress bar's
silence off a terminal and its drawing on one, and ``gitrot due``, ``status`` and ``plan``
in a real pseudo-terminal against the same commands piped.
"""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitrot import ui
from tests.conftest import child_env
from tests.reconcile.helpers import PolicyRepo, cli, environment, logger_trigger

ESC = "\x1b["


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Closed(io.StringIO):
    def isatty(self) -> bool:
        raise ValueError("I/O operation on closed file")


def test_rich_only_on_a_terminal_without_no_color_or_dumb() -> None:
    assert ui.wants_rich(Terminal(), {"TERM": "xterm"})
    assert ui.wants_rich(Terminal(), {})
    assert not ui.wants_rich(io.StringIO(), {"TERM": "xterm"})
    assert not ui.wants_rich(Terminal(), {"NO_COLOR": "1"})
    assert not ui.wants_rich(Terminal(), {"TERM": "dumb"})
    assert not ui.wants_rich(Closed(), {})
    assert not ui.wants_rich(object(), {})  # type: ignore[arg-type]  # no isatty at all


def test_off_a_terminal_the_plain_text_is_printed_exactly(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plain = "NAME  AGE\nx     3d\n"
    ui.table(["NAME", "AGE"], [["x", "3d"]], plain=plain, title="t", caption="c")
    assert capsys.readouterr().out == plain


def test_with_no_rows_the_plain_text_is_printed_even_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ui, "wants_rich", lambda *a, **k: True)
    ui.table(["NAME"], [], plain="nothing is due\n")
    assert capsys.readouterr().out == "nothing is due\n"


def test_on_a_terminal_rich_draws_the_table_and_cells_are_never_markup(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ui, "wants_rich", lambda *a, **k: True)
    hostile = "[bold red]owned[/] :smile:"
    columns = [ui.Column("secret"), ui.Column("version", "right", style="cyan")]
    ui.table(columns, [[hostile, "7"]], plain="PLAIN\n", title="commit abc", caption="done")
    out = capsys.readouterr().out
    assert "PLAIN" not in out
    assert hostile in out  # the brackets and the emoji code as written
    assert "commit abc" in out and "done" in out and "secret" in out
    assert "─" in out or "━" in out  # drawn by rich


def test_render_table_with_and_without_colour() -> None:
    rows = [["a", "1"], ["b", "2"]]
    coloured = ui.render_table(["x", "y"], rows, styles=["red", ""], width=40)
    plain = ui.render_table(["x", "y"], rows, styles=["red", ""], width=40, color=False)
    assert ESC in coloured and ESC not in plain
    lines = [line.rstrip() for line in plain.splitlines()]
    assert lines[0].split() == ["x", "y"]
    assert [line.split() for line in lines[2:]] == rows
    assert max(len(line) for line in plain.splitlines()) <= 40


def test_progress_off_a_terminal_draws_nothing_and_counts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ui, "PROGRESS_DELAY", 0.0)
    with ui.progress("files checked", total=3) as bar:
        bar.advance()
        bar(3, 4)
        assert not bar.shown
    assert (bar.done, bar.total) == (3, 4)
    assert capsys.readouterr() == ("", "")


def test_progress_on_a_terminal_draws_after_the_delay_and_clears(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    monkeypatch.setattr(ui, "wants_rich", lambda *a, **k: True)
    monkeypatch.setattr(ui, "PROGRESS_DELAY", 3600.0)
    with ui.progress("items applied", total=2) as quick:
        quick.advance()
        assert not quick.shown  # a short run draws nothing
    monkeypatch.setattr(ui, "PROGRESS_DELAY", 0.0)
    with ui.progress("items applied", total=2) as bar:
        bar.advance()
        assert bar.shown
        bar.advance()
    assert not bar.shown
    drawn = screen.getvalue()
    assert "items applied" in drawn and "2/2" in drawn


# -- the commands, in a pseudo-terminal and piped ------------------------------------------

PROBE = "import sys; from gitrot.main import main; sys.exit(main(sys.argv[1:]))"


def run_in_pty(root: Path, *args: str, **env: str) -> str:
    """``gitrot ARGS`` with stdout on a pseudo-terminal (80 columns); what it printed."""
    primary, secondary = pty.openpty()
    environ = {**child_env(), "COLUMNS": "80", "LINES": "25", "TERM": "xterm", **env}
    if "NO_COLOR" not in env:
        environ.pop("NO_COLOR", None)
    child = subprocess.Popen(
        [sys.executable, "-c", PROBE, *args],
        cwd=root,
        env=environ,
        stdout=secondary,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    child.wait(timeout=60)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def run_piped(root: Path, *args: str) -> str:
    env = {**child_env(), "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.stdout


@pytest.fixture
def policy(tmp_path: Path) -> PolicyRepo:
    repo = PolicyRepo.create(
        tmp_path / "policy", triggers={"api": logger_trigger(tmp_path / "told.log")}
    )
    repo.new("svc/db", sealed="console-test-value-Xq7Lw2Rz9Kp4")
    repo.commit("Add svc/db")
    # committed 10.5 days ago: `due in 79d` for hours, so two runs print the same
    stamp = f"{int(time.time()) - 10 * 86400 - 43200} +0000"
    subprocess.run(
        ["git", "commit", "--quiet", "--amend", "--no-edit", "--no-verify", f"--date={stamp}"],
        cwd=repo.root,
        env=environment(GIT_COMMITTER_DATE=stamp),
        check=True,
    )
    return repo


@pytest.mark.parametrize("command", [("plan",), ("status",), ("due", "--within", "1000d")])
def test_commands_draw_with_rich_on_a_terminal_and_print_plain_text_when_piped(
    policy: PolicyRepo, command: tuple[str, ...]
) -> None:
    piped = run_piped(policy.root, *command)
    drawn = run_in_pty(policy.root, *command)
    assert "svc/db" in piped and "svc/db" in drawn
    assert ESC not in piped and "─" not in piped
    assert ESC in drawn and "─" in drawn
    # NO_COLOR and TERM=dumb on a terminal: the piped text, byte for byte
    assert run_in_pty(policy.root, *command, NO_COLOR="1") == piped
    assert run_in_pty(policy.root, *command, TERM="dumb") == piped


def test_status_and_plan_rows_name_drift_refusals_and_pending_steps(
    policy: PolicyRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ui, "wants_rich", lambda *a, **k: True)
    monkeypatch.setenv("COLUMNS", "160")
    capsys.readouterr()
    assert cli(policy.root, "status") == 0
    status = capsys.readouterr().out
    assert "drift: write" in status and "svc/db" in status
    assert cli(policy.root, "plan") == 0
    plan = capsys.readouterr().out
    assert "plan: 1 to write" in plan and "svc/db" in plan and "v2" in plan
    assert cli(policy.root, "reconcile") == 0
    capsys.readouterr()
    assert cli(policy.root, "status") == 0
    assert "in sync" in capsys.readouterr().out


# -- progress bars of long runs --------------------------------------------------------------


def on_screen(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """stderr is a terminal from now on, and a bar draws at once (no delay). Called in
    the test itself: pytest's capture sets sys.stderr again after the fixtures."""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(ui, "PROGRESS_DELAY", 0.0)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)
    return terminal


def test_whole_repository_validate_draws_files_checked_and_the_hook_does_not(
    policy: PolicyRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = on_screen(monkeypatch)
    assert cli(policy.root, "validate") == 0
    drawn = screen.getvalue()
    assert "files checked" in drawn and f"{ESC}" in drawn
    screen.seek(0)
    screen.truncate()
    assert cli(policy.root, "validate", str(policy.root / "secrets" / "svc" / "db.yaml")) == 0
    assert "files checked" not in screen.getvalue()


def test_reconcile_draws_items_applied_on_a_terminal_and_nothing_off_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = PolicyRepo.create(
        tmp_path / "policy", triggers={"api": logger_trigger(tmp_path / "told.log")}
    )
    for index in range(3):
        repo.new(f"svc/db{index}", sealed=f"console-progress-{index}-Hm3Xc8Jd5Bf1")
    repo.commit("Add three")
    repo.new("svc/late", sealed="console-progress-late-Hm3Xc8Jd5Bf1")
    repo.commit("Add one more")
    capsys.readouterr()
    monkeypatch.setattr(ui, "PROGRESS_DELAY", 0.0)
    assert cli(repo.root, "reconcile", "--rev", "HEAD~1") == 0  # stderr is not a terminal
    assert "items applied" not in capsys.readouterr().err
    screen = on_screen(monkeypatch)
    assert cli(repo.root, "reconcile") == 0
    drawn = screen.getvalue()
    assert "items applied" in drawn and "1/1" in drawn
    assert "svc/late v2 written to local" in drawn  # the run's own lines, after the bar


def test_status_cells_name_refusals_and_pending_steps() -> None:
    from gitrot.commands.status import table_rows

    row: dict[str, object] = {
        "name": "svc/db", "desired": 3, "applied": 2, "applied_at": 1704067200,
        "consumers": {"api": {"ok": True}, "web": {"ok": False}}, "in_sync": False,
        "action": "resume", "reason": "pending at set", "problem": "",
        "pending": {"version": 3, "step": "set", "reason": "rotator failed"},
    }  # fmt: skip
    refused = {**row, "problem": "policy: max-age", "pending": None, "applied": None}
    refused["applied_at"] = None
    cells, styles = table_rows([row, refused])
    assert cells[0] == [
        "svc/db", "3", "2", "2024-01-01 00:00:00Z", "api ok, web pending",
        "drift: resume: pending at set\npending v3 at step set, not promoted: rotator failed",
    ]  # fmt: skip
    assert cells[1][2:4] == ["-", "-"] and cells[1][5] == "refused: policy: max-age"
    assert styles == ["yellow", "red"]


def test_plan_cells_name_the_step_and_whom_to_tell() -> None:
    from gitrot.commands.plan import summary, table_rows
    from gitrot.core.ports import AppliedVersion
    from gitrot.reconcile.plan import Desired, Item

    want = Desired(
        name="svc/db", path="secrets/svc/db.yaml", blob="0" * 40, version=4, backend="local",
        ref="r", value=None, consumers=("api",), rotator="pg",
    )  # fmt: skip
    held = AppliedVersion(
        ref="r", version=4, name="svc/db", commit="c", key="k", backend_id="4",
        written_at=0, stage="pending", step="set",
    )  # fmt: skip
    items = [Item("resume", want, applied=held, triggers=("api",), reason="stopped at set")]
    assert table_rows(items) == [
        [">", "resume", "svc/db", "v4", "local",
         "stopped at set\nstep: set (pending, not promoted)\nthen tell: api"],
    ]  # fmt: skip
    assert summary(items) == "1 to resume"
