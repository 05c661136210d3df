"""The SOPS file format: YAML/JSON/dotenv stores and the cipher, byte-compatible with sops 3.11.

Imports: gitrot.core, gitrot.errors.
"""
