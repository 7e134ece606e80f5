"""``medseg finetune IMAGE LABELS --model BUNDLE --out NEW_BUNDLE``: teach a U-Net bundle corrected labels.

IMAGE and LABELS are one volume and its corrected label map (same grid), or two folders
of cases paired by name (``case1.nii.gz`` with ``case1.nrrd``, as ``medseg evaluate``
pairs them). The new bundle runs with ``medseg segment --model NEW_BUNDLE``. Importing
this module imports neither torch nor MONAI.
"""

from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "finetune",
        help="fine-tune a U-Net bundle on corrected labels; writes a new bundle",
        description="Fine-tune a MONAI bundle (e.g. brain-tissue) on corrected label volumes, on "
        "random patches, and save it as a new bundle folder with a training record.",
    )
    p.add_argument("image", help="image volume, or a folder of image volumes")
    p.add_argument(
        "labels", help="its corrected label volume (same grid), or a folder of them with the same case names"
    )
    p.add_argument("--model", required=True, help="bundle to start from: brain-tissue or a bundle folder")
    p.add_argument("--out", required=True, help="new bundle folder (must not exist or be empty)")
    p.add_argument("--epochs", type=int, default=20, help="epochs (default 20)")
    p.add_argument("--patches", type=int, default=16, help="random patches per case and epoch (default 16)")
    p.add_argument("--patch-size", type=int, default=64, help="patch edge in voxels of the network's grid (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 1e-3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--trust-bundle",
        action="store_true",
        help="trust the base bundle's config code (remembered by its content hash)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def read_cases(image: str, labels: str) -> list:
    """Training cases from two files or two folders paired by case name."""
    from ..errors import MedsegError
    from ..io import read_volume
    from ..io.folders import is_folder_of_cases
    from ..metrics.folders import pair_cases
    from ..models.unet.finetune import TrainingCase

    image_is_folder, labels_is_folder = is_folder_of_cases(image), is_folder_of_cases(labels)
    if image_is_folder and labels_is_folder:
        pairs, lone_images, lone_labels = pair_cases(image, labels)
        if not pairs:
            raise MedsegError(f"no image in {image} has labels of the same name in {labels}")
        for path in lone_images + lone_labels:
            print(f"note: {path.name} has no partner of the same name; left out", file=sys.stderr)
        return [TrainingCase(read_volume(i), read_volume(lab), name) for name, (i, lab) in pairs.items()]
    if image_is_folder or labels_is_folder:
        raise MedsegError("IMAGE and LABELS must both be volumes or both be folders of cases")
    return [TrainingCase(read_volume(image), read_volume(labels), Path(str(image).rstrip("/")).name)]


def run(args) -> int:
    import torch

    from ..models.unet.finetune import TrainingSettings, finetune_bundle
    from .progress import TerminalProgress

    cases = read_cases(args.image, args.labels)
    settings = TrainingSettings(
        epochs=args.epochs,
        patches_per_case=args.patches,
        patch_size=(args.patch_size,) * 3,
        learning_rate=args.lr,
        seed=args.seed,
    )
    result = finetune_bundle(
        cases,
        args.model,
        args.out,
        settings,
        trust_bundle=args.trust_bundle,
        progress=TerminalProgress(args.quiet),
    )
    if not args.quiet:
        print(
            f"wrote {result.bundle} in {result.seconds:.0f} s on {torch.get_num_threads()} CPU threads: "
            f"{len(cases)} case(s), {result.loss_summary()}; "
            f"use it with: medseg segment IMAGE --model {result.bundle} --out OUT",
            file=sys.stderr,
        )
    return 0
