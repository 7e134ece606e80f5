"""The ``medseg`` command line: a thin argparse front over the package's functions.

Each sub-command lives in its own module with ``add_parser(subparsers)`` (which sets
``func``) ; errors a user can cause (:class:`~napari_medseg.errors.MedsegError`) end
the program with one line on stderr and a non-zero status.
"""
from __future__ import annotations

import argparse
import sys

from ..errors import MedsegError
from ..library_warnings import quiet_library_warnings
from . import adapt, convert, demo, evaluate, gui, info, models, rtstruct, segment, structures
from .heap import keep_freed_memory

COMMANDS = (info, convert, structures, rtstruct, segment, adapt, models, evaluate, demo, gui)
#: Commands that process whole volumes and then exit: they keep freed memory for reuse (:mod:`.heap`).
VOLUME_COMMANDS = ("convert", "structures", "rtstruct", "segment", "adapt", "evaluate", "demo")


class ExitWithStatus(MedsegError):
    """A user error with a specific exit status (e.g. 2 for an ambiguous input)."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medseg", description="Medical image segmentation in physical space.")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_library_warnings()
    if args.command in VOLUME_COMMANDS:
        keep_freed_memory()
    try:
        return int(args.func(args) or 0)
    except ExitWithStatus as exc:
        print(f"medseg {args.command}: {exc}", file=sys.stderr)
        return exc.status
    except MedsegError as exc:
        print(f"medseg {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"medseg {args.command}: interrupted", file=sys.stderr)
        return 130
