"""``medseg segment --model litemedsam|medsam|FILE.pth``: box / point prompts for SAM models.

``cli/segment.py`` calls :func:`add_sam_arguments` on its parser and, when ``--model``
names a SAM model (:func:`~napari_medseg.models.registry.is_sam_model`), :func:`run_sam` with the read volume.

Prompts are voxel indices of INPUT *as stored in the file* (for NIfTI, nibabel's array
axes ``(i, j, k)``; for a DICOM series ITK's (column, row, slice)), K being the slice axis; they are
converted here to the volume's
(z, y, x) array order, and the slices are taken along whichever array axis file axis K
became.
"""

from __future__ import annotations

import numpy as np

from ..ct_windows import WINDOWS
from ..errors import MedsegError
from ..models.registry import SAM_TYPES
from ..volume import Volume
from .progress import TerminalProgress

__all__ = ["add_sam_arguments", "parse_box", "parse_points", "run_sam"]


def add_sam_arguments(parser) -> None:
    """Add ``--box``, ``--points``, ``--window``, ``--modality`` and ``--sam-type`` to a parser."""
    g = parser.add_argument_group("SAM prompts (--model litemedsam | medsam | FILE.pth)")
    g.add_argument(
        "--box",
        metavar="I0,J0,K0,I1,J1,K1",
        help="box corners in voxel indices of INPUT as stored in the file (NIfTI: i,j,k; DICOM series: "
        "column,row,slice); K is the slice axis. K0 == K1 segments that slice; otherwise the middle slice is "
        "prompted and the mask propagates through K0..K1",
    )
    g.add_argument(
        "--points",
        metavar="'I,J,K,+1;I,J,K,-1'",
        help="clicks in the same voxel indices, on any slice; +1 inside the structure, -1 outside. "
        "After a box they correct its result (+1 adds the region clicked, -1 removes it); "
        "alone, a +1 click segments the object under it through the slices it spans",
    )
    g.add_argument(
        "--window",
        metavar="PRESET|L,W",
        help=f"CT window: {', '.join(WINDOWS)} or LEVEL,WIDTH in HU (default: soft_tissue for CT)",
    )
    g.add_argument(
        "--modality",
        choices=("auto", "CT", "MR"),
        default="auto",
        help="intensity handling: CT is windowed, MR (any non-CT) clipped at the 0.5/99.5 "
        "percentiles; auto = CT when intensities reach -1000 HU",
    )
    g.add_argument(
        "--sam-type", choices=SAM_TYPES, default=None, help="architecture of a --model .pth file (default litemedsam)"
    )
    g.add_argument(
        "--labels",
        metavar="EXISTING",
        help="an existing label map on INPUT's grid (e.g. a propagated result): the prompts correct "
        "its label --label, other labels are kept, and the corrected map is written to --out",
    )
    g.add_argument(
        "--label",
        type=int,
        default=1,
        metavar="N",
        help="the label value written, or corrected with --labels (default 1)",
    )
    g.add_argument(
        "--adapter",
        metavar="ADAPTER_DIR",
        help="decode with an adapter made by `medseg adapt` for this structure (its --label)",
    )


