"""The audit as one self-contained HTML file, pure (docs/audit.md, "The html report").

One page an auditor can hand on: a summary (the period, secrets, versions, emergencies,
signatures that are not good, ``--verify`` problems), the problems, one chart per secret of
its age against its class's ``max_age`` over the period, and the ledger (one row per
version). Nothing is fetched: the CSS is inline, the charts are inline SVG, there is no
script, and a Content-Security-Policy forbids every fetch and every script anyway, so the
file renders the same from a mail attachment, a ticket or an air-gapped laptop.

Every string that comes from git (names, reasons, authors, approvers, trigger names,
details) is escaped (:func:`html.escape`, quotes too): a hostile reason or author cannot
add markup. The chart: the age as an SVG polyline (it grows with time and drops to zero at
each rotation), a dashed line at ``max_age``, the gaps (over the limit) shaded, emergency
rotations marked with a red triangle at the top of the chart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape

from gitrot.audit.model import GOOD, LedgerRow, Problem

#: the chart's size in CSS pixels, and its plot area's margins
WIDTH, HEIGHT = 760, 170
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 26

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#1d232a;margin:24px auto;max-width:1180px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
h3{font-size:15px;margin:18px 0 4px}.meta{color:#57606a;margin:0 0 16px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;
 padding:4px 8px;border-bottom:1px solid #e6e9ec}th{background:#f4f6f8}
table.summary{width:auto}table.summary th{background:none;font-weight:600;padding-right:24px}
td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:12px}
.bad{color:#b42318;font-weight:600}.ok{color:#1a7f37;font-weight:600}.warn{color:#9a6700}
.chart{margin:4px 0 2px}.chart svg{max-width:100%;height:auto;background:#fbfcfd;
 border:1px solid #e6e9ec}.legend{color:#57606a;font-size:12px}
.sig-good{color:#1a7f37}.sig-bad{color:#b42318;font-weight:600}.sig-other{color:#9a6700}
ul{margin:4px 0;padding-left:20px}.scroll{overflow-x:auto}
table.ledger{font-size:12.5px}table.ledger td{overflow-wrap:break-word}
"""


def render_html(
    rows: Sequence[LedgerRow],
    compliance: Mapping[str, object],
    problems: Sequence[Problem],
    meta: Mapping[str, object],
) -> str:
    """The report as one HTML document (see the module).

    ``compliance`` maps each secret to its :class:`gitrot.audit.compliance.SecretCompliance`
    or that object's ``as_dict()`` (a mapping with a ``"secrets"`` key holding those is
    read too). ``meta`` may hold ``since`` and ``until`` (epoch seconds or None),
    ``generated_at`` (epoch seconds), ``main`` (the branch), ``repository`` and
    ``version`` (gitrot's); each is shown when present.
    """
    secrets = _secrets(compliance)
    since, until = _int(meta.get("since")), _int(meta.get("until"))
    title = f"gitrot audit: {_period(since, until)}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        "<h1>Secret rotation audit</h1>",
        f'<p class="meta">{_e(_meta_line(meta))}</p>',
        _summary(rows, secrets, problems, since, until),
        _problems(problems),
        _charts(rows, secrets, since, until),
        _ledger(rows),
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


# -- summary -----------------------------------------------------------------------------


