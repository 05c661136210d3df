"""One module per command: ``add_parser(subparsers)`` and a function returning an exit code."""

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
)
