"""``medseg models [--json] [--adapters DIR]`` lists the models and the saved SAM adapters;
``medseg models fetch NAME`` downloads a zoo bundle."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list the available models (kind, labels, source), or fetch a zoo bundle")
    p.add_argument(
        "--json", action="store_true", help='print JSON: {"schema_version": 1, "models": [...], "adapters": [...]}'
    )
    p.add_argument(
        "--adapters",
        metavar="DIR",
        help="list the SAM adapters in DIR (default: <cache>/adapters, where the GUI saves them)",
    )
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
        print(
            f"fetched {args.name} to {root}; run it with --model {root.name} (and --trust-bundle once you have "
            "reviewed its configs)"
        )
        return 0
    from ..models.sam.adapter_store import list_adapters

    models, adapters = available_models(), list_adapters(getattr(args, "adapters", None))
    if args.json:
        from . import print_json

        print_json(
            {
                "models": [m.as_dict() for m in models],
                "adapters": [{"path": str(path), **card} for path, card in adapters],
            }
        )
        return 0
    for m in models:
        labels = ", ".join(f"{k} {v}" for k, v in m.labels.items()) or "-"
        print(f"{m.name:<16} {m.kind:<10} labels: {labels}  ({m.source})")
    for path, card in adapters:
        if "error" in card:
            print(f"{path.name:<16} {'adapter':<10} unreadable: {card['error']}")
            continue
        dice = (
            f"held-out Dice {card['dice_before']:.2f} -> {card['dice_after']:.2f}"
            if card.get("dice_after") is not None
            else "no held-out slices"
        )
        name = f" {card['label_name']}" if card.get("label_name") else ""
        print(
            f"{path.name:<16} {'adapter':<10} label: {card['label']}{name}  ({card['base_model']}, "
            f"{len(card.get('slices', []))} slices, {card.get('steps')} steps, {dice}; {path}; "
            "not a validated model)"
        )
    return 0
