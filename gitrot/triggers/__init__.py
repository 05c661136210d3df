"""Consumers the reconciler tells about a new version (docs/architecture.md): ``command``
and ``webhook`` here, others through the entry-point group ``gitrot.triggers``.

Imports: gitrot.core, gitrot.errors, gitrot.plugins, gitrot.version.
"""
