"""``medseg segment INPUT --model NAME_OR_PATH --out OUT``: automatic or prompted segmentation.

INPUT a volume and OUT a label file: one case. INPUT a folder of cases (volume files,
DICOM series sub-folders) and OUT a folder: every case, by :func:`napari_medseg.batch.segment_folder`,
here or on a Dask cluster (``--scheduler``). U-Net style models (MONAI bundles, checkpoints,
``brain-tissue``) run through
:func:`napari_medseg.models.segment.segment_volume`; SAM models (``litemedsam``,
``medsam``, a ``.pth`` with ``--sam-type``) through ``cli.sam_segment.run_sam`` with box
/ point prompts. OUT is written on INPUT's grid (voxel order and affine of the file). Importing this module
imports neither torch nor MONAI (``medseg --help`` stays fast); they load when a model runs.
"""

from __future__ import annotations

import sys

from ..library_warnings import quiet_model_run
from ..models.registry import DEVICES, is_sam_model
from .progress import TerminalProgress
from .sam_segment import add_sam_arguments


def add_parser(sub) -> None:
    p = sub.add_parser(
        "segment",
        help="segment a volume with a MONAI bundle/checkpoint or a SAM model",
        description="Segment INPUT and write the labels on INPUT's grid.",
    )
    p.add_argument(
        "input", help="NIfTI / NRRD / MHA file or DICOM folder; or a folder of such cases (with --out a folder)"
    )
    p.add_argument(
        "--model",
        required=True,
        help="brain-tissue, litemedsam, a bundle folder or a checkpoint .json/.yaml (see `medseg models`)",
    )
    p.add_argument(
        "--out",
        required=True,
        help="output label file (.nii.gz, .nii, .nrrd, .mha); for a folder of cases, "
        "an output folder (OUT/<case>.nii.gz and OUT/segment_report.csv)",
    )
    p.add_argument(
        "--device", choices=DEVICES, default="auto", help="where the network runs (default: auto = cuda > mps > cpu)"
    )
    p.add_argument(
        "--trust-bundle",
        action="store_true",
        help="trust this user bundle's config code (remembered by its content hash)",
    )
    p.add_argument("--series", help="SeriesInstanceUID to pick in a DICOM folder with several series")
    p.add_argument(
        "--argmax-first",
        dest="argmax_first",
        action="store_true",
        default=None,
        help="bundles: take the argmax before Invertd (nearest neighbour back to INPUT's grid); faster, "
        "differs from the bundle on boundary voxels when it resamples (default: only for >= 8 classes)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="run even when INPUT does not match what the model's card expects (e.g. a brain MRI model on CT)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument(
        "--overwrite", action="store_true", help="folders: segment cases whose output exists (default: skip)"
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="folders: run cases on a Dask cluster, e.g. tcp://host:8786 "
        "(needs `pip install distributed`; paths must be shared)",
    )
    add_sam_arguments(p)
    p.set_defaults(func=run)


def _is_sam(args) -> bool:
    return is_sam_model(args.model, getattr(args, "sam_type", None))


def run(args) -> int:
    from ..io import check_write_suffix, read_volume, write_labels
    from ..io.folders import VOLUME_SUFFIXES, is_folder_of_cases
    from ..metrics.report import describe_volumes

    if is_folder_of_cases(args.input) and not args.out.lower().endswith(VOLUME_SUFFIXES):
        return run_folder(args)
    from ..io.outputs import check_output_file

    check_write_suffix(args.out)  # before the model runs, not after
    if getattr(args, "adapter", None) and not _is_sam(args):
        from ..errors import MedsegError

        raise MedsegError("--adapter works with SAM models (--model litemedsam); see `medseg adapt`")
    check_output_file(args.out, [args.input])
    volume = read_volume(args.input, series=args.series)
    if _is_sam(args):
        from .sam_segment import run_sam

        labels = run_sam(args, volume)
        write_labels(args.out, labels, volume)
        return 0
    check_model_card(args.model, volume, args.force)
    from ..models.segment import segment_volume

    with quiet_model_run():  # MONAI deprecation chatter is not for users
        result = segment_volume(
            volume,
            args.model,
            device=args.device,
            trust_bundle=args.trust_bundle,
            progress=TerminalProgress(args.quiet, "segment "),
            argmax_first=args.argmax_first,
        )
    path = write_labels(args.out, result.labels, volume, result.label_names, result.colours)  # + names sidecar
    if not args.quiet:
        for message in result.messages:
            print(f"note: {message}", file=sys.stderr)
        print(
            f"wrote {path} in {result.seconds:.1f} s on {result.device}: "
            f"{describe_volumes(result.labels, volume.spacing, result.label_names)}",
            file=sys.stderr,
        )
    return 0


def check_model_card(model: str, volume, force: bool) -> None:
    """Refuse (or, with ``--force``, warn on stderr) when the image does not match the model's card."""
    from ..errors import MedsegError
    from ..models.model_card import card_of, mismatches

    found = mismatches(card_of(model), volume)
    if found and not force:
        raise MedsegError(
            f"{model}: {'; '.join(found)}; its results would be meaningless. Add --force to run it anyway"
        )
    for reason in found:
        print(f"warning: {model}: {reason} (running anyway: --force)", file=sys.stderr)


def run_folder(args) -> int:
    """Every case of the INPUT folder into the OUT folder; exit 1 when a case failed."""
    from ..batch import REPORT_NAME, VOLUMES_NAME, segment_folder
    from ..errors import MedsegError

    if _is_sam(args):
        raise MedsegError("prompted SAM models need a box or points per case; run them one volume at a time")
    client = None
    if args.scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise MedsegError("--scheduler needs Dask's distributed package: pip install distributed") from None
        try:
            client = Client(args.scheduler, timeout="20s")
        except OSError as exc:
            raise MedsegError(f"--scheduler {args.scheduler}: cannot reach the Dask scheduler ({exc})") from None

    def on_case(done: int, total: int, result) -> None:
        if not args.quiet:
            extra = f": {result.message}" if result.status == "failed" else ""
            print(f"[{done}/{total}] {result.case}: {result.status} ({result.seconds:.1f} s){extra}", file=sys.stderr)

    try:
        with quiet_model_run():
            results = segment_folder(
                args.input,
                args.out,
                args.model,
                device=args.device,
                trust_bundle=args.trust_bundle,
                argmax_first=args.argmax_first,
                overwrite=args.overwrite,
                client=client,
                on_case=on_case,
            )
    finally:
        if client is not None:
            client.close()
    from . import batch_status

    failed = [r for r in results if r.status == "failed"]
    counts = ", ".join(f"{sum(r.status == s for r in results)} {s}" for s in ("done", "skipped", "failed"))
    report = f"{args.out.rstrip('/')}/{REPORT_NAME}"
    if failed:
        print(f"medseg segment: {len(failed)} of {len(results)} cases failed ({counts}); see {report}", file=sys.stderr)
        return batch_status(len(failed), len(results))
    if not args.quiet:
        print(f"{counts}; report {report}, volumes {args.out.rstrip('/')}/{VOLUMES_NAME}", file=sys.stderr)
    return 0
