"""The one reader and writer of the user's files: intents, config, sealed values, waivers.

Fields, atomic writes and the workspace (which repository a command works on) live here too.

Imports: gitrot.backends, gitrot.triggers, gitrot.rotators (to check a plugin's options),
gitrot.keys, gitrot.codec, gitrot.core, gitrot.errors, gitrot.output, gitrot.plugins.
"""
