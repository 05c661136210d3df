"""The backend interface, re-exported from :mod:`gitrot.core.ports` (where it lives).

Backend types are registered under the entry-point group ``gitrot.backends``: the entry
point names a class (or callable) taking ``(name, options, context)`` and returning a
:class:`Backend`; ``options`` is the backend's mapping in gitrot.yaml (without ``type``),
``context`` a :class:`BackendContext`. See :mod:`gitrot.core.ports` for the contract.
"""

from __future__ import annotations

from gitrot.core.ports import (
    AppliedVersion,
    Backend,
    BackendContext,
    BackendError,
    VersionConflict,
    delivery_id,
    idempotency_key,
)

__all__ = [
    "AppliedVersion",
    "Backend",
    "BackendContext",
    "BackendError",
    "VersionConflict",
    "delivery_id",
    "idempotency_key",
]
