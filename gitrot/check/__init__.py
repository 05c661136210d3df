"""The PR check (``gitrot check``): a change judged against its base, from git objects.

- :mod:`gitrot.check.judge`: what to read and which rules to run (:func:`judge`);
- :mod:`gitrot.check.changes`: the checks of files between two commits (pure);
- :mod:`gitrot.check.history`: what an intent path held before (for ``version-reused``);
- :mod:`gitrot.check.pr`: the pull request's facts from the CI environment.
"""
