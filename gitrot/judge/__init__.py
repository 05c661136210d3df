"""The PR check (``gitrot check``): a change judged against its base, from git objects.

- :mod:`gitrot.judge.judge`: what to read and which rules to run (:func:`judge`);
- :mod:`gitrot.judge.changes`: the checks of files between two commits (pure);
- :mod:`gitrot.judge.history`: what an intent path held before (for ``version-reused``);
- :mod:`gitrot.judge.pr`: the pull request's facts from the CI environment.

Imports: gitrot.policy, gitrot.git, gitrot.scan, gitrot.files, gitrot.keys, gitrot.codec,
gitrot.core, gitrot.errors.
"""
