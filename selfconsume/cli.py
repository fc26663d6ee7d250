"""``selfconsume``: entry point.  Each subcommand lives in ``selfconsume/commands/NAME.py`` with

    def register(subparsers) -> argparse.ArgumentParser   # sets defaults(run=run)
    def run(args) -> int                                  # exit code

and imports numerics/theory/figures inside ``run`` only, so that ``--help`` is instant.

Exit codes: 0 success, 1 a check failed, 2 bad usage or input (one line on stderr, no
traceback), 130 interrupted.  "Bad input" is :class:`~selfconsume.errors.UsageError` (raised
while reading the options) or :class:`numerics.validation.InvalidInput` (an argument check of
the engine); any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from .errors import input_errors

COMMANDS = ("demo", "scenarios", "evolve", "check", "heatmap", "figures", "simulate",
            "proofs", "falsify", "sweep", "stability")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def build_parser():
    parser = _Parser(prog="selfconsume",
                     description="Exact densities and theorem checks for self-consuming "
                                 "generative models trained on curated data.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        modname = f"selfconsume.commands.{name}"
        if importlib.util.find_spec(modname) is None:
            continue
        importlib.import_module(modname).register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except input_errors() as exc:  # evaluated only when an exception is raised
        sys.stderr.write(f"selfconsume {args.command}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"selfconsume {args.command}: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
