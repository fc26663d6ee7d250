"""Errors the command line turns into exit code 2 (bad usage or input, DESIGN.md):
:class:`UsageError` from reading the options, and the engine's argument checks
(:class:`numerics.validation.InvalidInput`: :func:`input_errors` imports it only when an
error is being handled, so that ``selfconsume --help`` does not import numpy)."""

from __future__ import annotations


class UsageError(Exception):
    """Bad option, config key or input: printed as one line, exit code 2."""


def input_errors():
    """The exception types reported as bad usage or input (exit code 2)."""
    from numerics.validation import InvalidInput
    return (UsageError, InvalidInput)
