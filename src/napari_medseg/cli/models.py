"""``medseg models [--json]`` lists the models; ``medseg models fetch NAME`` downloads a zoo bundle."""
from __future__ import annotations

import json


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list the available models (kind, labels, source), or fetch a zoo bundle")
    p.add_argument("--json", action="store_true", help='print JSON: {"models": [...]}')
    actions = p.add_subparsers(dest="models_action")
    f = actions.add_parser("fetch", help="download a MONAI model zoo bundle (needs the internet)")
    f.add_argument("name", help="model zoo bundle name, e.g. spleen_ct_segmentation")
    f.add_argument("--version", help="bundle version (default: latest)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..models.registry import available_models

    if getattr(args, "models_action", None) == "fetch":
        from ..models.unet.zoo import fetch

        root = fetch(args.name, args.version)
        print(f"fetched {args.name} to {root}; run it with --model {root.name} (and --trust-bundle once you have "
              "reviewed its configs)")
        return 0
    models = available_models()
    if args.json:
        print(json.dumps({"models": [m.as_dict() for m in models]}, indent=2))
        return 0
    for m in models:
        labels = ", ".join(f"{k} {v}" for k, v in m.labels.items()) or "-"
        print(f"{m.name:<16} {m.kind:<10} labels: {labels}  ({m.source})")
    return 0
