"""``medseg evaluate``: placeholder until its issue lands (replace this module)."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import MedsegError

    raise MedsegError("not implemented yet")
