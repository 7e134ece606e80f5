"""What ``medseg seg`` and ``medseg rtstruct`` share: their inputs, read and checked the same way."""

from __future__ import annotations


def add_arguments(p, out_help: str, names_help: str) -> None:
    """LABELS, --image, --series, --out and --names, as both commands take them."""
    p.add_argument("labels", help="label map on the series' grid (.nii.gz, .nrrd, .mha, ...)")
    p.add_argument("--image", required=True, help="the DICOM folder holding the series")
    p.add_argument("--series", help="SeriesInstanceUID when the folder holds several series")
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--names", metavar="1=NAME,2=NAME", help=names_help)


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


def read_inputs(args, what: str):
    """``(image, labels, names)`` for writing ``args.out``, a ``what`` (e.g. "a DICOM SEG").

    Raises
    ------
    MedsegError
        ``--out`` is no .dcm file or would overwrite an input; the label map is not on the series' grid.
    """
    from ..errors import MedsegError
    from ..io import read_volume
    from ..io.outputs import check_output_file

    if not args.out.lower().endswith(".dcm"):
        raise MedsegError(f"{args.out}: {what} is written as a .dcm file")
    check_output_file(args.out, [args.image, args.labels])
    names = parse_names(args.names)
    image = read_volume(args.image, series=args.series)
    labels = read_volume(args.labels)
    if not labels.same_grid(image):
        raise MedsegError(
            f"{args.labels} is not on the series' grid ({labels.describe_grid()} vs "
            f"{image.describe_grid()}); resample it onto the image first"
        )
    return image, labels, names
