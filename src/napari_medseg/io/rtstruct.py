"""DICOM RT structure sets (RTSTRUCT) -> a label map on the referenced image's grid.

A structure set holds, per region of interest (ROI), planar contours in patient
coordinates (LPS mm), usually one or more per image slice, drawn by a planning system
or a person. :func:`read_structure_set` reads them; :func:`structures_to_labels` draws
them on a :class:`~napari_medseg.volume.Volume` (normally the series the set refers to).

Drawing rules, stated because tools differ:

* A voxel belongs to a contour when its centre is inside the polygon (even-odd rule).
  Several contours of one ROI on one slice combine by the same rule, so a contour inside
  another is a hole (as 3D Slicer's SlicerRT and plastimatch read them).
* Each contour is drawn on the image slice nearest to its plane. A contour that is not
  parallel to the image's slices, or lies outside the image, is skipped; a contour more
  than a tenth of a slice off the nearest plane (drawn on another series) is drawn there.
  Both are counted in a warning, never done silently.
* One voxel holds one label. Where ROIs overlap (a GTV inside its PTV), the smaller ROI
  is drawn last and keeps the voxel; the warnings say how many voxels each overlap took.
* ROIs without closed planar contours (``POINT`` markers such as an isocentre, or no
  contours at all) have no volume and get no label; a warning names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..colours import colour_of
from ..errors import VolumeReadError
from ..volume import Volume, smallest_label_dtype
from .dicom_refs import is_object_of, read_dataset, series_uids
from .overlaps import distinct, paint_largest_first

__all__ = [
    "RTSTRUCT_SOP_CLASS",
    "Structure",
    "StructureSet",
    "StructureLabels",
    "fill_contours",
    "read_structure_set",
    "structures_to_labels",
]

RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
#: A contour whose points spread more than this many slices along the slice axis is not parallel to the slices;
#: one whose plane is farther than this from the nearest slice plane is reported as moved onto it.
PLANE_TOL_SLICES = 0.1


@dataclass(frozen=True)
class Structure:
    """One ROI of a structure set.

    Attributes
    ----------
    number : int, ROINumber.
    name : str, ROIName.
    colour : str or None, ``#rrggbb`` from ROIDisplayColor.
    contours : tuple of (N, 3) float ndarrays, the CLOSED_PLANAR contours in LPS mm.
    other_contours : int, contours of other types (POINT, OPEN_PLANAR...), not drawn.
    """

    number: int
    name: str
    colour: str | None
    contours: tuple = ()
    other_contours: int = 0


@dataclass(frozen=True)
class StructureSet:
    """What an RTSTRUCT file holds.

    Attributes
    ----------
    path : Path
    label : str, StructureSetLabel.
    series_uids : tuple of str, the image series the contours were drawn on.
    frame_of_reference_uid : str
    structures : tuple of Structure, in the file's ROI order.
    """

    path: Path
    label: str
    series_uids: tuple[str, ...]
    frame_of_reference_uid: str
    structures: tuple[Structure, ...]


@dataclass
class StructureLabels:
    """Structures drawn on a volume's grid.

    Attributes
    ----------
    labels : (Z, Y, X) unsigned int ndarray, the volume's grid.
    names : dict int -> str, label value -> ROI name (only ROIs that were drawn).
    colours : dict int -> ``#rrggbb``: the ROI's display colour, or the default palette's.
    warnings : list of str
    """

    labels: np.ndarray
    names: dict[int, str]
    colours: dict[int, str]
    warnings: list[str] = field(default_factory=list)


def is_structure_set(ds) -> bool:
    """Whether a pydicom dataset is an RT structure set."""
    return is_object_of(ds, RTSTRUCT_SOP_CLASS, "RTSTRUCT")


def referenced_series_uids(ds) -> tuple[str, ...]:
    """SeriesInstanceUIDs an RTSTRUCT dataset refers to (ReferencedFrameOfReferenceSequence)."""
    return series_uids(
        series
        for frame in ds.get("ReferencedFrameOfReferenceSequence", [])
        for study in frame.get("RTReferencedStudySequence", [])
        for series in study.get("RTReferencedSeriesSequence", [])
    )


def _colour(value) -> str | None:
    try:
        r, g, b = (int(round(float(v))) for v in value)
    except (TypeError, ValueError):
        return None
    return "#{:02x}{:02x}{:02x}".format(*(min(max(c, 0), 255) for c in (r, g, b)))


def contour_points(contour) -> np.ndarray:
    """(N, 3) ContourData of a contour item, parsed from its raw text in one pass.

    pydicom turns each DS value into a Python object; for structure sets with hundreds of
    thousands of points that was 85 % of the reading time.
    """
    element = contour.get_item("ContourData") if "ContourData" in contour else None
    if element is None:
        return np.zeros((0, 3))
    value = element.value
    if isinstance(value, bytes):
        values = np.array(value.decode("ascii", "replace").replace("\\", " ").split(), dtype=float)
    else:  # already converted (a dataset built in memory)
        values = np.asarray([float(v) for v in (value if isinstance(value, (list, tuple)) else [value])], float)
    if values.size % 3:
        raise ValueError(f"ContourData holds {values.size} numbers, not (x, y, z) triples")
    return values.reshape(-1, 3)


def read_structure_set(path: str | Path, dataset=None) -> StructureSet:
    """Read the ROIs and contours of an RTSTRUCT file.

    Parameters
    ----------
    path : str or Path
    dataset : pydicom Dataset, optional
        The file already read (no second read).

    Raises
    ------
    VolumeReadError
        Not a readable RT structure set (one line naming the file).
    """

    path = Path(path)
    ds = read_dataset(path) if dataset is None else dataset
    if not is_structure_set(ds):
        raise VolumeReadError(f"{path}: not an RT structure set (Modality {ds.get('Modality', '?')!s})")
    try:
        rois = {
            int(r.ROINumber): str(r.get("ROIName", "") or f"ROI {r.ROINumber}")
            for r in ds.get("StructureSetROISequence", [])
        }
        structures = []
        for item in ds.get("ROIContourSequence", []):
            number = int(item.ReferencedROINumber)
            closed, other = [], 0
            for contour in item.get("ContourSequence", []):
                points = contour_points(contour)
                kind = str(contour.get("ContourGeometricType", "")).upper()
                if kind == "CLOSED_PLANAR" and len(points) >= 3:
                    closed.append(points)
                else:
                    other += 1
            structures.append(
                Structure(
                    number,
                    rois.pop(number, f"ROI {number}"),
                    _colour(item.get("ROIDisplayColor")),
                    tuple(closed),
                    other,
                )
            )
        structures += [Structure(n, name, None) for n, name in rois.items()]  # ROIs listed without contours
    except (AttributeError, ValueError, TypeError) as exc:
        raise VolumeReadError(f"{path}: invalid RT structure set ({exc})") from None
    frame = ds.get("ReferencedFrameOfReferenceSequence", [])
    return StructureSet(
        path,
        str(ds.get("StructureSetLabel", "") or ""),
        referenced_series_uids(ds),
        str(frame[0].get("FrameOfReferenceUID", "")) if frame else "",
        tuple(structures),
    )


def fill_contours(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centres lie inside ``polygons`` by the even-odd rule.

    Parameters
    ----------
    polygons : list of (N, 2) arrays
        Vertices as continuous (row, column) pixel indices, pixel centres at whole numbers;
        each polygon is closed implicitly. Overlapping polygons cancel (holes).
    shape : (rows, columns)

    Returns
    -------
    (rows, columns) bool ndarray
    """
    mask = np.zeros(shape, bool)
    (r0, c0), inside = _fill_in_bounds(polygons, shape)
    mask[r0 : r0 + inside.shape[0], c0 : c0 + inside.shape[1]] = inside
    return mask


