"""``medseg segment INPUT --model NAME_OR_PATH --out OUT``: automatic or prompted segmentation.

U-Net style models (MONAI bundles, checkpoints, ``brain-tissue``) run through
:func:`napari_medseg.models.segment.segment_volume`; SAM models (``litemedsam``,
``medsam``, a ``.pth`` with ``--sam-type``) through ``cli.sam_segment.run_sam`` with box
/ point prompts. OUT is written on INPUT's grid (voxel order and affine of the file). Importing this module
imports neither torch nor MONAI (``medseg --help`` stays fast); they load when a model runs.
"""
from __future__ import annotations

import sys
import warnings

#: ``napari_medseg.models.inference.DEVICES``, repeated here so that parsing arguments imports no torch.
DEVICES = ("auto", "cpu", "cuda", "mps")


def add_parser(sub) -> None:
    p = sub.add_parser("segment", help="segment a volume with a MONAI bundle/checkpoint or a SAM model",
                       description="Segment INPUT and write the labels on INPUT's grid.")
    p.add_argument("input", help="NIfTI / NRRD / MHA file or DICOM folder")
    p.add_argument("--model", required=True, help="brain-tissue, litemedsam, a bundle folder or a checkpoint .json/.yaml "
                                                  "(see `medseg models`)")
    p.add_argument("--out", required=True, help="output label file (.nii.gz, .nii, .nrrd, .mha)")
    p.add_argument("--device", choices=DEVICES, default="auto", help="where the network runs (default: auto = cuda > mps > cpu)")
    p.add_argument("--trust-bundle", action="store_true",
                   help="trust this user bundle's config code (remembered by its content hash)")
    p.add_argument("--series", help="SeriesInstanceUID to pick in a DICOM folder with several series")
    p.add_argument("--argmax-first", dest="argmax_first", action="store_true", default=None,
                   help="bundles: take the argmax before Invertd (nearest neighbour back to INPUT's grid); faster, "
                        "differs from the bundle on boundary voxels when it resamples (default: only for >= 4 classes)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    _add_sam_arguments(p)
    p.set_defaults(func=run)


def _add_sam_arguments(p) -> None:
    try:
        from .sam_segment import add_sam_arguments
    except ImportError:  # SAM support not installed: U-Net models still work
        return
    add_sam_arguments(p)


def _is_sam(args) -> bool:
    try:
        from .sam_segment import is_sam_model
    except ImportError:
        return False
    from ..models.registry import SAM_MODELS

    return is_sam_model(args.model, getattr(args, "sam_type", None)) or args.model.lower() in SAM_MODELS


class TerminalProgress:
    """Progress callback that redraws one stderr line: percentage and message."""

    def __init__(self, quiet: bool = False):
        self.quiet, self.last = quiet, ""

    def __call__(self, fraction: float, message: str) -> None:
        if self.quiet:
            return
        line = f"\r{100 * fraction:5.1f}% {message}"[:120]
        print(line.ljust(len(self.last)), end="\n" if fraction >= 1.0 else "", file=sys.stderr, flush=True)
        self.last = line


def run(args) -> int:
    from ..io import read_volume, write_labels

    volume = read_volume(args.input, series=args.series)
    if _is_sam(args):
        from .sam_segment import run_sam

        labels = run_sam(args, volume)
        write_labels(args.out, labels, volume)
        return 0
    from ..models.segment import segment_volume

    with warnings.catch_warnings():  # MONAI deprecation chatter is not for users
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"monai\.")
        result = segment_volume(volume, args.model, device=args.device, trust_bundle=args.trust_bundle,
                                progress=TerminalProgress(args.quiet), argmax_first=args.argmax_first)
    path = write_labels(args.out, result.labels, volume)
    if not args.quiet:
        for message in result.messages:
            print(f"note: {message}", file=sys.stderr)
        names = ", ".join(f"{k} {v}" for k, v in result.label_names.items())
        print(f"wrote {path} ({names}) in {result.seconds:.1f} s on {result.device}", file=sys.stderr)
    return 0
