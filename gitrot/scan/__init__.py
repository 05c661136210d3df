"""``gitrot scan``: a secret scanner for any file a commit touches (DESIGN.md section 3).

:mod:`gitrot.scan.detectors` is the pure core (text in, hits out; a hit carries a SHA-256
fingerprint of the secret, never the secret); :mod:`gitrot.scan.allowlist` reads
``.gitrot-scan-allow.yaml``; :mod:`gitrot.commands.scan` reads files and prints.
"""
