"""``medseg demo [--out DIR]``: headless end-to-end run on the sample data."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="headless end-to-end run on the shipped sample data (writes under --out)")
    p.add_argument("--out", default="out", help="output folder (default: out)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..demo import run_demo

    run_demo(args.out)
    return 0