def _fill_in_bounds(polygons: list[np.ndarray], shape: tuple[int, int]) -> tuple[tuple[int, int], np.ndarray]:
    """:func:`fill_contours` within the polygons' bounding box: its corner and its mask."""
    r1 = np.concatenate([p[:, 0] for p in polygons])
    c1 = np.concatenate([p[:, 1] for p in polygons])
    r2 = np.concatenate([np.roll(p[:, 0], -1) for p in polygons])
    c2 = np.concatenate([np.roll(p[:, 1], -1) for p in polygons])
    top, bottom = int(np.clip(np.ceil(r1.min()), 0, shape[0])), int(np.clip(np.ceil(r1.max()), 0, shape[0]))
    left, right = int(np.clip(np.ceil(c1.min()), 0, shape[1])), int(np.clip(np.ceil(c1.max()), 0, shape[1]))
    rows, cols = bottom - top, right - left
    low, high = np.minimum(r1, r2), np.maximum(r1, r2)
    first = np.clip(np.ceil(low), top, bottom).astype(np.int64)  # the rows r with low <= r < high
    stop = np.clip(np.ceil(high), top, bottom).astype(np.int64)
    counts = np.maximum(stop - first, 0)
    edge = np.repeat(np.arange(r1.size), counts)
    row = np.repeat(first, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    t = (row - r1[edge]) / (r2[edge] - r1[edge])
    x = c1[edge] + t * (c2[edge] - c1[edge])  # where the edge crosses the row
    start = np.clip(np.ceil(x) - left, 0, cols).astype(np.int64)  # columns c >= x are right of the crossing
    toggles = np.zeros((rows, cols + 1), np.int32)
    np.add.at(toggles, (row - top, start), 1)
    return (top, left), (np.cumsum(toggles[:, :cols], axis=1) & 1).astype(bool)


def _structure_voxels(
    structure: Structure, to_index: np.ndarray, shape: tuple[int, ...]
) -> tuple[np.ndarray, int, int]:
    """Flat voxel indices inside a structure; contours skipped; contours moved onto the nearest slice."""
    by_slice: dict[tuple[int, int], list[np.ndarray]] = {}
    skipped = moved = 0
    for points in structure.contours:
        ijk = points @ to_index[:3, :3].T + to_index[:3, 3]
        spread = ijk.max(axis=0) - ijk.min(axis=0)
        axis = int(np.argmin(spread))
        centre = float(ijk[:, axis].mean())
        index = int(round(centre))
        if spread[axis] > PLANE_TOL_SLICES or not 0 <= index < shape[axis]:
            skipped += 1
            continue
        moved += abs(centre - index) > PLANE_TOL_SLICES
        by_slice.setdefault((axis, index), []).append(np.delete(ijk, axis, axis=1))
    found = []
    for (axis, index), polygons in by_slice.items():
        rows_n, cols_n = (n for a, n in enumerate(shape) if a != axis)
        corner, box = _fill_in_bounds(polygons, (rows_n, cols_n))
        rows, cols = np.nonzero(box)
        if rows.size:
            full = [rows + corner[0], cols + corner[1]]
            full.insert(axis, np.full(rows.size, index))
            found.append(np.ravel_multi_index(full, shape))
    if not found:
        return np.zeros(0, np.int64), skipped, moved
    voxels = np.concatenate(found)
    if len({axis for axis, _ in by_slice}) > 1:  # contours along two axes may share voxels: drop repeats
        voxels = distinct(voxels)
    return voxels, skipped, moved


def structures_to_labels(structure_set: StructureSet, volume: Volume) -> StructureLabels:
    """Draw every ROI with closed contours on ``volume``'s grid, one label per ROI.

    Labels are numbered 1, 2, ... in the file's ROI order, counting only ROIs with closed
    contours. See the module docstring for the drawing rules.
    """
    to_index = np.linalg.inv(volume.affine)
    shape = volume.shape
    warnings: list[str] = []
    if (
        volume.meta.get("series_uid")
        and structure_set.series_uids
        and volume.meta["series_uid"] not in structure_set.series_uids
    ):
        warnings.append(
            f"{structure_set.path.name} was drawn on series {', '.join(structure_set.series_uids)}, "
            f"not on {volume.meta['series_uid']}: contours are placed by their mm coordinates"
        )
    drawn: list[tuple[int, np.ndarray]] = []
    no_volume: list[str] = []
    names: dict[int, str] = {}
    colours: dict[int, str] = {}
    for structure in structure_set.structures:
        if not structure.contours:
            no_volume.append(structure.name)
            continue
        voxels, skipped, moved = _structure_voxels(structure, to_index, shape)
        label = len(names) + 1
        names[label] = structure.name
        colours[label] = structure.colour or colour_of(label)
        if skipped:
            warnings.append(
                f"{structure.name}: {skipped} of {len(structure.contours)} contours are tilted to this "
                "image's slices or outside it; skipped"
            )
        if moved:
            warnings.append(
                f"{structure.name}: {moved} of {len(structure.contours)} contours lie between this "
                "image's slices; each drawn on the nearest slice"
            )
        if voxels.size == 0:
            warnings.append(f"{structure.name}: no voxel centre lies inside its contours on this image")
        drawn.append((label, voxels))
    if no_volume:
        warnings.append(
            f"{len(no_volume)} ROI(s) without closed contours have no volume and no label: " + ", ".join(no_volume)
        )
    labels = np.zeros(shape, smallest_label_dtype(np.array([len(names)])))
    flat = labels.reshape(-1)
    warnings += paint_largest_first(labels, [(label, voxels.size, [(flat, voxels)]) for label, voxels in drawn], names)
    return StructureLabels(labels, names, colours, warnings)
