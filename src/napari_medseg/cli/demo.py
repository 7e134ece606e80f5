"""``medseg demo [--out DIR] [--device auto|cpu|cuda]``: headless end-to-end run on the sample data."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="headless end-to-end run on the shipped sample data (writes under --out)")
    p.add_argument("--out", default="out", help="output folder (default: out)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where the models run")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..demo import run_demo

    run_demo(args.out, device=args.device)
    return 0
