"""``medseg evaluate PRED REF``: per-label Dice, Hausdorff and surface metrics in mm."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

CONVENTIONS = """\
metrics (per label present in either volume; 0 is background):
  dice, jaccard            on voxels
  hd_mm                    Hausdorff distance: the larger of the two directed maxima
  hd95_mm                  the larger of the two directed 95th percentiles (linear interpolation)
  assd_mm                  mean of both directions' distances pooled (not the mean of the two means)
  nsd                      normalised surface Dice: share of both surfaces within --tolerance mm
                           of the other surface (MONAI compute_surface_dice)
  volume_pred_ml, volume_ref_ml, volume_diff_ml (= pred - ref)

surface (--surface voxel, default): voxels of a mask with at least one face-connected
  neighbour outside it (outside the image counts as outside), each counted once.
  Distances are Euclidean in mm from the voxel spacing, from each surface voxel to the
  nearest surface voxel of the other mask. These are MONAI 1.6's and MetricsReloaded's
  conventions; values agree with MONAI's functions to 1e-4 relative.
--surface area: DeepMind surface-distance's area-weighted surface elements (2x2x2
  cubes weighted by marching-cubes area): hd95 is the area-weighted percentile, assd
  the area-weighted pooled mean, nsd the share of surface area (MONAI use_subvoxels).

empty masks (status column): both_empty -> dice 1, nsd 1, distances 0;
  pred_empty / ref_empty -> dice 0, nsd 0, distances null (empty CSV cell).
  Folder summaries count these cases; they are never dropped silently.

PRED and REF are files (NIfTI, NRRD, MHA, DICOM folder) or two folders: then volumes
are paired by name less extension (case1.nii.gz with case1.nrrd), a per-label summary
(mean, median, IQR, undefined counts) is printed and --csv gets one row per case and
label. Both volumes must share a voxel grid unless --resample is given.
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="per-label Dice, Hausdorff (mm), ASSD, NSD of a prediction vs a reference",
        description="Evaluate a predicted label map against a reference, per label, in mm.",
        epilog=CONVENTIONS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("pred", help="predicted labels: a volume file, DICOM folder, or a folder of volumes")
    p.add_argument("ref", help="reference labels: same kind as PRED")
    p.add_argument(
        "--json",
        action="store_true",
        help='print JSON: {"schema_version": 1, "records": [...]}, one record per label (and case)',
    )
    p.add_argument("--csv", metavar="FILE", help="write the records as CSV (atomic write)")
    p.add_argument("--tolerance", metavar="MM", type=float, default=2.0, help="NSD tolerance in mm (default 2.0)")
    p.add_argument("--labels", metavar="L1,L2", help="labels to evaluate, e.g. 1,2 (default: all present)")
    p.add_argument(
        "--surface",
        choices=("voxel", "area"),
        default="voxel",
        help="surface elements: boundary voxels (MONAI, default) or area-weighted (DeepMind)",
    )
    p.add_argument(
        "--resample",
        action="store_true",
        help="resample the prediction onto the reference grid (nearest neighbour) when grids differ",
    )
    p.set_defaults(func=run)


def parse_labels(text: str | None) -> list[int] | None:
    """``"1,2"`` -> ``[1, 2]``; ``None`` -> ``None``."""
    from ..errors import MedsegError

    if text is None:
        return None
    try:
        labels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise MedsegError(f"--labels {text!r}: give whole numbers separated by commas, e.g. 1,2") from None
    if not labels or min(labels) < 1:
        raise MedsegError(f"--labels {text!r}: give labels >= 1 (0 is background), e.g. 1,2")
    return labels


def run(args) -> int:
    from ..io.folders import is_folder_of_cases
    from ..io.outputs import check_output_file

    options = {"labels": parse_labels(args.labels), "tolerance_mm": args.tolerance, "surface": args.surface}
    pred, ref = Path(args.pred), Path(args.ref)
    if args.csv:
        check_output_file(args.csv, [pred, ref])
    if is_folder_of_cases(pred) and is_folder_of_cases(ref):
        return _run_folders(args, pred, ref, options)
    return _run_pair(args, pred, ref, options)


def _run_pair(args, pred: Path, ref: Path, options: dict) -> int:
    from ..io import read_volume
    from ..metrics import evaluate_volumes
    from ..metrics.report import format_table, records_to_rows, write_csv
    from . import print_json

    evaluation = evaluate_volumes(read_volume(pred), read_volume(ref), resample=args.resample, **options)
    if evaluation.note:
        print(f"note: {evaluation.note}", file=sys.stderr)
    rows = records_to_rows(evaluation.records)
    if args.csv:
        write_csv(args.csv, rows)
    if args.json:
        print_json({"records": rows})
    else:
        print(format_table(evaluation.records))
    return 0


def _run_folders(args, pred: Path, ref: Path, options: dict) -> int:
    from ..metrics.folders import evaluate_folders
    from ..metrics.report import format_summary, records_to_rows, write_csv
    from ..metrics.summary import summarize
    from . import batch_status, print_json

    def on_case(i: int, n: int, name: str) -> None:
        print(f"[{i}/{n}] {name}", file=sys.stderr)

    result = evaluate_folders(pred, ref, resample=args.resample, on_case=on_case, **options)
    for path in result.unpaired_pred:
        print(f"unpaired prediction (no reference of that name): {path}", file=sys.stderr)
    for path in result.unpaired_ref:
        print(f"unpaired reference (no prediction of that name): {path}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for name, message in result.failures.items():
        print(f"failed: {name}: {message}", file=sys.stderr)
    rows = [row for name, records in result.cases.items() for row in records_to_rows(records, case=name)]
    if args.csv:
        write_csv(args.csv, rows)
    text = (
        f"{len(result.cases)} cases evaluated, {len(result.failures)} failed, "
        f"{len(result.unpaired_pred) + len(result.unpaired_ref)} unpaired\n" + format_summary(summarize(result.cases))
    )
    if args.json:
        print_json({"records": rows})
        print(text, file=sys.stderr)
    else:
        print(text)
    return batch_status(len(result.failures), len(result.failures) + len(result.cases))
