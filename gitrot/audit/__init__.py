"""The audit (docs/audit.md): git history as a ledger an auditor can verify.

``model`` (pure records), ``trailers`` (commit message trailers, pure), ``history`` (one
pass over git log and the reconciler's notes), ``ledger`` (rows per secret version),
``signatures`` (SSH signatures checked in Python against an allowed-signers file, GPG ones
through gpg), ``compliance`` (age over time against max age, pure), ``verify`` (what
``--verify`` fails on), ``render`` (table, json, csv, markdown, html).

Imports: gitrot.core, gitrot.codec, gitrot.git, gitrot.files, gitrot.policy, gitrot.errors,
gitrot.output.
"""
