"""``medseg seg LABELS --image DICOM --out seg.dcm``: a label map as a DICOM SEG."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    from ..io.seg_write import ALGORITHM_TYPES

    p = sub.add_parser(
        "seg",
        help="write a label map as a DICOM SEG on its DICOM series",
        description="Write each label K of LABELS as segment K of a binary DICOM Segmentation (SEG) "
        "that refers to the DICOM series LABELS was drawn on (same grid), for a PACS, "
        "OHIF or 3D Slicer.",
    )
    p.add_argument("labels", help="label map on the series' grid (.nii.gz, .nrrd, .mha, ...)")
    p.add_argument("--image", required=True, help="the DICOM folder holding the series")
    p.add_argument("--series", help="SeriesInstanceUID when the folder holds several series")
    p.add_argument("--out", required=True, help="DICOM SEG to write (.dcm)")
    p.add_argument("--names", metavar="1=NAME,2=NAME", help="segment labels (default: 'label K')")
    p.add_argument(
        "--algorithm-type",
        choices=ALGORITHM_TYPES,
        default="SEMIAUTOMATIC",
        help="how the labels were made: SEMIAUTOMATIC (default: corrected in napari), AUTOMATIC "
        "(a model's output) or MANUAL",
    )
    p.add_argument("--label", default="napari-medseg", help="content label / series description of the SEG")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import MedsegError
    from ..io import read_volume
    from ..io.seg_write import write_segmentation
    from .rtstruct import parse_names

    if not args.out.lower().endswith(".dcm"):
        raise MedsegError(f"{args.out}: a DICOM SEG is written as a .dcm file")
    names = parse_names(args.names)
    image = read_volume(args.image, series=args.series)
    labels = read_volume(args.labels)
    if not labels.same_grid(image):
        raise MedsegError(
            f"{args.labels} is not on the series' grid ({labels.describe_grid()} vs "
            f"{image.describe_grid()}); resample it onto the image first"
        )
    path = write_segmentation(
        args.out, labels.array, image, names, label=args.label, algorithm_type=args.algorithm_type
    )
    print(f"wrote {path}", file=sys.stderr)
    return 0
