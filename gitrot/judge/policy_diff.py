"""``policy-changed``: what a change does to the policy that judges it.

Any change to gitrot.yaml, the rule files ``policy.paths`` names (on either side), the
waivers, the scan allowlist or ``.sops.yaml`` is a finding that names what changed (a new
command trigger shows its argv, a class its limits old -> new), and is an error unless one
of the base's ``policy.owners`` (not the author) approved the pull request. Pure except
for reading the two sides' files through :class:`~gitrot.judge.sides.Tree`.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from gitrot.core.findings import Finding, Severity
from gitrot.core.layout import CONFIG_FILE, SCAN_ALLOWLIST, SOPS_CONFIG
from gitrot.errors import GitrotError
from gitrot.files import waivers as waivers_module
from gitrot.judge.pr import MISSING_HINT, approved_by
from gitrot.policy.facts import sops_rules
from gitrot.policy.rules import parse_rules
from gitrot.scan import allowlist

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from gitrot.core.models import Config
    from gitrot.files.waivers import Waiver
    from gitrot.judge.sides import Tree

RULE_ID = "policy-changed"
DESCRIPTION = (
    "A change to the policy is reviewed by its owners",
    "A pull request is judged by the base's policy and its own; a change to gitrot.yaml, "
    "the rule files, the waivers, the scan allowlist or .sops.yaml loosens or tightens what "
    "judges every later change, so it is named finding by finding and needs the approval "
    "of one of the base's policy.owners (not the author).",
)
_OWNERS_HINT = "ask one of the base's policy.owners ({}) to approve the pull request"
_NO_OWNERS_HINT = (
    "the base's gitrot.yaml names no policy.owners, so nobody may approve a policy change: "
    "set them when the repository is made (gitrot init --owner LOGIN), or have an "
    "administrator merge the change that adds them past this check, once"
)

Change = tuple[str, int, str]  # (file, line, what changed)


def describe(
    old: Tree,
    new: Tree,
    old_config: Config | None,
    new_config: Config | None,
    paths: Iterable[str],
) -> list[Change]:
    """What changed in each policy file of ``paths`` (policy-relative) from ``old`` to
    ``new``; ``*_config`` are the sides' gitrot.yaml (None: absent or broken)."""
    found: list[Change] = []
    waivers = {c.waivers_path for c in (old_config, new_config) if c and c.waivers_path}
    for path in sorted(set(paths)):
        before, after = old.read(path), new.read(path)
        if before == after:
            continue
        text = (after or b"").decode("utf-8", "replace")
        if path == CONFIG_FILE:
            items = _config(old_config, new_config, text) if old_config and new_config else []
        elif path == SOPS_CONFIG:
            items = _sops(before, after, text)
        elif path == SCAN_ALLOWLIST:
            items = _allowlist(before, after, text)
        elif path in waivers:
            items = _waivers(before, after, path)
        else:
            items = _rules(before, after, path)
        if not items:
            verb = "adds" if before is None else "deletes" if after is None else "changes"
            items = [(0, f"the change {verb} {path}")]
        found.extend((path, line, message) for line, message in items)
    return found


def findings(
    changes: list[Change], owners: Iterable[str], pr: Mapping[str, object] | None
) -> list[Finding]:
    """One ``policy-changed`` finding per change: an error unless a policy owner approved
    (then a warning, for the record)."""
    names = sorted({o.lower() for o in owners})
    approver = approved_by(pr, names)
    severity, hint, note = Severity.ERROR, "", ""
    if approver is not None:
        severity, note = Severity.WARNING, f" (approved by policy owner {approver})"
        hint = "review that the policy change is intended"
    elif pr is None:
        hint = MISSING_HINT
    elif not names:
        hint = _NO_OWNERS_HINT
    else:
        hint = _OWNERS_HINT.format(", ".join(names))
    return [
        Finding(
            RULE_ID,
            severity,
            path,
            line,
            1 if line else 0,
            "policy change: " + message + note,
            hint=hint,
        )
        for path, line, message in changes
    ]


# -- gitrot.yaml ------------------------------------------------------------------------------


def _line_of(text: str, *keys: str) -> int:
    """The first line of ``text`` that holds ``key:`` for one of ``keys``, in order."""
    lines = text.split("\n")
    for key in keys:
        pattern = re.compile(r"^\s*-?\s*\{?\s*['\"]?" + re.escape(key) + r"['\"]?\s*:")
        for number, line in enumerate(lines, start=1):
            if pattern.match(line):
                return number
    return 0


def _plain(options: Mapping[str, object]) -> str:
    return json.dumps(options, sort_keys=True, default=str)


