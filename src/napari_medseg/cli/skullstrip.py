"""``medseg skullstrip IMAGE --out BRAIN [--mask MASK]``: brain extraction with the ``brain-tissue`` model.

BRAIN is IMAGE with every voxel outside the brain set to 0, MASK the brain mask (label 1),
both on IMAGE's grid (voxel order and affine of the file). The mask is the largest connected
part of what the model labels grey matter, white matter or CSF, holes filled
(:func:`napari_medseg.models.brain_extraction.skull_strip`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..models.registry import DEVICES


def add_parser(sub) -> None:
    p = sub.add_parser(
        "skullstrip",
        help="remove skull and scalp from a head MRI (brain-tissue model)",
        description="Write IMAGE with everything outside the brain set to 0 (and, with --mask, the brain mask).",
    )
    p.add_argument("image", help="head MRI: NIfTI / NRRD / MHA file or DICOM folder, any contrast")
    p.add_argument("--out", required=True, help="skull-stripped image (.nii.gz, .nii, .nrrd, .mha); not IMAGE itself")
    p.add_argument("--mask", help="also write the brain mask here (label 1, on IMAGE's grid)")
    p.add_argument("--series", help="SeriesInstanceUID to pick in a DICOM folder with several series")
    p.add_argument("--device", choices=DEVICES, default="auto", help="where the network runs (default: auto)")
    p.add_argument("--force", action="store_true", help="run even when IMAGE does not look like an MRI (e.g. CT)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from ..errors import MedsegError
    from ..io import check_write_suffix, read_volume, write_labels, write_volume
    from ..io.outputs import check_output_file
    from ..metrics.report import format_ml
    from ..models.brain_extraction import BRAIN_MODEL, skull_strip
    from .progress import TerminalProgress
    from .segment import check_model_card

    outputs = [args.out] + ([args.mask] if args.mask else [])
    if args.mask and Path(args.mask).resolve() == Path(args.out).resolve():
        raise MedsegError("--mask and --out name the same file; choose two files")
    for path in outputs:
        check_write_suffix(path)
        check_output_file(path, [args.image])
    volume = read_volume(args.image, series=args.series)
    check_model_card(BRAIN_MODEL, volume, args.force)
    stripped, mask = skull_strip(volume, device=args.device, progress=TerminalProgress(args.quiet, "skullstrip "))
    written = [write_volume(args.out, stripped.array, volume)]
    if args.mask:
        written.append(write_labels(args.mask, mask.astype(np.uint8), volume, {1: "brain"}))
    ml = np.count_nonzero(mask) * float(np.prod(volume.spacing)) / 1000.0
    if not args.quiet:
        print(f"wrote {', '.join(map(str, written))}: brain {format_ml(ml)} ml", file=sys.stderr)
    return 0
