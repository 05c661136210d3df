"""Keys: age wrapping of the data key, identity discovery, ``.sops.yaml`` creation rules.

Imports: gitrot.codec, gitrot.core, gitrot.errors.
"""