def _what(kind: str, item: object) -> str:
    """A trigger, backend or rotator as the reviewer must see it: its type and what it
    runs."""
    item_type = getattr(item, "type", "?")
    options: Mapping[str, object] = getattr(item, "options", {})
    if "argv" in options:
        return f"type {item_type}, argv {_plain({'argv': options['argv']})[9:-1]}"
    if "url" in options:
        return f"type {item_type}, url {options['url']}"
    return f"type {item_type}, options {_plain(options)}"


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "none"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _config(old: Config, new: Config, text: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for kind, before, after in (
        ("trigger", old.triggers, new.triggers),
        ("backend", old.backends, new.backends),
        ("rotator", old.rotators, new.rotators),
    ):
        for name in sorted(set(before) | set(after)):
            a, b = before.get(name), after.get(name)
            line = _line_of(text, name)
            if a is None and b is not None:
                found.append((line, f"{kind} {name!r} added: {_what(kind, b)}"))
            elif b is None and a is not None:
                found.append((0, f"{kind} {name!r} removed (was {_what(kind, a)})"))
            elif a != b:
                found.append(
                    (line, f"{kind} {name!r} changed: {_what(kind, a)} -> {_what(kind, b)}")
                )
    for name in sorted(set(old.classes) | set(new.classes)):
        a_cls, b_cls = old.classes.get(name), new.classes.get(name)
        line = _line_of(text, name)
        if a_cls is None and b_cls is not None:
            found.append(
                (
                    line,
                    f"class {name!r} added: max_age {_duration(b_cls.max_age)}, "
                    f"min_interval {_duration(b_cls.min_interval)}",
                )
            )
        elif b_cls is None and a_cls is not None:
            found.append((0, f"class {name!r} removed"))
        elif a_cls is not None and b_cls is not None and a_cls != b_cls:
            parts = [
                f"{field} {_duration(getattr(a_cls, field))} -> {_duration(getattr(b_cls, field))}"
                for field in ("max_age", "min_interval")
                if getattr(a_cls, field) != getattr(b_cls, field)
            ]
            if a_cls.source != b_cls.source:
                parts.append(f"source {a_cls.source} -> {b_cls.source}")
            found.append((line, f"class {name!r} changed: {', '.join(parts)}"))
    freeze_line = _line_of(text, "freezes")
    for freeze in old.freezes:
        if freeze not in new.freezes:
            found.append((freeze_line, f"freeze {_freeze(freeze)} removed"))
    for freeze in new.freezes:
        if freeze not in old.freezes:
            found.append((freeze_line, f"freeze {_freeze(freeze)} added"))
    for name in sorted(set(old.recipients) | set(new.recipients)):
        a_key, b_key = old.recipients.get(name), new.recipients.get(name)
        if a_key != b_key:
            verb = "added" if a_key is None else "removed" if b_key is None else "changed"
            shown = f": {b_key}" if b_key is not None else ""
            line = _line_of(text, name) if b_key is not None else _line_of(text, "recipients")
            found.append((line, f"recipient {name!r} {verb}{shown}"))
    for field, label, keys in (
        ("policy_paths", "policy.paths", ("paths", "policy")),
        ("waivers_path", "policy.waivers", ("waivers", "policy")),
        ("owners", "policy.owners", ("owners", "policy")),
        ("waiver_approvers", "policy.waiver_approvers", ("waiver_approvers", "policy")),
        ("max_waiver_days", "policy.max_waiver_days", ("max_waiver_days", "policy")),
        ("signing_key", "reconciler.signing_key", ("signing_key", "reconciler")),
    ):
        a_value, b_value = getattr(old, field), getattr(new, field)
        if a_value != b_value:
            found.append(
                (_line_of(text, *keys), f"{label} changed: {_show(a_value)} -> {_show(b_value)}")
            )
    return found


def _show(value: object) -> str:
    if isinstance(value, tuple | list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _freeze(freeze: object) -> str:
    envs = getattr(freeze, "environments", ())
    where = ", ".join(envs) if envs else "every environment"
    return f"{getattr(freeze, 'start', '?')}..{getattr(freeze, 'end', '?')} ({where})"


# -- the other files ------------------------------------------------------------------------


def _rules(before: bytes | None, after: bytes | None, path: str) -> list[tuple[int, str]]:
    """A rule file added, removed or changed, with the ids of its rules."""
    old, new = _rule_summary(before, path), _rule_summary(after, path)
    if before is None:
        return [(1, f"rule file {path} added (rules: {', '.join(new) or 'none'})")]
    if after is None:
        return [(0, f"rule file {path} removed (rules: {', '.join(old) or 'none'})")]
    parts = []
    added = [i for i in new if i not in old]
    removed = [i for i in old if i not in new]
    changed = [i for i in new if i in old and new[i] != old[i]]
    for label, ids in (("added", added), ("removed", removed), ("changed", changed)):
        if ids:
            parts.append(f"{label} {', '.join(ids)}")
    line = new[changed[0]][0] if changed else new[added[0]][0] if added else 1
    changed = [i for i in changed if new[i][1] != old[i][1]] or changed
    detail = "; ".join(parts) or "text changed"
    return [(int(line), f"rule file {path} changed: {detail}")]


def _rule_summary(data: bytes | None, path: str) -> dict[str, tuple[int, object]]:
    """``{rule id: (line, its fields)}`` of a rule file (empty when absent or broken)."""
    if data is None:
        return {}
    try:
        rules = parse_rules(data.decode("utf-8", "replace"), path)
    except GitrotError:
        return {"(a rule file that does not load)": (1, data)}
    return {r.id: (r.line, _fields(r)) for r in rules}


def _fields(rule: object) -> tuple[object, ...]:
    """What a rule judges by (a Python rule: its id and class)."""
    names = ("expr", "severity", "contexts", "requires", "field", "message", "message_expr")
    select = getattr(rule, "select", None)
    chosen = tuple(
        repr(getattr(select, name, None)) for name in ("environments", "classes", "labels", "names")
    )
    return (*(repr(getattr(rule, name, None)) for name in names), *chosen)


def _waivers(before: bytes | None, after: bytes | None, path: str) -> list[tuple[int, str]]:
    """Waivers added or changed (at their lines) and removed."""
    old = waiver_list(before, path)
    new = waiver_list(after, path)
    old_keys = {waivers_module.identity(w) for w in old}
    new_keys = {waivers_module.identity(w) for w in new}
    found: list[tuple[int, str]] = [
        (
            w.line,
            f"waiver added: {w.rule!r} for {', '.join(w.secrets)}, approver "
            f"{w.approver}, expires {w.expires}",
        )
        for w in new
        if waivers_module.identity(w) not in old_keys
    ]
    found.extend(
        (0, f"waiver removed: {w.rule!r} for {', '.join(w.secrets)}")
        for w in old
        if waivers_module.identity(w) not in new_keys
    )
    return found


def waiver_list(data: bytes | None, path: str) -> list[Waiver]:
    """The waivers of a waivers file's text, whatever rules they name (none when absent)."""
    if data is None:
        return []

    # every rule id is "known" here: the file's own check reports unknown ones
    class _Any:
        def __contains__(self, item: object) -> bool:
            return True

    found, _problems = waivers_module.parse_waivers(data.decode("utf-8", "replace"), path, _Any())  # type: ignore[arg-type]
    return found


def _allowlist(before: bytes | None, after: bytes | None, text: str) -> list[tuple[int, str]]:
    def entries(data: bytes | None) -> list[allowlist.AllowEntry]:
        if data is None:
            return []
        try:
            return allowlist.parse(data.decode("utf-8", "replace"), where="allowlist")
        except GitrotError:
            return []

    old = {(e.fingerprint, e.path) for e in entries(before)}
    found: list[tuple[int, str]] = []
    for entry in entries(after):
        if (entry.fingerprint, entry.path) not in old:
            scope = f" in {entry.path}" if entry.path else ""
            line = _find(text, entry.fingerprint)
            found.append(
                (line, f"allowlist entry added: {entry.fingerprint}{scope} ({entry.reason})")
            )
    return found


def _find(text: str, needle: str) -> int:
    for number, line in enumerate(text.split("\n"), start=1):
        if needle in line:
            return number
    return 0


def _sops(before: bytes | None, after: bytes | None, text: str) -> list[tuple[int, str]]:
    """Recipients added or removed across the creation rules, and changed rules."""
    old, new = _creation(before), _creation(after)
    found: list[tuple[int, str]] = []
    old_recipients = {r for rule in old for r in rule[1]}
    new_recipients = {r for rule in new for r in rule[1]}
    for recipient in sorted(new_recipients - old_recipients):
        found.append((_find(text, recipient), f".sops.yaml recipient added: {recipient}"))
    for recipient in sorted(old_recipients - new_recipients):
        found.append((0, f".sops.yaml recipient removed: {recipient}"))
    if [r[0] for r in old] != [r[0] for r in new] or (not found and old != new):
        shown = ", ".join(r[0] for r in new) or "none"
        found.append(
            (
                _line_of(text, "creation_rules"),
                f".sops.yaml creation rules changed (path_regex now: {shown})",
            )
        )
    return found


def _creation(data: bytes | None) -> list[tuple[str, tuple[str, ...], str]]:
    """``[(path_regex, recipients, selector)]`` of a .sops.yaml (empty when absent/broken)."""
    if data is None:
        return []
    try:
        rules = sops_rules(data, SOPS_CONFIG)
    except GitrotError:
        return [("(a .sops.yaml that does not load)", (), "")]
    return [
        (
            str(getattr(rule, "path_regex", None) or "*"),
            tuple(r for group in rule.key_groups for r in group),
            repr(rule.selector),
        )
        for rule in rules
    ]
