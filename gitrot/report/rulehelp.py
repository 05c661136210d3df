"""What a report says about a rule: the descriptions, help and properties SARIF's
``reportingDescriptor`` carries (GitHub code scanning shows them next to each alert).

Sources, first match wins: the table the caller passes (:class:`gitrot.report.Meta`: the
policy rules' ``(description, hint)``, the change checks' and gitrot's own
``(short description, help)``), then the secret scanner's detectors
(:data:`gitrot.scan.detectors.RULE_DETAILS`); a rule known to neither is described by its
id. Every text is self-contained: it never sends the reader to a document they do not have.

- ``short``: the first sentence (GitHub: at most 1024 characters, shown next to results);
- ``full``: the whole description (at most 1024 characters, clipped at a word);
- ``help_text`` / ``help_markdown``: the description, what to do, and where the rule comes
  from (GitHub shows the Markdown when there is one);
- ``tags``: ``security`` and the rule's family (``secret``, ``policy``, ``format``,
  ``waiver``), with the CWE of the weakness where there is one;
- ``precision``: how often a finding is real: ``very-high`` for gitrot's deterministic
  checks, the detector's own for the scanner;
- ``security_severity``: a leaked credential's score (0.1-10; GitHub: 9.0 and up critical,
  7.0-8.9 high), for the scanner's secret rules only. A rule with one is a security rule for
  code scanning, whose merge protection then judges it by its security severity.
"""

from __future__ import annotations

import re

from gitrot.report import Meta
from gitrot.scan.detectors import RULE_DETAILS, RULES

#: GitHub's limit on shortDescription.text and fullDescription.text
MAX_DESCRIPTION = 1024
SECRET, POLICY, FORMAT, WAIVER = "secret", "policy", "format", "waiver"
_CWE = {
    "max-age": "external/cwe/cwe-324",  # use of a key past its expiration date
}
_CREDENTIAL_CWE = "external/cwe/cwe-798"  # use of hard-coded credentials
_ORIGIN = {
    SECRET: "gitrot's secret scanner reports it in every file a change adds or modifies and in "
    "the change's commit messages; the finding fails the check until the secret is gone.",
    POLICY: "A policy rule: gitrot validate (the pre-commit hook) and gitrot check (the pull "
    "request check) judge every intent it applies to. A justified, time-limited exception is "
    "a waiver in the repository's waivers file (rule, secrets, reason, approver, expiry), "
    "approved by one of the policy's waiver approvers.",
    FORMAT: "gitrot validate (the pre-commit hook) and gitrot check (the pull request check) "
    "load every file gitrot owns; a file that does not load is not judged by any other rule.",
    WAIVER: "Waivers are the repository's exceptions to policy rules, each justified, "
    "approved and time-limited; gitrot checks them whenever the whole repository is judged.",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~])")


class RuleHelp:
    """One rule's metadata, ready for a report."""

    __slots__ = (
        "full",
        "help_markdown",
        "help_text",
        "id",
        "precision",
        "security_severity",
        "short",
        "tags",
    )

    def __init__(  # noqa: PLR0917 - the fields of a reportingDescriptor
        self,
        rule_id: str,
        short: str,
        full: str,
        help_text: str,
        help_markdown: str,
        tags: list[str],
        precision: str,
        security_severity: str,
    ) -> None:
        self.id = rule_id
        self.short = short
        self.full = full
        self.help_text = help_text
        self.help_markdown = help_markdown
        self.tags = tags
        self.precision = precision
        self.security_severity = security_severity


def family(rule_id: str) -> str:
    """``secret``, ``format``, ``waiver`` or ``policy`` (every other check)."""
    if rule_id in RULE_DETAILS:
        return SECRET
    if rule_id == "schema":
        return FORMAT
    if rule_id.startswith("waiver-"):
        return WAIVER
    return POLICY


def rule_help(rule_id: str, meta: Meta) -> RuleHelp:
    """The metadata of ``rule_id`` (see the module)."""
    kind = family(rule_id)
    if rule_id in meta.rules:
        first, second = meta.rules[rule_id]
        first, second = _clean(first) or rule_id, _clean(second)
        if first.endswith((".", "!", "?")) or not second:
            # a description and a hint (a policy rule)
            description, what_to_do = first, second
        else:
            # a title and its explanation (gitrot's own checks)
            description, what_to_do = f"{first}. {second}", ""
        short = _first_sentence(first)
        precision, severity = "very-high", ""
        if kind == SECRET:  # the caller described a detector rule: keep the detector's scores
            _, _, precision, severity = RULE_DETAILS[rule_id]
    elif kind == SECRET:
        description, what_to_do, precision, severity = RULE_DETAILS[rule_id]
        short = RULES[rule_id][:1].upper() + RULES[rule_id][1:]
    else:
        short = description = rule_id
        what_to_do, precision, severity = "", "very-high", ""
    tags = ["security", kind]
    if kind == SECRET and severity:
        tags.append(_CREDENTIAL_CWE)
    elif rule_id in _CWE:
        tags.append(_CWE[rule_id])
    origin = _ORIGIN[kind]
    text = [description]
    markdown = [f"**{_md(short)}**", _md(description)] if short != description else [_md(short)]
    if what_to_do:
        text.append(f"What to do: {what_to_do}")
        markdown.append(f"**What to do:** {_md(what_to_do)}")
    text.append(f"gitrot rule {rule_id}. {origin}")
    markdown.append(f"*gitrot rule `{rule_id}`.* {_md(origin)}")
    return RuleHelp(
        rule_id,
        _clip(short),
        _clip(description),
        "\n\n".join(text),
        "\n\n".join(markdown),
        tags,
        precision,
        severity,
    )


def _clean(text: str) -> str:
    """One paragraph: runs of whitespace (YAML folding, code wrapping) become one space."""
    return " ".join(text.split())


def _first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text, maxsplit=1)[0]


def _clip(text: str) -> str:
    """``text``, cut at a word to at most :data:`MAX_DESCRIPTION` characters."""
    if len(text) <= MAX_DESCRIPTION:
        return text
    cut = text[: MAX_DESCRIPTION - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > 0 else cut).rstrip(" ,;:") + "\u2026"


def _md(text: str) -> str:
    """Plain text as Markdown that renders as the same text."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
