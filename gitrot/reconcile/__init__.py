"""The reconciler (docs/architecture.md): merged intents become secret versions and rebuilds.

- :mod:`gitrot.reconcile.wiring`: the :class:`~gitrot.reconcile.wiring.Reconciler`: the
  repository, the reconciler's identity, and the backends and triggers it is handed or
  opens from gitrot.yaml;
- :mod:`gitrot.reconcile.desired`: what git says at the target commit (intents read from
  git objects, policy re-run there, refs and sealed values opened with the reconciler's
  identity);
- :mod:`gitrot.reconcile.observe`: what a plan is made from (git, the signed state, the
  backends): the one reader behind ``plan``, ``status`` and ``reconcile``;
- :mod:`gitrot.reconcile.plan`: pure: desired against applied (the backends) and the
  ledger gives the items to write and the triggers to fire, a table of cases;
- :mod:`gitrot.reconcile.status`: pure: per secret, desired, applied and told, from the plan;
- :mod:`gitrot.reconcile.apply`: the items, in parallel, exactly once per (name, version);
- :mod:`gitrot.reconcile.rotation`: the two-phase apply of an intent with a rotator
  (pending, set, tested, promoted), resumed at the step the backend records;
- :mod:`gitrot.reconcile.record`: the note, the signed state, ``refs/gitrot/reconciled``;
- :mod:`gitrot.reconcile.run`: one run: plan, apply, record, push, retry a lost race;
- :mod:`gitrot.reconcile.ledger`: the signed state and the note's JSON, read and written;
- :mod:`gitrot.reconcile.values`: generated values and sealed ones.

Imports: gitrot.judge, gitrot.policy, gitrot.git, gitrot.backends, gitrot.triggers, gitrot.rotators,
gitrot.files, gitrot.keys, gitrot.codec, gitrot.core, gitrot.errors, gitrot.output, gitrot.plugins.
"""
