"""Keys: age identities (``age``: the key file format, ``identities``: where sops finds them)
and ``.sops.yaml`` creation rules (``creation_rules``); wrapping the data key is
:mod:`gitrot.codec.agewrap`.

Imports: gitrot.codec, gitrot.core, gitrot.errors.
"""