def _numbers(text: str, n: int, what: str) -> list[float]:
    """``n`` comma-separated finite numbers from ``text``; a MedsegError naming ``what`` otherwise."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != n or not np.all(np.isfinite(values)):
        raise MedsegError(f"{what} {text!r}: expected {n} comma-separated finite numbers")
    return values


def parse_box(text: str) -> np.ndarray:
    """``"I0,J0,K0,I1,J1,K1"`` -> (2, 3) float array of file voxel indices."""
    return np.array(_numbers(text, 6, "--box")).reshape(2, 3)


def parse_points(text: str) -> np.ndarray:
    """``"I,J,K,+1;I,J,K,-1"`` -> (N, 4) float array (file voxel indices, label 1 or 0)."""
    rows = []
    for item in filter(None, (s.strip() for s in text.split(";"))):
        i, j, k, sign = _numbers(item, 4, "--points entry")
        if sign not in (1, -1):
            raise MedsegError(f"--points entry {item!r}: the last number must be +1 (inside) or -1 (outside)")
        rows.append([i, j, k, 1 if sign > 0 else 0])
    if not rows:
        raise MedsegError("--points: no point given")
    return np.array(rows)


def _to_array_indices(volume: Volume, ijk: np.ndarray) -> np.ndarray:
    """(N, 3) user (I, J, K) voxel indices -> (N, 3) indices of ``volume.array``."""
    file_indices = np.asarray(ijk, dtype=float)
    to_file = volume.file_order.index_transform(volume.file_shape)
    homogeneous = np.c_[file_indices, np.ones(len(file_indices))]
    return (np.linalg.inv(to_file) @ homogeneous.T).T[:, :3]


def _model_and_type(args) -> tuple[str, str | None]:
    model, sam_type = args.model, getattr(args, "sam_type", None)
    if model.lower() == "litemedsam":
        return "litemedsam", None
    if model.lower() == "medsam":
        raise MedsegError(
            "MedSAM's weights are not shipped; download medsam_vit_b.pth and pass "
            "--model medsam_vit_b.pth --sam-type medsam"
        )
    return sam_type or "litemedsam", model


def run_sam(args, volume: Volume) -> np.ndarray:
    """Segment ``volume`` from ``args.box`` / ``args.points``; a uint8 label array on its grid.

    Returns the (Z, Y, X) array in ``volume.array``'s order (``--label`` inside, or the
    ``--labels`` map corrected); write it with
    ``io.write_labels(out, labels, volume)`` to get INPUT's voxel order and affine back.
    """
    box_text, points_text = getattr(args, "box", None), getattr(args, "points", None)
    if not box_text and not points_text:
        raise MedsegError("SAM models need a prompt: --box I0,J0,K0,I1,J1,K1 and/or --points 'I,J,K,+1'")
    slice_axis = volume.file_order.perm.index(2)  # the array axis that the file's K became
    file_shape = np.asarray(volume.file_shape)  # sizes along I, J, K
    box = None
    if box_text:
        corners = parse_box(box_text)
        if np.any(corners < 0) or np.any(corners > file_shape - 1):
            raise MedsegError(
                f"--box {box_text}: outside INPUT, whose I,J,K run 0..{','.join(map(str, file_shape - 1))}"
            )
        box = _to_array_indices(volume, corners).ravel()
    points = None
    if points_text:
        raw = parse_points(points_text)
        if np.any(raw[:, :3] < 0) or np.any(raw[:, :3] > file_shape - 1):
            raise MedsegError(
                f"--points {points_text}: outside INPUT, whose I,J,K run 0..{','.join(map(str, file_shape - 1))}"
            )
        points = np.c_[_to_array_indices(volume, raw[:, :3]), raw[:, 3]]
    sam_type, checkpoint = _model_and_type(args)
    modality = None if getattr(args, "modality", "auto") in (None, "auto") else args.modality

    progress = TerminalProgress(getattr(args, "quiet", False), "SAM ", "slice").count

    existing = None
    if getattr(args, "labels", None):
        from ..io import read_volume

        existing = read_volume(args.labels)
        if existing.shape != volume.shape or not np.allclose(existing.affine, volume.affine, atol=1e-3):
            raise MedsegError(
                f"--labels {args.labels}: not on INPUT's grid (shape {existing.shape} vs {volume.shape}); "
                "give the label map written for INPUT"
            )
        existing = existing.array
    label = getattr(args, "label", 1)
    if label < 1 or (existing is None and label > 255):
        raise MedsegError(f"--label {label}: use a value from 1 to 255 (any positive value with --labels)")

    from ..models.sam import segment_box_3d

    return segment_box_3d(
        volume,
        box,
        slice_axis=slice_axis,
        points=points,
        labels=existing,
        label=label,
        model=sam_type,
        checkpoint=checkpoint,
        window=getattr(args, "window", None),
        modality=modality,
        device=getattr(args, "device", None) or "auto",
        progress=progress,
        adapter=getattr(args, "adapter", None),
    )
