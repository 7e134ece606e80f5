"""``medseg structures PATH --out LABELS``: an RT structure set or a DICOM SEG as a label map on its image's grid."""

from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "structures",
        help="draw a DICOM RT structure set or SEG as labels on its image series' grid",
        description="Draw the ROIs of an RT structure set (RTSTRUCT) or the segments of a DICOM SEG "
        "as a label map on the grid of the image series they were drawn on, one label "
        "per ROI (1, 2, ... in file order) or per segment (its segment number).",
    )
    p.add_argument("path", help="a DICOM folder holding the image series and its RT structure set or SEG")
    p.add_argument("--out", required=True, help="label map to write (.nii, .nii.gz, .nrrd, .mha)")
    p.add_argument("--series", help="SeriesInstanceUID when PATH holds several series")
    p.add_argument(
        "--rtstruct",
        "--seg",
        dest="rtstruct",
        metavar="FILE",
        help="the RT structure set or SEG to draw (default: the one in PATH drawn on the series)",
    )
    p.add_argument("--csv", metavar="FILE", help="write label, name, colour and volume_ml per ROI (atomic)")
    p.set_defaults(func=run)


def choose_structure_set(volume, rtstruct: str | None) -> Path:
    """The structure set or SEG to draw: ``--rtstruct``/``--seg``, else the only one found beside the series."""
    from ..errors import MedsegError

    if rtstruct:
        return Path(rtstruct)
    found = volume.meta.get("structure_sets") or []
    if not found:
        raise MedsegError(
            f"{volume.meta.get('path', 'PATH')}: no RT structure set or DICOM SEG drawn on this "
            "series; give one with --rtstruct FILE or --seg FILE"
        )
    if len(found) > 1:
        raise MedsegError(
            f"{len(found)} RT structure sets or SEGs were drawn on this series; choose one with "
            "--rtstruct or --seg: " + ", ".join(found)
        )
    return Path(found[0])


def run(args) -> int:
    from ..io import check_write_suffix, read_volume, write_labels
    from ..io.annotations import draw_annotation
    from ..io.outputs import check_output_file
    from ..io.tables import csv_text, write_csv
    from ..metrics.overlap import label_volumes_ml

    check_write_suffix(args.out)
    check_output_file(args.out, [args.path, args.rtstruct])
    volume = read_volume(args.path, series=args.series)
    _, drawn = draw_annotation(choose_structure_set(volume, args.rtstruct), volume)
    for warning in drawn.warnings:
        print(f"note: {warning}", file=sys.stderr)
    path = write_labels(args.out, drawn.labels, volume)
    volumes = label_volumes_ml(drawn.labels, volume.spacing, labels_of_interest=drawn.names)
    columns = ("label", "name", "colour", "volume_ml")
    rows = [dict(zip(columns, (k, drawn.names[k], drawn.colours[k], f"{ml:.3f}"))) for k, ml in volumes.items()]
    if args.csv:
        write_csv(args.csv, rows, columns)
    print(csv_text(rows, columns), end="")
    print(f"wrote {path}: {len(drawn.names)} labels", file=sys.stderr)
    return 0
