"""``medseg rtstruct LABELS --image DICOM --out rs.dcm``: a label map as a DICOM RT structure set."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    from .dicom_export import add_arguments

    p = sub.add_parser(
        "rtstruct",
        help="write a label map as a DICOM RT structure set on its DICOM series",
        description="Write each label of LABELS as an ROI of a DICOM RT structure set that refers "
        "to the DICOM series LABELS was drawn on (same grid), for a planning system "
        "or a PACS.",
    )
    add_arguments(p, "RT structure set to write (.dcm)", "ROI names (default: 'label K')")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..io.rtstruct_write import write_structure_set
    from .dicom_export import read_inputs

    image, labels, names = read_inputs(args, "an RT structure set")
    path = write_structure_set(args.out, labels.array, image, names)
    print(f"wrote {path}", file=sys.stderr)
    return 0
