"""``--format json``: a list of finding objects, in report order, with stable keys.

Each object is :meth:`Finding.as_dict`: ``rule_id``, ``severity``, ``file``, ``line``,
``column``, ``message``, ``hint``, ``fingerprint`` and ``waived`` (empty strings when none;
``waived`` is the note of the waiver that covers the finding).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from gitrot.core.findings import Finding
from gitrot.report import Meta


def render(findings: Sequence[Finding], meta: Meta) -> str:
    del meta
    return json.dumps([f.as_dict() for f in findings], indent=2, ensure_ascii=False) + "\n"
