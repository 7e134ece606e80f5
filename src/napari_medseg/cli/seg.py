"""``medseg seg LABELS --image DICOM --out seg.dcm``: a label map as a DICOM SEG."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    from ..io.seg_write import ALGORITHM_TYPES
    from .dicom_export import add_arguments

    p = sub.add_parser(
        "seg",
        help="write a label map as a DICOM SEG on its DICOM series",
        description="Write each label K of LABELS as segment K of a binary DICOM Segmentation (SEG) "
        "that refers to the DICOM series LABELS was drawn on (same grid), for a PACS, "
        "OHIF or 3D Slicer.",
    )
    add_arguments(p, "DICOM SEG to write (.dcm)", "segment labels (default: 'label K')")
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
    from ..io.seg_write import write_segmentation
    from .dicom_export import read_inputs

    image, labels, names = read_inputs(args, "a DICOM SEG")
    path = write_segmentation(
        args.out, labels.array, image, names, label=args.label, algorithm_type=args.algorithm_type
    )
    print(f"wrote {path}", file=sys.stderr)
    return 0
