"""``medseg interpolate LABELS --label N --out OUT [--axis K]``: fill a label between its contoured slices.

K is a voxel axis of LABELS *as stored in the file* (for NIfTI nibabel's (i, j, k), for a
DICOM series ITK's (column, row, slice)), as in ``medseg segment --box``; the default, 2,
is the file's slice axis. OUT is written on LABELS' grid (voxel order and affine).
"""

from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "interpolate",
        help="fill a label between the slices where it was drawn",
        description="Fill label N on the slices between its contoured slices along file axis K "
        "(signed-distance interpolation); other labels are left unchanged.",
    )
    p.add_argument("labels", help="label volume (NIfTI / NRRD / MHA file or DICOM folder)")
    p.add_argument("--label", type=int, required=True, help="the structure's label value N (> 0)")
    p.add_argument("--out", required=True, help="output label file (.nii.gz, .nii, .nrrd, .mha); not LABELS itself")
    p.add_argument(
        "--axis",
        type=int,
        choices=(0, 1, 2),
        default=2,
        help="file voxel axis the slices are taken across: 0 = I, 1 = J, 2 = K (default: 2, the slice axis)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from ..errors import MedsegError
    from ..interpolate import contoured_slices, interpolation_mask
    from ..io import check_write_suffix, read_volume, write_labels
    from ..metrics.report import format_ml

    check_write_suffix(args.out)
    if Path(args.out).resolve() == Path(args.labels).resolve():
        raise MedsegError(f"{args.out}: refusing to overwrite LABELS; choose another --out")
    volume = read_volume(args.labels)
    labels = volume.array
    if labels.dtype.kind == "f" and not np.all(np.mod(labels, 1) == 0):
        raise MedsegError(f"{args.labels}: not a label volume (non-integer values)")
    axis = volume.file_order.perm.index(args.axis)  # the array axis that file axis K became
    mask = interpolation_mask(labels, args.label, axis, volume.spacing)
    filled = np.array(labels, copy=True)
    filled[mask] = args.label
    path = write_labels(args.out, filled, volume)
    drawn = contoured_slices(labels, args.label, axis)
    ml = np.count_nonzero(mask) * float(np.prod(volume.spacing)) / 1000.0
    print(
        f"wrote {path}: label {args.label} drawn on {len(drawn)} slices along axis {args.axis}, "
        f"{np.count_nonzero(mask)} voxels ({format_ml(ml)} ml) filled between them",
        file=sys.stderr,
    )
    return 0
