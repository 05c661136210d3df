"""Reports: one module per ``--format``, each a ``render(findings, meta) -> str``.

Only the chosen format's module is imported (the pre-commit hook pays for ``text`` only).
``render`` sorts the findings; every format receives them in :func:`sort_findings` order.
``render`` is pure; the one side effect of a format, the GitHub job summary that goes with
``--format github``, is :func:`publish_github_summary`, which commands call after it.

Imports: gitrot.scan, gitrot.files, gitrot.core, gitrot.errors, gitrot.output, gitrot.version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from importlib import import_module

from gitrot import output
from gitrot.core.findings import RULES, Finding, sort_findings
from gitrot.files.fsutil import write_output
from gitrot.version import installed_version

#: The job summary file GitHub Actions gives each step (Markdown, appended to).
GITHUB_STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
FORMATS = ("text", "json", "sarif", "github", "junit", "markdown")


class Meta:
    """What a format may need besides the findings."""

    __slots__ = ("_version", "checked_files", "color", "command", "rules")

    def __init__(
        self,
        *,
        tool_version: str | None = None,
        checked_files: Sequence[str] = (),
        color: bool = False,
        command: str = "validate",
        rules: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        self._version = tool_version
        self.checked_files = list(checked_files)
        self.color = color
        self.command = command
        self.rules = {**RULES, **(rules or {})}

    @property
    def tool_version(self) -> str:
        """gitrot's version (read from the installed metadata on first use only)."""
        if self._version is None:
            self._version = installed_version()
        return self._version


def render(
    findings: Iterable[Finding],
    fmt: str,
    *,
    tool_version: str | None = None,
    checked_files: Sequence[str] = (),
    color: bool = False,
    command: str = "validate",
    rules: Mapping[str, tuple[str, str]] | None = None,
) -> str:
    """The report of ``findings`` in ``fmt`` (one of :data:`FORMATS`), as one string.

    ``checked_files`` are the repository-relative paths that were checked (JUnit makes a
    passed test case of each without findings; summaries count them). ``color`` is for
    ``text`` only; the caller decides it (stdout is a terminal, no ``--output``,
    ``NO_COLOR`` unset).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")

    meta = Meta(
        tool_version=tool_version,
        checked_files=checked_files,
        color=color,
        command=command,
        rules=rules,
    )
    text: str = import_module(f"gitrot.report.{fmt}").render(sort_findings(findings), meta)
    return text


def publish_github_summary(
    findings: Iterable[Finding],
    fmt: str,
    *,
    environ: Mapping[str, str],
    tool_version: str | None = None,
    checked_files: Sequence[str] = (),
    command: str = "validate",
    rules: Mapping[str, tuple[str, str]] | None = None,
) -> str | None:
    """With ``--format github`` in GitHub Actions: append the Markdown report of *all*
    ``findings`` to the job summary; the path written to, or None when nothing was.

    The annotations (``render(findings, "github", ...)``) show at most 10 findings of each
    level; the summary is where the full list is. Call it after writing the report, with
    the arguments given to :func:`render`, the format and the environment::

        publish_github_summary(findings, fmt, environ=os.environ, checked_files=...,
                               command="check", rules=rules_meta)

    It does nothing unless ``fmt`` is ``github`` and ``environ["GITHUB_STEP_SUMMARY"]``
    names a file. It appends (a step's earlier summary, or another command's in the same
    step, is kept), after a blank line when the file is not empty. A summary that cannot be
    written is a warning on stderr, not an error: the check's result is the annotations and
    the exit code.
    """
    path = environ.get(GITHUB_STEP_SUMMARY, "") if fmt == "github" else ""
    if not path:
        return None
    markdown = render(
        findings,
        "markdown",
        tool_version=tool_version,
        checked_files=checked_files,
        command=command,
        rules=rules,
    )
    try:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(("\n" if summary.tell() else "") + markdown)
    except OSError as exc:
        output.info(f"gitrot: warning: cannot append to the job summary {path}: {exc.strerror}")
        return None
    return path


def deliver(report: str, output_file: str | None) -> None:
    """Write ``report`` to ``output_file`` (:func:`gitrot.files.fsutil.write_output`: atomically
    once complete, in place into a FIFO or device, ``-`` for stdout), else to stdout."""
    if output_file is None:
        if report:
            output.data(report)
        return

    write_output(output_file, report, durable=False)