def _summary(
    rows: Sequence[LedgerRow],
    secrets: Mapping[str, Mapping[str, object]],
    problems: Sequence[Problem],
    since: int | None,
    until: int | None,
) -> str:
    names = {row.secret for row in rows} | set(secrets)
    statuses = Counter(s.status for row in rows for s in row.signatures.values())
    not_good = {status: n for status, n in sorted(statuses.items()) if status != GOOD}
    signed = ", ".join(f"{n} {status}" for status, n in not_good.items())
    emergencies = [row for row in rows if row.emergency]
    over = sorted(name for name, item in secrets.items() if _list(item.get("gaps")))
    applied = sum(1 for row in rows if row.applied_at is not None)
    items = [
        ("Period", _e(_period(since, until))),
        ("Secrets", str(len(names))),
        ("Versions", f"{len(rows)} ({applied} applied)"),
        (
            "Emergency rotations",
            _flag(str(len(emergencies)), bool(emergencies), "warn"),
        ),
        (
            "Signatures not good",
            _flag(_e(signed) if signed else "none", bool(not_good), "bad"),
        ),
        (
            "Secrets over max age",
            _flag(_e(", ".join(over)) if over else "none", bool(over), "bad"),
        ),
        (
            "Problems (--verify)",
            _flag(str(len(problems)) if problems else "none", bool(problems), "bad"),
        ),
    ]
    body = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in items)
    return f'<h2>Summary</h2><table class="summary">{body}</table>'


def _flag(text: str, raised: bool, kind: str) -> str:
    return f'<span class="{kind}">{text}</span>' if raised else f'<span class="ok">{text}</span>'


def _problems(problems: Sequence[Problem]) -> str:
    if not problems:
        return ""
    items = "".join(
        f"<li><code>{_e(p.check)}</code> {_e(p.message)}"
        + (f" <code>{_e(p.commit[:12])}</code>" if p.commit else "")
        + "</li>"
        for p in problems
    )
    return f'<h2>Problems</h2><ul class="problems">{items}</ul>'


# -- charts ------------------------------------------------------------------------------


def _charts(
    rows: Sequence[LedgerRow],
    secrets: Mapping[str, Mapping[str, object]],
    since: int | None,
    until: int | None,
) -> str:
    names = sorted({row.secret for row in rows} | set(secrets))
    if not names:
        return "<h2>Age against max age</h2><p>No secrets in the period.</p>"
    sections = ["<h2>Age against max age</h2>"]
    for name in names:
        item = secrets.get(name, {})
        sections.append(f"<h3>{_e(name)}</h3>")
        sections.append(_facts(item))
        sections.append(chart(name, item, since=since, until=until))
    sections.append(
        '<p class="legend">Blue: the age of the version in effect. Dashed red: the max age '
        "of its class. Shaded: over the max age. Red triangle: an emergency rotation.</p>"
    )
    return "\n".join(sections)


def _facts(item: Mapping[str, object]) -> str:
    max_age = _int(item.get("max_age"))
    gaps = [g for g in _list(item.get("gaps")) if isinstance(g, Mapping)]
    facts = [
        f"class {_e(str(item.get('class') or '-'))}",
        f"max age {_rough(max_age) if max_age is not None else 'none'}",
        f"longest age {_rough(_int(item.get('longest_age')) or 0)}",
    ]
    if gaps:
        over = sum(_int(g.get("duration")) or 0 for g in gaps)
        facts.append(f'<span class="bad">over for {_rough(over)} in {len(gaps)} gap(s)</span>')
    lines = [f"<p>{'; '.join(facts)}</p>"]
    if gaps:
        lines.append("<ul>")
        for gap in gaps:
            start, end = _int(gap.get("start")) or 0, _int(gap.get("end")) or 0
            state = " (ongoing)" if gap.get("ongoing") else ""
            waived = " (waived)" if gap.get("waived") else ""
            lines.append(
                f"<li>v{_int(gap.get('version')) or 0} over its max age from {_time(start)} "
                f"to {_time(end)}{state}: {_rough(end - start)}{waived}</li>"
            )
        lines.append("</ul>")
    return "".join(lines)


