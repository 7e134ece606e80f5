"""``medseg convert PATH OUT [--series UID] [--volume N]``: write a volume as NIfTI, NRRD or MHA."""

from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("convert", help="convert a volume or DICOM series to NIfTI/NRRD/MHA (by OUT's extension)")
    p.add_argument("path")
    p.add_argument("out")
    p.add_argument(
        "--series", help="SeriesInstanceUID, series id or SeriesNumber (from 'medseg info') when PATH holds several"
    )
    p.add_argument("--volume", type=int, metavar="N", help="which volume of a 4D NIfTI (0-based; default 0)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import AmbiguousInputError
    from ..io import check_write_suffix, list_series, read_volume, write_labels, write_volume
    from ..io.outputs import check_output_file

    check_write_suffix(args.out)
    check_output_file(args.out, [args.path])

    if args.series is None and Path(args.path).is_dir():
        found = list_series(args.path)
        if len(found) > 1:
            listing = "; ".join(
                f"{s.series_id or s.series_uid} ({s.modality}, {s.description!r}, {s.n_files} files)" for s in found
            )
            raise AmbiguousInputError(f"{args.path} holds {len(found)} series; choose one with --series: {listing}")
    vol = read_volume(args.path, series=args.series, volume=args.volume)
    if vol.meta.get("labels"):  # a label map stays one, with its names and colours
        write_labels(args.out, vol.array, vol, vol.meta.get("label_names"), vol.meta.get("label_colours"))
    else:
        write_volume(args.out, vol.array, vol)
    for w in vol.meta.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    print(
        f"wrote {args.out}: shape {vol.shape}, spacing {tuple(round(float(s), 4) for s in vol.spacing)} mm",
        file=sys.stderr,
    )
    return 0
