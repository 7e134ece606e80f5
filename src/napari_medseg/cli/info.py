"""``medseg info PATH [--json]``: what a file or DICOM folder holds."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="list the series/volumes in a file or DICOM folder")
    p.add_argument("path")
    p.add_argument(
        "--json",
        action="store_true",
        help='print JSON: {"schema_version": 1, "series": [...]}, shapes and spacings in file voxel order '
        "(the order --box takes; see docs/cli.md)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from ..io import list_series
    from ..io.annotations import annotation_kind
    from ..io.dicom_pixels import transfer_syntax_name
    from . import print_json

    series = list_series(args.path)
    if args.json:
        print_json({"series": [s.as_dict() for s in series]})
        return 0
    for s in series:
        d = s.as_dict()
        shape = "x".join(map(str, d["shape"])) if d["shape"] else "?"
        spacing = ", ".join(f"{v:g}" for v in d["spacing_mm"]) if d["spacing_mm"] else "?"
        part = f" (part {d['part']} of {d['n_parts']}: --series {d['series_id']})" if d["part"] else ""
        print(
            f"{d['series_uid'] or args.path}{part}  {d['modality'] or '-'}  {_numbered(s)}{d['description']!r}  "
            f"{d['n_files']} files  shape {shape}  spacing ({spacing}) mm  ({','.join(d['axes'])})"
        )
        if d["transfer_syntaxes"]:
            state = "" if d["decodable"] is not False else " -- CANNOT BE DECODED here"
            print(f"  transfer syntax: {', '.join(map(transfer_syntax_name, d['transfer_syntaxes']))}{state}")
        for w in d["warnings"]:
            print(f"  warning: {w}")
        for path in d["structure_sets"]:
            kind = "DICOM SEG" if annotation_kind(path) == "SEG" else "RT structure set"
            print(f"  {kind}: {path} (medseg structures draws it)")
    return 0


def _numbered(summary) -> str:
    """``"series 3 "`` for a series with a SeriesNumber, and ``"localizer "`` for a planning image."""
    from ..io.series_choice import is_localizer

    number = f"series {summary.number} " if summary.number else ""
    return number + ("localizer " if is_localizer(summary) else "")
