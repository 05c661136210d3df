"""Secret managers the reconciler writes to (docs/architecture.md).

:mod:`gitrot.backends.base` holds the small Protocol every backend implements and the
records it returns; :func:`gitrot.backends.registry.open_backend` finds a backend type among
gitrot's own (``local``, :mod:`gitrot.backends.local`)
and those registered under the entry-point group ``gitrot.backends``.

Imports: gitrot.triggers, gitrot.keys, gitrot.codec, gitrot.core, gitrot.errors, gitrot.plugins.
"""
