"""DICOM Segmentation objects (SEG) -> a label map on the referenced image's grid.

A SEG stores, per segment, frames of a mask (BINARY: one bit per pixel; FRACTIONAL: a
probability or occupancy 0..MaximumFractionalValue; LABELMAP: the segment number per
pixel), each frame with its own plane position in patient coordinates (LPS mm) and the
segment it belongs to. Frames may come in any order and empty frames are usually left
out. :func:`read_segmentation` reads the file; :func:`segmentation_to_labels` places each
frame on a :class:`~napari_medseg.volume.Volume`'s grid by its position, so the frame
order and the frames' plane (axial frames on a sagittal series, flipped rows) do not matter.

Reading rules, stated because tools differ:

* Label value = SegmentNumber, so a SEG written from a label map reads back with the
  same values (highdicom, 3D Slicer and dcmqi number segments the same way).
* A FRACTIONAL frame counts a pixel in when its value is at least half of
  MaximumFractionalValue (probability >= 0.5, as dcmqi and highdicom threshold it).
* One voxel holds one label: where segments overlap the smaller one is shown and a
  warning says how many voxels it took (:mod:`.overlaps`).
* The frames must lie on the image's voxel grid (same pixel spacing, planes along its
  axes, positions on whole voxels to a tenth of a voxel): a SEG made on another grid is
  refused with a message, never resampled silently. Frames outside the image are counted
  in a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..colours import colour_of
from ..errors import VolumeReadError
from ..volume import Volume, smallest_label_dtype
from .dicom_refs import is_object_of, read_dataset, series_uids
from .overlaps import paint_largest_first
from .rtstruct import StructureLabels

if TYPE_CHECKING:
    from pydicom import Dataset

__all__ = [
    "SEG_SOP_CLASS",
    "Segment",
    "Segmentation",
    "is_segmentation",
    "read_segmentation",
    "seg_referenced_series_uids",
    "segmentation_to_labels",
]

SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
#: Largest distance (in voxels) of a frame's pixel from the image's voxel centres that still counts as on the grid.
GRID_TOL_VOXELS = 0.1


@dataclass(frozen=True)
class Segment:
    """One segment of a SEG: its number, SegmentLabel and display colour (``#rrggbb`` or None)."""

    number: int
    name: str
    colour: str | None


@dataclass(frozen=True)
class Segmentation:
    """What a SEG file holds.

    Attributes
    ----------
    path : Path
    label : str, ContentLabel (or SeriesDescription).
    series_uids : tuple of str, the image series it was drawn on.
    kind : str, SegmentationType (BINARY, FRACTIONAL or LABELMAP).
    segments : tuple of Segment, in the file's order.
    dataset : pydicom Dataset, the whole file (its frames are decoded when drawn).
    """

    path: Path
    label: str
    series_uids: tuple[str, ...]
    kind: str
    segments: tuple[Segment, ...]
    dataset: Dataset


def is_segmentation(ds) -> bool:
    """Whether a pydicom dataset is a DICOM Segmentation (SEG)."""
    return is_object_of(ds, SEG_SOP_CLASS, "SEG")


def seg_referenced_series_uids(ds) -> tuple[str, ...]:
    """SeriesInstanceUIDs a SEG refers to (ReferencedSeriesSequence, in this study or others)."""
    items = list(ds.get("ReferencedSeriesSequence", []))
    for study in ds.get("StudiesContainingOtherReferencedInstancesSequence", []):
        items += list(study.get("ReferencedSeriesSequence", []))
    return series_uids(items)


def _lab_colour(value) -> str | None:
    """``#rrggbb`` of a RecommendedDisplayCIELabValue (three 16-bit scaled L*a*b* values)."""
    from highdicom.color import CIELabColor

    try:
        r, g, b = CIELabColor.from_dicom_value(tuple(int(v) for v in value)).to_rgb()
    except (TypeError, ValueError):
        return None
    return f"#{r:02x}{g:02x}{b:02x}"


def read_segmentation(path: str | Path) -> Segmentation:
    """Read a SEG file: its segments and referenced series (frames are decoded when drawn).

    Raises
    ------
    VolumeReadError
        Not a readable DICOM SEG (one line naming the file).
    """

    path = Path(path)
    ds = read_dataset(path)
    if not is_segmentation(ds):
        raise VolumeReadError(f"{path}: not a DICOM SEG (Modality {ds.get('Modality', '?')!s})")
    segments = []
    try:
        for item in ds.get("SegmentSequence", []):
            number = int(item.SegmentNumber)
            colour = item.get("RecommendedDisplayCIELabValue")
            segments.append(
                Segment(
                    number,
                    str(item.get("SegmentLabel", "") or f"segment {number}"),
                    None if colour is None else _lab_colour(colour),
                )
            )
    except (AttributeError, ValueError, TypeError) as exc:
        raise VolumeReadError(f"{path}: invalid DICOM SEG ({exc})") from None
    if not segments:
        raise VolumeReadError(f"{path}: a DICOM SEG without segments (empty SegmentSequence)")
    label = str(ds.get("ContentLabel", "") or ds.get("SeriesDescription", "") or "")
    return Segmentation(
        path,
        label,
        seg_referenced_series_uids(ds),
        str(ds.get("SegmentationType", "BINARY")).upper(),
        tuple(segments),
        ds,
    )


def _functional(ds, frame_item, sequence: str, keyword: str):
    """A value of a functional group macro: per-frame first, then shared."""
    shared = ds.get("SharedFunctionalGroupsSequence")
    for groups in (frame_item, shared[0] if shared else None):
        if groups is not None and sequence in groups and groups[sequence].value:
            item = groups[sequence][0]
            if keyword in item:
                return item[keyword].value
    return None


def _frames(seg: Segmentation) -> np.ndarray:
    """The decoded frames, (frames, rows, columns), whatever the transfer syntax."""
    ds = seg.dataset
    try:
        arr = ds.pixel_array
    except Exception as exc:  # pydicom raises many types; the message is what matters
        raise VolumeReadError(f"{seg.path}: cannot decode the SEG's frames ({' '.join(str(exc).split())})") from None
    return arr.reshape(-1, int(ds.Rows), int(ds.Columns))


def _frame_grid(seg: Segmentation, to_index: np.ndarray, frame_item) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where a frame lies on the image grid: index of pixel (0, 0) and the index steps per column and per row."""
    ds = seg.dataset
    iop = _functional(ds, frame_item, "PlaneOrientationSequence", "ImageOrientationPatient")
    spacing = _functional(ds, frame_item, "PixelMeasuresSequence", "PixelSpacing")
    position = _functional(ds, frame_item, "PlanePositionSequence", "ImagePositionPatient")
    if iop is None or spacing is None or position is None:
        raise VolumeReadError(f"{seg.path}: a SEG frame without plane position, orientation or pixel spacing")
    iop, (dy, dx) = np.asarray(iop, float), (float(spacing[0]), float(spacing[1]))
    step_column = to_index[:3, :3] @ (iop[:3] * dx)  # moving one column along the frame's rows
    step_row = to_index[:3, :3] @ (iop[3:] * dy)
    origin = to_index[:3, :3] @ np.asarray(position, float) + to_index[:3, 3]
    return origin, step_column, step_row


def _on_grid(values: np.ndarray) -> bool:
    return bool(np.abs(values - np.round(values)).max() <= GRID_TOL_VOXELS)


def _placement(
    labels: np.ndarray, origin: np.ndarray, step_column: np.ndarray, step_row: np.ndarray, frame_shape: tuple[int, int]
) -> tuple[np.ndarray, tuple, bool] | None:
    """Where a frame lands in ``labels``: a 2D view of it, the frame's matching (row, column) slices, and
    whether the view is the frame transposed. None when the frame lies wholly outside.

    ``origin`` is the (z, y, x) index of the frame's pixel (0, 0); ``step_column`` and
    ``step_row`` are unit index vectors (one axis, sign +-1) of moving one column or one row.
    """
    o = np.round(origin).astype(int)
    a, b = int(np.argmax(np.abs(step_column))), int(np.argmax(np.abs(step_row)))
    sa, sb = int(np.sign(step_column[a])), int(np.sign(step_row[b]))
    c = 3 - a - b
    if not 0 <= o[c] < labels.shape[c]:
        return None
    windows = []  # per frame axis (rows along b, columns along a): frame slice and target slice
    for n, axis, sign in ((frame_shape[0], b, sb), (frame_shape[1], a, sa)):
        k = np.arange(n)
        target = o[axis] + sign * k
        keep = k[(target >= 0) & (target < labels.shape[axis])]
        if keep.size == 0:
            return None
        lo, hi = int(keep[0]), int(keep[-1]) + 1
        t0, t1 = sorted((o[axis] + sign * lo, o[axis] + sign * (hi - 1)))
        windows.append((slice(lo, hi) if sign > 0 else slice(hi - 1, lo - 1 if lo else None, -1), slice(t0, t1 + 1)))
    index: list = [slice(None)] * 3
    index[c], index[b], index[a] = o[c], windows[0][1], windows[1][1]
    return labels[tuple(index)], (windows[0][0], windows[1][0]), b > a  # view axes run (min(a,b), max(a,b))


def _cropped(view: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``view`` and ``mask`` (2D, same shape) cut to the mask's bounding box: painting touches only that."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    return view[box], mask[box]


def segmentation_to_labels(seg: Segmentation, volume: Volume) -> StructureLabels:
    """Place every segment's frames on ``volume``'s grid, one label per segment (its number).

    See the module docstring for the rules.

    Raises
    ------
    VolumeReadError
        The frames do not lie on the volume's voxel grid.
    """
    ds = seg.dataset
    to_index = np.linalg.inv(volume.affine)  # LPS mm -> (z, y, x) index of the volume's array
    shape = volume.shape
    frames = _frames(seg)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or [None] * len(frames)
    if len(per_frame) != len(frames):
        raise VolumeReadError(f"{seg.path}: {len(frames)} frames but {len(per_frame)} per-frame descriptions")
    warnings: list[str] = []
    if volume.meta.get("series_uid") and seg.series_uids and volume.meta["series_uid"] not in seg.series_uids:
        warnings.append(
            f"{seg.path.name} was made on series {', '.join(seg.series_uids)}, not on "
            f"{volume.meta['series_uid']}: frames are placed by their mm coordinates"
        )
    numbers = {s.number for s in seg.segments}
    fractional_cut = 0.5 * float(ds.get("MaximumFractionalValue", 255) or 255)
    labels = np.zeros(shape, smallest_label_dtype(np.array([max(numbers)])))
    pieces: dict[int, list] = {n: [] for n in numbers}
    sizes = dict.fromkeys(numbers, 0)
    outside = 0
    for f, item in enumerate(per_frame):
        origin, step_column, step_row = _frame_grid(seg, to_index, item)
        if not (
            _on_grid(origin)
            and _on_grid(step_column)
            and _on_grid(step_row)
            and np.abs(np.round(step_column)).sum() == 1
            and np.abs(np.round(step_row)).sum() == 1
        ):
            raise VolumeReadError(
                f"{seg.path}: its frames are not on this image's voxel grid "
                f"({volume.describe_grid()}); open it with the series it was made on"
            )
        frame = frames[f]
        if seg.kind == "LABELMAP":
            present = np.flatnonzero(np.bincount(frame.ravel().astype(np.int64)))
            masks = [(int(n), frame == n) for n in present if int(n) in numbers]
        else:
            segment = _functional(ds, item, "SegmentIdentificationSequence", "ReferencedSegmentNumber")
            if seg.kind == "FRACTIONAL":
                mask = frame >= fractional_cut
            else:  # BINARY: 0/1 bytes, viewed as booleans without a copy
                mask = frame.view(bool) if frame.dtype == np.uint8 else frame > 0
            masks = [(int(segment), mask)] if segment is not None and int(segment) in numbers else []
        place = _placement(labels, origin, np.round(step_column), np.round(step_row), frame.shape) if masks else None
        for number, mask in masks:
            if place is None:
                outside += int(np.count_nonzero(mask))
                continue
            view, window, transposed = place
            inside = mask[window].T if transposed else mask[window]
            n_inside = int(np.count_nonzero(inside))
            outside += int(np.count_nonzero(mask)) - n_inside
            if n_inside:
                pieces[number].append(_cropped(view, inside))
                sizes[number] += n_inside
    if outside:
        warnings.append(f"{outside} segmented pixels of {seg.path.name} lie outside this image; left out")
    names = {s.number: s.name for s in seg.segments}
    colours = {s.number: s.colour or colour_of(s.number) for s in seg.segments}
    warnings += paint_largest_first(labels, [(n, sizes[n], pieces[n]) for n in numbers], names)
    return StructureLabels(labels, names, colours, warnings)
