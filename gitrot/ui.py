"""Human output on a terminal: tables and a progress bar drawn by ``rich``; plain text elsewhere.

One decision, :func:`wants_rich`: a stream gets rich's drawing only when it is a terminal
and neither ``NO_COLOR`` nor ``TERM=dumb`` is set. Otherwise a command's output is its plain
text, byte for byte what it printed before rich (scripts, pipes, files and the tests read
that), and a progress bar is nothing at all. ``rich`` is imported only when it draws: the
pre-commit hook (``gitrot validate FILE...``) and ``gitrot decrypt`` never import it
(``tests/test_startup.py``; docs/architecture.md, "Imports at module top").

Every cell is shown as text, never read as rich markup: a secret's name, a reason or an
author from git cannot style or hide what the table shows.
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal, TextIO

from gitrot import output

if TYPE_CHECKING:  # rich is imported only when it draws
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from rich.table import Table

#: a progress bar appears only once a run has taken this long (seconds): short runs,
#: the usual case, draw nothing
PROGRESS_DELAY = 0.5


def wants_rich(stream: TextIO | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``stream`` (default stdout) gets rich's drawing: a terminal, without
    ``NO_COLOR`` or ``TERM=dumb`` in ``environ`` (default the process's environment)."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    target = sys.stdout if stream is None else stream
    try:
        return bool(target.isatty())
    except (AttributeError, ValueError):  # replaced or closed
        return False


class Column:
    """A table column: its ``header``, ``justify`` ("left" or "right") and a rich
    ``style`` for its cells ("" for none). A plain class: a dataclass would import
    ``inspect``, a NamedTuple compile code, on the hook's path."""

    __slots__ = ("header", "justify", "style")

    def __init__(
        self, header: str, justify: Literal["left", "right"] = "left", style: str = ""
    ) -> None:
        self.header = header
        self.justify: Literal["left", "right"] = justify
        self.style = style


def table(
    columns: Sequence[Column | str],
    rows: Sequence[Sequence[str]],
    *,
    plain: str,
    title: str = "",
    caption: str = "",
    styles: Sequence[str] = (),
) -> None:
    """Print a table to stdout: ``rows`` drawn by rich on a terminal, else ``plain``
    exactly (with no rows, ``plain`` always). ``styles`` gives each row a rich style ("" for
    none); ``title`` and ``caption`` go above and below the drawn table."""
    if not rows or not wants_rich(sys.stdout):
        output.data(plain)
        return
    console = _console(sys.stdout)
    console.print(build_table(columns, rows, title=title, caption=caption, styles=styles))
    sys.stdout.flush()


def render_table(
    columns: Sequence[Column | str],
    rows: Sequence[Sequence[str]],
    *,
    width: int = 100,
    color: bool = True,
    title: str = "",
    caption: str = "",
    styles: Sequence[str] = (),
) -> str:
    """The table :func:`table` draws on a terminal ``width`` columns wide, as a string
    (with ANSI styles when ``color``)."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        markup=False,
    )
    console.print(build_table(columns, rows, title=title, caption=caption, styles=styles))
    return buffer.getvalue()


def build_table(
    columns: Sequence[Column | str],
    rows: Sequence[Sequence[str]],
    *,
    title: str = "",
    caption: str = "",
    styles: Sequence[str] = (),
) -> Table:
    """The rich ``Table`` of ``rows``; every cell a ``Text`` (never markup)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    drawn = Table(
        title=Text(title, style="bold") if title else None,
        caption=Text(caption) if caption else None,
        box=box.SIMPLE_HEAD,
        header_style="bold",
        show_edge=False,
        pad_edge=False,
    )
    for column in columns:
        spec = Column(column) if isinstance(column, str) else column
        drawn.add_column(Text(spec.header), justify=spec.justify, style=spec.style or None)
    for index, row in enumerate(rows):
        style = styles[index] if index < len(styles) else ""
        drawn.add_row(*(Text(cell) for cell in row), style=style or None)
    return drawn


class Bar:
    """A progress bar on stderr for a long run (:func:`progress`): call it with
    ``(done, total)`` or :meth:`advance` it. It draws nothing unless stderr gets rich's
    drawing (:func:`wants_rich`), and nothing until the run has taken
    :data:`PROGRESS_DELAY` seconds; rich is imported then."""

    def __init__(self, description: str, total: int | None, *, draw: bool) -> None:
        self.description = description
        self.total = total
        self.done = 0
        self.draw = draw
        self.started = time.monotonic()
        self._live: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        self._show()

    def advance(self, count: int = 1) -> None:
        self(self.done + count)

    @property
    def shown(self) -> bool:
        """Whether the bar is on the screen."""
        return self._live is not None

    def _show(self) -> None:
        if not self.draw:
            return
        if self._live is None:
            if time.monotonic() - self.started < PROGRESS_DELAY:
                return
            self._start()
        if self._live is not None and self._task is not None:
            self._live.update(self._task, completed=self.done, total=self.total)

    def _start(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._live = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=_console(sys.stderr),
            transient=True,
        )
        self._live.start()
        self._task = self._live.add_task(self.description, total=self.total)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Bar]:
    """A :class:`Bar` for the ``with`` block, removed from the screen when it ends::

        with ui.progress("files checked", total=len(paths)) as bar:
            for path in paths:
                ...
                bar.advance()

    ``bar`` is also a ``(done, total)`` callback for code in lower layers, which takes a
    plain callable and never imports this module."""
    bar = Bar(description, total, draw=wants_rich(sys.stderr))
    try:
        yield bar
    finally:
        bar.close()


def _console(stream: TextIO) -> Console:
    from rich.console import Console

    return Console(file=stream, highlight=False, emoji=False, markup=False)
