"""gitrot: credential rotation as a pull request."""
