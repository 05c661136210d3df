"""The run-time cost bound of policy evaluation: a CPU-time budget per rule per intent.

The CEL engine holds the GIL until it returns and cannot be interrupted, so a rule that
walks large lists (a pull request can add both the rule and the lists) could stall a hook
or a CI job for minutes. :func:`bounded` runs an evaluation in a forked child process;
before each expression runs, the child arms a profiling timer of :data:`BUDGET_SECONDS` of
CPU time (:class:`gitrot.policy.cel.Watch`), and when it fires the kernel ends the child.
The parent then reports a ``rule-cost`` error naming the rule (its file and line) and the
intent, and runs the evaluation again without that rule: a rule over its bound is never a
pass, and each one costs the run at most one budget. After :data:`MAX_OVERRUNS` such rules
the evaluation stops with an error. Where ``fork`` is unavailable, or other threads run
(a forked child could inherit a held lock), the evaluation runs in process, bounded only
by the static limits of :func:`gitrot.policy.cel.compile`.
"""

from __future__ import annotations

import gc
import marshal
import mmap
import os
import signal
import struct
import sys
from collections.abc import Callable, Sequence

from gitrot.core.findings import Finding, Severity
from gitrot.core.models import RotationIntent
from gitrot.errors import InputError
from gitrot.policy import cel
from gitrot.policy.model import AnyRule

#: CPU seconds one expression may take on one intent (rules take microseconds)
BUDGET_SECONDS = 0.5
#: rules over budget before the evaluation stops
MAX_OVERRUNS = 3
RULE_ID = "rule-cost"
_HINT = (
    "a rule's cost grows with the product of the lists its map/filter/all/exists walk: "
    "nest fewer of them, or test membership with `in` on a map"
)


def available() -> bool:
    """Whether evaluations can be bounded here (and are not already: in the child)."""
    if cel.watch is not None or not hasattr(os, "fork"):
        return False
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


def bounded(
    run: Callable[[], list[Finding]],
    rules: Sequence[AnyRule],
    intents: Sequence[RotationIntent],
) -> list[Finding]:
    """``run()``'s findings, computed in a child process under the budget, plus a
    ``rule-cost`` error for each rule that went over it; ``run``'s exception re-raised."""
    programs: dict[int, AnyRule] = {}
    for rule in rules:
        for program in (getattr(rule, "program", None), getattr(rule, "message_program", None)):
            if program is not None:
                programs[id(program)] = rule
    if not programs or not intents:  # nothing to bound: run it here
        return run()
    skipped: set[int] = set()
    over: list[Finding] = []
    for _ in range(MAX_OVERRUNS):
        outcome = _in_child(run, frozenset(skipped))
        if isinstance(outcome, list):
            return [*over, *outcome]
        program_id, subject = outcome
        culprit = programs.get(program_id)
        if culprit is None:
            raise InputError("the policy evaluation went over its CPU budget outside a rule")
        where = intents[subject - 1].path if 0 < subject <= len(intents) else "an intent"
        over.append(over_budget(culprit, where))
        skipped.update(key for key, owner in programs.items() if owner is culprit)
    over.append(
        Finding(
            RULE_ID,
            Severity.ERROR,
            "",
            0,
            0,
            f"{MAX_OVERRUNS} rules went over their cost bound: the policy was not evaluated",
            hint=_HINT,
        )
    )
    return over


def over_budget(rule: AnyRule, subject: str) -> Finding:
    """The error of a rule stopped after :data:`BUDGET_SECONDS` of CPU on ``subject``."""
    return Finding(
        RULE_ID,
        Severity.ERROR,
        rule.where,
        rule.line,
        0,
        f"rule {rule.id!r} went over its cost bound ({BUDGET_SECONDS:g} s of CPU) on "
        f"{subject}: it was stopped, and a rule that cannot judge never passes",
        hint=_HINT,
    )


def _in_child(
    run: Callable[[], list[Finding]], skipped: frozenset[int]
) -> list[Finding] | tuple[int, int]:
    """The findings of a child that finished, or (program id, subject count) of one the
    budget stopped. Exceptions of ``run`` are raised again here."""
    shared = mmap.mmap(-1, 16)
    reader, writer = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its outcome is checked in the parent
        os.close(reader)
        _child(run, skipped, shared, writer)
    os.close(writer)
    with os.fdopen(reader, "rb") as stream:
        data = stream.read()
    _, status = os.waitpid(pid, 0)
    if data[:1] == b"F":  # the findings, as tuples of str and int
        return [Finding(*fields) for fields in marshal.loads(data[1:])]  # noqa: S302 - ours
    if data:
        import pickle  # ~1.5 ms, paid only when the evaluation failed

        raise pickle.loads(data[1:])  # noqa: S301 - our own child's exception
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGPROF:
        program_id, subject = struct.unpack_from("qq", shared, 0)
        return program_id, subject
    raise InputError(
        f"the policy evaluation stopped unexpectedly (status {status})",
        hint="run again with --debug; if it repeats, report it",
    )


def _child(  # pragma: no cover - runs in the forked child
    run: Callable[[], list[Finding]], skipped: frozenset[int], shared: object, writer: int
) -> None:
    gc.disable()  # a collection would touch, and so copy, every page the parent shares
    code = 0
    try:
        signal.signal(signal.SIGPROF, signal.SIG_DFL)
        cel.watch = cel.Watch(shared, skipped, BUDGET_SECONDS)  # type: ignore[arg-type]
        try:
            payload = b"F" + marshal.dumps([_fields(f) for f in run()])
        except BaseException as exc:  # every outcome goes to the parent
            import pickle

            try:
                payload = b"E" + pickle.dumps(exc)
            except Exception:
                error = InputError(f"policy evaluation failed: {type(exc).__name__}: {exc}")
                payload = b"E" + pickle.dumps(error)
        with os.fdopen(writer, "wb") as out:
            out.write(payload)
    except BaseException:
        code = 70
    finally:
        os._exit(code)


def _fields(finding: Finding) -> tuple[str, str, str, int, int, str, str, str, str]:
    return (
        finding.rule_id,
        finding.severity,
        finding.path,
        finding.line,
        finding.column,
        finding.message,
        finding.hint,
        finding.fingerprint,
        finding.waived,
    )
