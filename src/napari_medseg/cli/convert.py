"""``medseg convert PATH OUT [--series UID]``: write a volume as NIfTI, NRRD or MHA."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("convert", help="convert a volume or DICOM series to NIfTI/NRRD/MHA (by OUT's extension)")
    p.add_argument("path")
    p.add_argument("out")
    p.add_argument("--series", help="SeriesInstanceUID (or series id from 'medseg info') when PATH holds several")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..io import check_write_suffix, list_series, read_volume, write_volume
    from ..io.outputs import check_output_file
    from . import ExitWithStatus

    check_write_suffix(args.out)
    check_output_file(args.out, [args.path])

    if args.series is None and Path(args.path).is_dir():
        found = list_series(args.path)
        if len(found) > 1:
            lines = [f"{args.path} holds {len(found)} series; choose one with --series:"]
            lines += [f"  {s.series_uid}  {s.modality}  {s.description!r}  {s.n_files} files" for s in found]
            raise ExitWithStatus("\n".join(lines), status=2)
    vol = read_volume(args.path, series=args.series)
    write_volume(args.out, vol.array, vol)
    for w in vol.meta.get("warnings", []):
        print(f"warning: {w}")
    print(f"wrote {args.out}: shape {vol.shape}, spacing {tuple(round(float(s), 4) for s in vol.spacing)} mm")
    return 0
