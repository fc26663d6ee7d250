"""Errors the command line turns into exit codes (DESIGN.md): 2 = bad usage or input."""


class UsageError(Exception):
    """Bad option, config key or input: printed as one line, exit code 2."""
