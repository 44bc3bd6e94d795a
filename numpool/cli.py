"""The ``numpool`` command line: ``demo``, ``train``, ``explain`` and ``examples``.

This module parses arguments and dispatches.  Each command lives in its own module of
:mod:`numpool.commands`, which has ``add_parser(subparsers)`` (registering its options and
its ``handler``) and a ``run(args)`` handler that returns an exit status.

Errors never show a traceback: a bad option prints one line on stderr and exits with
status 2; a :class:`CommandError` (missing file, unreadable image, an optional dependency
not installed) or a numpool error prints one line and exits with status 1.
"""

from __future__ import annotations

import argparse
import os
import sys

# the commands' own helpers, here for the callers that know them by this module
from .commands._support import CommandError, output_directory, require  # noqa: F401

PROG = "numpool"


# ---------------------------------------------------------------------------------------
# argument parsing


class UsageError(Exception):
    """A command line that argparse rejected; its message is one line."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of printing usage and exiting."""

    def error(self, message):
        message = " ".join(str(message).split())
        raise UsageError(f"{self.prog}: error: {message} (see '{self.prog} --help')")


def build_parser():
    """The top-level parser with one subparser per command."""
    from . import __version__

    parser = _Parser(
        prog=PROG,
        description="Exact, fast pooling layers on NumPy arrays, compiled with Numba.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        module.add_parser(commands)
    parser.command_names = tuple(commands.choices)
    return parser


def parse_args(argv=None):
    """Parsed arguments of a command line; raises :class:`UsageError` for a bad one."""
    parser = build_parser()
    # parse_known_args, so that an unknown option is reported as such even when the
    # command is missing too (argparse would only say "COMMAND is required").
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.error(f"missing COMMAND, one of: {', '.join(parser.command_names)}")
    return args


def _command_modules():
    from .commands import MODULES

    return MODULES


# ---------------------------------------------------------------------------------------
# running a command


def main(argv=None):
    """Run the ``numpool`` command line; returns the exit status."""
    from ._errors import NumpoolError

    try:
        args = parse_args(argv)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help and --version print, then exit 0
        return exc.code if isinstance(exc.code, int) else 0
    try:
        return args.handler(args)
    except (NumpoolError, CommandError) as exc:
        message = " ".join(str(exc).split())
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `numpool examples | head`: the reader left; exit quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as exc:  # a file the command could not write or read
        where = f": {exc.filename}" if exc.filename else ""
        print(f"{PROG} {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
