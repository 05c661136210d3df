"""One module per command: ``add_parser(subparsers)`` and a function returning an exit code."""

COMMANDS = ("keygen", "encrypt", "decrypt", "updatekeys", "rekey")
