"""``gitrot scan``: a secret scanner for any file a commit touches (docs/architecture.md).

:mod:`gitrot.scan.detectors` is the pure core (text in, hits out; a hit carries a keyed
fingerprint of the secret, never the secret), over :mod:`~gitrot.scan.formats` (the
vendor token table), :mod:`~gitrot.scan.assign` (assignments, connection strings),
:mod:`~gitrot.scan.decode` (base64 material) and :mod:`~gitrot.scan.values` (what a value
looks like); :mod:`gitrot.scan.stream` scans a large file in bounded windows;
:mod:`gitrot.scan.allowlist` reads ``.gitrot-scan-allow.yaml``; :mod:`gitrot.commands.scan`
reads files and prints.

Imports: gitrot.files, gitrot.codec, gitrot.core, gitrot.errors.
"""
