"""The trigger interface, re-exported from :mod:`gitrot.core.ports` (where it lives), and
the reconciler's stop flag.

A failed trigger never rolls back a written version: the reconciler records the
:class:`Receipt` and retries on its next run. Trigger types are registered under the
entry-point group ``gitrot.triggers``: the entry point names a class (or callable) taking
``(name, options, environ)``; ``options`` is the trigger's mapping in gitrot.yaml (without
``type``), ``environ`` the environment credentials come from (never the config).
"""

from __future__ import annotations

import threading

from gitrot.core.ports import Delivery, Receipt, Trigger

__all__ = ["STOPPING", "Delivery", "Receipt", "Trigger"]

#: set when the reconciler is interrupted: no trigger starts a command or a retry any more
STOPPING = threading.Event()
