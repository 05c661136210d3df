"""Rotators: what changes a credential at its source (a database role's password, an LDAP
entry) before the reconciler makes the new version current (docs/rotators.md, the two-phase
apply of docs/architecture.md). ``command`` and ``postgres`` here, others through the
entry-point group ``gitrot.rotators`` (:mod:`gitrot.rotators.registry`).

Imports: gitrot.triggers, gitrot.core, gitrot.errors, gitrot.plugins.
"""