def chart(name: str, item: Mapping[str, object], *, since: int | None, until: int | None) -> str:
    """The SVG of one secret's age over time against its max age (see the module)."""
    points = [
        (int(p[0]), int(p[1]))
        for p in _list(item.get("points"))
        if isinstance(p, (list, tuple)) and len(p) == 2
    ]
    label = f"Age of {name} against its max age"
    if not points:
        return f'<p class="chart" aria-label="{_e(label)}">No version in effect in the period.</p>'
    max_age = _int(item.get("max_age"))
    start = since if since is not None else points[0][0]
    end = until if until is not None else points[-1][0]
    start, end = min(start, points[0][0]), max(end, points[-1][0], start + 1)
    top = max([age for _, age in points] + [max_age or 0]) * 1.1 or 1.0

    def x(at: int) -> float:
        return LEFT + (at - start) * (WIDTH - LEFT - RIGHT) / (end - start)

    def y(age: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - age / top)

    bottom, right = y(0), WIDTH - RIGHT
    shapes = [
        f'<svg class="age" role="img" aria-label="{_e(label)}" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">',
        f"<title>{_e(label)}</title>",
    ]
    for gap in _list(item.get("gaps")):
        if isinstance(gap, Mapping):
            g0, g1 = _int(gap.get("start")) or start, _int(gap.get("end")) or end
            shapes.append(
                f'<rect class="gap" x="{x(g0):.1f}" y="{TOP}" width="{max(x(g1) - x(g0), 1):.1f}" '
                f'height="{bottom - TOP:.1f}" fill="#d92d20" fill-opacity="0.14">'
                f"<title>over max age {_e(_time(g0))} to {_e(_time(g1))}</title></rect>"
            )
    shapes.append(
        f'<line x1="{LEFT}" y1="{bottom:.1f}" x2="{right}" y2="{bottom:.1f}" stroke="#8c959f"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom:.1f}" stroke="#8c959f"/>'
    )
    if max_age is not None:
        shapes.append(
            f'<line class="max-age" x1="{LEFT}" y1="{y(max_age):.1f}" x2="{right}" '
            f'y2="{y(max_age):.1f}" stroke="#d92d20" stroke-width="1.5" stroke-dasharray="6 4"/>'
            f'<text x="{LEFT - 4}" y="{y(max_age) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#d92d20">{_e(_rough(max_age))}</text>'
        )
    polyline = " ".join(f"{x(at):.1f},{y(age):.1f}" for at, age in points)
    shapes.append(
        f'<polyline class="age-line" points="{polyline}" fill="none" stroke="#0969da" '
        f'stroke-width="2" stroke-linejoin="round"/>'
    )
    for rotation in _list(item.get("emergencies")):
        if isinstance(rotation, Mapping) and _int(rotation.get("at")) is not None:
            at = _int(rotation.get("at")) or 0
            cx = x(min(max(at, start), end))
            why = f"emergency rotation to v{_int(rotation.get('version')) or 0} at {_time(at)}"
            reason = str(rotation.get("reason") or "")
            shapes.append(
                f'<path class="emergency" d="M{cx:.1f},{TOP + 9} l-5,-9 h10 z" fill="#d92d20">'
                f"<title>{_e(why + (': ' + reason if reason else ''))}</title></path>"
            )
    shapes.append(
        f'<text x="{LEFT - 4}" y="{bottom + 4:.1f}" text-anchor="end" font-size="11" '
        f'fill="#57606a">0</text>'
        f'<text x="{LEFT}" y="{HEIGHT - 8}" font-size="11" fill="#57606a">{_date(start)}</text>'
        f'<text x="{right}" y="{HEIGHT - 8}" text-anchor="end" font-size="11" '
        f'fill="#57606a">{_date(end)}</text></svg>'
    )
    return f'<div class="chart">{"".join(shapes)}</div>'


# -- the ledger --------------------------------------------------------------------------

LEDGER_COLUMNS = (
    "Secret",
    "Version",
    "Requested by",
    "Reason",
    "Emergency",
    "Approvals",
    "Merged",
    "Applied",
    "Backend version",
    "Consumers told",
    "Signatures",
)


