"""Keys: age wrapping of the data key, identity discovery, ``.sops.yaml`` creation rules.

Imports: :mod:`gitrot.codec`, :mod:`gitrot.core`, :mod:`gitrot.errors`."""
