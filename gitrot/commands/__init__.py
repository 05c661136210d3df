"""One module per command: ``add_parser(subparsers)`` and a function returning an exit code.

Imports: every layer (gitrot.audit, gitrot.reconcile, gitrot.judge, gitrot.report,
gitrot.policy, gitrot.git, gitrot.scan, gitrot.files, gitrot.backends, gitrot.triggers, gitrot.keys,
gitrot.codec, gitrot.core) and gitrot.errors, gitrot.output, gitrot.ui, gitrot.plugins,
gitrot.version.
"""

COMMANDS = (
    "init",
    "new",
    "rotate",
    "due",
    "validate",
    "check",
    "plan",
    "reconcile",
    "status",
    "exec",
    "policy",
    "scan",
    "keygen",
    "encrypt",
    "decrypt",
    "updatekeys",
    "rekey",
    "audit",
)
