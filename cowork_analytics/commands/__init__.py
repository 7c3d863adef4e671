"""The command groups of `cowork-analytics`, one module each."""
