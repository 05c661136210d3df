"""The one reader and writer of the user's files: intents, config, sealed values, waivers.

Fields, atomic writes and the workspace (which repository a command works on) live here too.

Imports: :mod:`gitrot.core`, :mod:`gitrot.codec`, :mod:`gitrot.keys`, :mod:`gitrot.errors`."""
