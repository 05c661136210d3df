"""Judging: one pipeline for the work tree (``gitrot validate``) and a change (``gitrot check``).

- :mod:`gitrot.judge.pipeline`: the stages, in order (:func:`~gitrot.judge.pipeline.judge`);
- :mod:`gitrot.judge.inputs`: what the pipeline reads, and its verdict;
- :mod:`gitrot.judge.tree_input`: the work tree's inputs, judged against HEAD;
- :mod:`gitrot.judge.change_input`: a change's inputs, from git objects, with both policies;
- :mod:`gitrot.judge.evaluate`: every policy side's rules over the intents;
- :mod:`gitrot.judge.waive`: which waivers count, and applying them;
- :mod:`gitrot.judge.changes`: the checks of files between two commits (pure);
- :mod:`gitrot.judge.pr_checks`: the checks only a change can make, on what it reads;
- :mod:`gitrot.judge.policy_files`, :mod:`gitrot.judge.policy_diff`: ``policy-changed``;
- :mod:`gitrot.judge.scan`: the secret scan of a change;
- :mod:`gitrot.judge.sides`, :mod:`gitrot.judge.commits`: a commit's policy and history;
- :mod:`gitrot.judge.history`: what an intent path held before (for ``version-reused``);
- :mod:`gitrot.judge.recheck`: the reconciler's re-check, by the same stages;
- :mod:`gitrot.judge.pr`: the pull request's facts from the CI environment.

Imports: gitrot.policy, gitrot.git, gitrot.scan, gitrot.files, gitrot.keys, gitrot.codec,
gitrot.core, gitrot.errors.
"""