def _ledger(rows: Sequence[LedgerRow]) -> str:
    head = "".join(f"<th>{name}</th>" for name in LEDGER_COLUMNS)
    if not rows:
        return f'<h2>Ledger</h2><table class="ledger"><tr>{head}</tr></table><p>No versions.</p>'
    body = []
    for row in sorted(rows, key=lambda r: (r.secret, r.version)):
        approvals = "<br>".join(f"{_e(a.who)} ({_e(a.how)})" for a in row.approvals) or "-"
        told = (
            "<br>".join(
                f"{_e(d.trigger)} {'ok' if d.ok else '<span class=bad>failed</span>'}"
                for d in row.deliveries
            )
            or "-"
        )
        where = _e(row.backend or "")
        backend = f"{where} <code>{_e(row.backend_id)}</code>" if row.backend_id else where or "-"
        cells = [
            _e(row.secret),
            f'<td class="num">v{row.version}</td>',
            _e(row.author),
            _e(row.reason),
            '<span class="bad">yes</span>' if row.emergency else "no",
            approvals,
            _when(row.merged_at, row.merge_commit),
            _when(row.applied_at, row.applied_commit),
            backend,
            told,
            _signatures(row),
        ]
        body.append(
            "<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in cells) + "</tr>"
        )
    table = f'<table class="ledger"><tr>{head}</tr>{"".join(body)}</table>'
    return f'<h2>Ledger</h2><div class="scroll">{table}</div>'


def _when(at: int | None, commit: str | None) -> str:
    if at is None:
        return '<span class="warn">not yet</span>'
    where = f" <code>{_e(commit[:12])}</code>" if commit else ""
    return f"{_e(_time(at))}{where}"


def _signatures(row: LedgerRow) -> str:
    lines = []
    for commit, sig in sorted(row.signatures.items()):
        kind = "sig-good" if sig.status == GOOD else "sig-bad" if sig.status != "unchecked" else ""
        who = f" {_e(sig.signer)}" if sig.signer else ""
        detail = f' title="{_e(sig.detail)}"' if sig.detail else ""
        lines.append(
            f"<code>{_e(commit[:12])}</code> "
            f'<span class="{kind or "sig-other"}"{detail}>{_e(sig.status)}</span>{who}'
        )
    return "<br>".join(lines) or "-"


# -- helpers -----------------------------------------------------------------------------


def _secrets(compliance: Mapping[str, object]) -> dict[str, Mapping[str, object]]:
    """``compliance`` as ``{secret: as_dict()}`` (see :func:`render_html`)."""
    inner = compliance.get("secrets")
    source = inner if isinstance(inner, Mapping) else compliance
    found: dict[str, Mapping[str, object]] = {}
    for name, item in source.items():
        as_dict = getattr(item, "as_dict", None)
        value = as_dict() if callable(as_dict) else item
        if isinstance(name, str) and isinstance(value, Mapping):
            found[name] = value
    return found


def _e(text: str) -> str:
    return escape(text, quote=True)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _time(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _date(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


def _period(since: int | None, until: int | None) -> str:
    start = _date(since) if since is not None else "the first version"
    end = _date(until) if until is not None else "now"
    return f"{start} to {end}"


def _meta_line(meta: Mapping[str, object]) -> str:
    parts = []
    if meta.get("repository"):
        parts.append(f"repository {meta['repository']}")
    if meta.get("main"):
        parts.append(f"main branch {meta['main']}")
    generated = _int(meta.get("generated_at"))
    if generated is not None:
        parts.append(f"generated {_time(generated)}")
    if meta.get("version"):
        parts.append(f"by gitrot {meta['version']}")
    return ", ".join(parts) or "generated by gitrot audit"


def _rough(seconds: int) -> str:
    """A duration for people: ``92d``, ``5d 4h``, ``3h``, ``12m``."""
    days, rest = divmod(max(seconds, 0), 86400)
    hours = rest // 3600
    if days >= 10 or (days and not hours):
        return f"{days}d"
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h"
    return f"{rest // 60}m"
