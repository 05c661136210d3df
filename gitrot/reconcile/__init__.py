"""The reconciler (docs/architecture.md): merged intents become secret versions and rebuilds.

- :mod:`gitrot.reconcile.desired`: what git says at the target commit (intents read from
  git objects, policy re-run there, refs and sealed values opened with the reconciler's
  identity);
- :mod:`gitrot.reconcile.plan`: pure: desired against applied (the backends) and the
  ledger (the last note) gives the items to write and the triggers to fire;
- :mod:`gitrot.reconcile.apply`: the items, in parallel, exactly once per (name, version);
- :mod:`gitrot.reconcile.ledger`: the note's JSON, read and written;
- :mod:`gitrot.reconcile.values`: generated values and sealed ones.

Imports: gitrot.judge, gitrot.policy, gitrot.git, gitrot.backends, gitrot.triggers,
gitrot.files, gitrot.keys, gitrot.codec, gitrot.core, gitrot.errors, gitrot.output, gitrot.plugins.
"""
