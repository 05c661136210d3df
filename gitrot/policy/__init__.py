"""Policy rules (docs/architecture.md): the rule format, the input document, the engine.

``rules`` reads ``policies/*.yaml`` (built-in and the repository's), ``input`` builds the
document a rule sees, ``engine`` runs the rules into findings and ``cel`` is the one module
that touches the CEL engine (loaded only when a rule needs it).

Imports: gitrot.files, gitrot.keys, gitrot.codec, gitrot.core, gitrot.errors, gitrot.plugins.
"""
