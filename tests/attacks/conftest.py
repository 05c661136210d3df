"""End-to-end attacks on the trust model: a pull request branch, ``gitrot check``, a merge,
``gitrot reconcile``, on real repositories; each test asserts the finding or the refusal
and that nothing leaked.

Two kinds of repository are at hand: ``policy`` (tests/check/conftest.py: in-process
``gitrot check`` on a pygit2 repository with backdated commits) and ``make_repo``
(tests/reconcile/conftest.py: the CLI in subprocesses, for ``reconcile``).
"""

from __future__ import annotations

from tests.check.conftest import policy, pr_facts
from tests.reconcile.conftest import make_repo, trigger_log

__all__ = ["make_repo", "policy", "pr_facts", "trigger_log"]
