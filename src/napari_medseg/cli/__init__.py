"""The ``medseg`` command line: a thin argparse front over the package's functions.

Each sub-command lives in its own module with ``add_parser(subparsers)`` (which sets
``func``) ; errors a user can cause (:class:`~napari_medseg.errors.MedsegError`) end
the program with one line on stderr and a non-zero status. Data goes to stdout,
diagnostics (progress, notes, "wrote ...") to stderr.

Exit status: 0 done; 1 bad input or failure (:data:`EXIT_ERROR`); 2 usage error
(argparse); 3 ambiguous input, e.g. a folder with several series and no ``--series``
(:data:`EXIT_AMBIGUOUS`); 4 a batch in which some cases failed and the others were
written (:data:`EXIT_PARTIAL`); 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..errors import AmbiguousInputError, MedsegError
from ..library_warnings import quiet_library_warnings
from . import (
    adapt,
    convert,
    demo,
    evaluate,
    finetune,
    gui,
    info,
    interpolate,
    models,
    rtstruct,
    seg,
    segment,
    skullstrip,
    structures,
)
from .heap import keep_freed_memory

#: Exit statuses besides 0 (done) and 130 (interrupted); see the module docstring.
EXIT_ERROR, EXIT_USAGE, EXIT_AMBIGUOUS, EXIT_PARTIAL = 1, 2, 3, 4
COMMANDS = (
    info,
    convert,
    structures,
    rtstruct,
    seg,
    segment,
    skullstrip,
    adapt,
    interpolate,
    finetune,
    models,
    evaluate,
    demo,
    gui,
)
#: Commands that process whole volumes and then exit: they keep freed memory for reuse (:mod:`.heap`).
VOLUME_COMMANDS = (
    "convert",
    "structures",
    "rtstruct",
    "seg",
    "segment",
    "skullstrip",
    "adapt",
    "interpolate",
    "finetune",
    "evaluate",
    "demo",
)


#: Version of every ``--json`` document (a top-level ``schema_version``); docs/cli.md describes the schemas.
JSON_SCHEMA_VERSION = 1


def print_json(document: dict) -> None:
    """Print ``document`` on stdout as JSON, ``schema_version`` first (see :data:`JSON_SCHEMA_VERSION`)."""
    import json

    print(json.dumps({"schema_version": JSON_SCHEMA_VERSION, **document}, indent=2))


def batch_status(n_failed: int, n_cases: int) -> int:
    """Exit status of a batch: 0 all done, :data:`EXIT_PARTIAL` some failed, :data:`EXIT_ERROR` all failed."""
    if not n_failed:
        return 0
    return EXIT_ERROR if n_failed >= n_cases else EXIT_PARTIAL


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medseg",
        description="Medical image segmentation in physical space.",
        epilog="exit status: 0 done, 1 bad input or failure, 2 usage error, "
        "3 ambiguous input (choose with --series), 4 some cases of a batch failed",
    )
    parser.add_argument("--version", action="version", version=f"medseg {__version__}")
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
    except AmbiguousInputError as exc:
        print(f"medseg {args.command}: {exc}", file=sys.stderr)
        return EXIT_AMBIGUOUS
    except MedsegError as exc:
        print(f"medseg {args.command}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"medseg {args.command}: interrupted", file=sys.stderr)
        return 130
