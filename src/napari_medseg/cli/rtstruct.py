"""``medseg rtstruct LABELS --image DICOM --out rs.dcm``: a label map as a DICOM RT structure set."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "rtstruct",
        help="write a label map as a DICOM RT structure set on its DICOM series",
        description="Write each label of LABELS as an ROI of a DICOM RT structure set that refers "
        "to the DICOM series LABELS was drawn on (same grid), for a planning system "
        "or a PACS.",
    )
    p.add_argument("labels", help="label map on the series' grid (.nii.gz, .nrrd, .mha, ...)")
    p.add_argument("--image", required=True, help="the DICOM folder holding the series")
    p.add_argument("--series", help="SeriesInstanceUID when the folder holds several series")
    p.add_argument("--out", required=True, help="RT structure set to write (.dcm)")
    p.add_argument("--names", metavar="1=NAME,2=NAME", help="ROI names (default: 'label K')")
    p.set_defaults(func=run)


def parse_names(text: str | None) -> dict[int, str]:
    """``"1=liver,2=spleen"`` -> ``{1: "liver", 2: "spleen"}``."""
    from ..errors import MedsegError

    names = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        value, sep, name = part.partition("=")
        if not sep or not value.strip().isdigit() or not name.strip():
            raise MedsegError(f"--names {text!r}: give LABEL=NAME pairs separated by commas, e.g. 1=liver,2=spleen")
        names[int(value)] = name.strip()
    return names


def run(args) -> int:
    from ..errors import MedsegError
    from ..io import read_volume
    from ..io.rtstruct_write import write_structure_set

    if not args.out.lower().endswith(".dcm"):
        raise MedsegError(f"{args.out}: an RT structure set is written as a .dcm file")
    from ..io.outputs import check_output_file

    check_output_file(args.out, [args.image, args.labels])
    names = parse_names(args.names)
    image = read_volume(args.image, series=args.series)
    labels = read_volume(args.labels)
    if not labels.same_grid(image):
        raise MedsegError(
            f"{args.labels} is not on the series' grid ({labels.describe_grid()} vs "
            f"{image.describe_grid()}); resample it onto the image first"
        )
    path = write_structure_set(args.out, labels.array, image, names)
    print(f"wrote {path}", file=sys.stderr)
    return 0
