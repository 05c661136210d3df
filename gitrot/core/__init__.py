"""The pure core (docs/architecture.md): models of intents and config, findings, secret
values, durations, due dates, the layout of a policy repository and the plugin ports.

No I/O, clock or environment, at any depth (tests/test_architecture.py, ``PURE``).

Imports: gitrot.errors.
"""
