"""Fill between slices: interpolate one label between the slices where it was drawn.

A user contours a structure on some slices along one axis (brush, SAM, another tool);
the slices between two consecutive contoured slices are filled by *signed-distance
interpolation*: each contoured slice becomes a 2D signed distance map in mm (negative
inside), the maps of two consecutive contoured slices are blended linearly by slice
position, and the blend's negative part is the interpolated cross-section. A disc of
radius r0 and one of radius r1 give discs of linearly changing radius in between. Where
both slices hold a single blob, the two maps are first moved so that the blob's centroid
travels in a straight line, so a structure
shifting sideways between slices keeps its size; shapes with several components or holes
blend as they are, component by component where they overlap.

Only voxels that are background (0) are written: other labels and the contoured
slices are never touched. ``benchmarks/bench_interpolate.py`` compares this with ITK's
MorphologicalContourInterpolator (3D Slicer's "fill between slices").
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
from scipy import ndimage as ndi

from .errors import MedsegError

__all__ = [
    "contoured_slices",
    "fill_between_slices",
    "interpolation_mask",
    "signed_distance_2d",
    "single_blob_centroid",
]


def contoured_slices(labels: np.ndarray, label: int, axis: int) -> np.ndarray:
    """Indices along ``axis`` of the slices that hold at least one voxel of ``label``.

    Parameters
    ----------
    labels : (Z, Y, X) integer ndarray (any 3D axis order)
    label : int, the structure's value (> 0)
    axis : int, 0, 1 or 2: the axis the slices are taken across

    Returns
    -------
    1D ndarray of int, increasing.
    """
    other = tuple(a for a in range(labels.ndim) if a != axis)
    return np.flatnonzero((labels == label).any(axis=other))


def signed_distance_2d(mask: np.ndarray, spacing: Sequence[float] = (1.0, 1.0)) -> np.ndarray:
    """Signed distance (mm) of each pixel to the mask's border: negative inside, positive outside.

    Distances are between pixel centres, so a pixel just inside the border is at
    ``-spacing`` and one just outside at ``+spacing``; the zero level runs half-way
    between them, on the drawn border.

    Parameters
    ----------
    mask : (rows, cols) bool ndarray with at least one True pixel; pixels beyond its
        edges count as outside
    spacing : (row spacing, column spacing) in mm
    """
    padded = np.pad(np.asarray(mask, bool), 1)
    signed = ndi.distance_transform_edt(~padded, sampling=spacing) - ndi.distance_transform_edt(
        padded, sampling=spacing
    )
    return signed[1:-1, 1:-1]


def _bounding_box(structure: np.ndarray, axis: int, margin: Sequence[int]) -> tuple[slice, ...]:
    """In-plane bounding box of ``structure`` (all slices along ``axis``), ``margin`` voxels wider each side."""
    box, planes = [], iter(margin)
    for a in range(structure.ndim):
        if a == axis:
            box.append(slice(None))
            continue
        other = tuple(b for b in range(structure.ndim) if b != a)
        hits = np.flatnonzero(structure.any(axis=other))
        m = next(planes)
        box.append(slice(max(int(hits[0]) - m, 0), int(hits[-1]) + 1 + m))
    return tuple(box)


def single_blob_centroid(mask: np.ndarray) -> np.ndarray | None:
    """(row, column) centroid in pixels of a 2D mask made of one connected blob; None otherwise."""
    if ndi.label(mask)[1] != 1:
        return None
    return np.array(ndi.center_of_mass(mask))


def _shifts(centroids: dict[int, np.ndarray | None], slices: np.ndarray) -> dict[int, np.ndarray]:
    """Centroid displacement (pixels) from each contoured slice to the next, where both are one blob."""
    out = {}
    for k0, k1 in pairwise(int(k) for k in slices):
        if k1 - k0 > 1 and centroids[k0] is not None and centroids[k1] is not None:
            out[k0] = centroids[k1] - centroids[k0]
    return out


def interpolation_mask(
    labels: np.ndarray, label: int, axis: int, spacing: Sequence[float] = (1.0, 1.0, 1.0)
) -> np.ndarray:
    """The background voxels that filling ``label`` between its contoured slices sets.

    For each pair of consecutive contoured slices ``k0 < k1`` along ``axis`` (see
    :func:`contoured_slices`) with slices between them, slice ``k`` in between takes the
    pixels where ``(1 - t) * d0 + t * d1 < 0``, ``t = (k - k0) / (k1 - k0)``, ``d0`` and
    ``d1`` being the signed distance maps (:func:`signed_distance_2d`) of the two slices.
    When both slices hold one blob each, the maps are first moved so that their centroids
    meet at the point ``t`` of the way from one to the other: a structure that moves
    sideways between the slices (a vessel, a bending tube) keeps its size instead of
    thinning where the two outlines barely overlap.

    Parameters
    ----------
    labels : (Z, Y, X) integer ndarray (any 3D axis order; ``spacing`` follows it)
    label : int > 0, the structure to fill
    axis : int, 0, 1 or 2, the axis the contoured slices are taken across
    spacing : voxel size in mm along the three array axes (only the two in-plane
        ones matter: the blend is by slice position)

    Returns
    -------
    bool ndarray, ``labels.shape``: True where ``label`` should be written. Never True
    on a voxel that holds any label (0 elsewhere).

    Raises
    ------
    MedsegError
        Not a 3D array, a bad axis or label, or fewer than two contoured slices.
    """
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise MedsegError(f"fill between slices needs a 3D label volume; got shape {labels.shape}")
    if axis not in (0, 1, 2):
        raise MedsegError(f"axis must be 0, 1 or 2; got {axis}")
    if int(label) <= 0:
        raise MedsegError(f"label must be a structure value > 0; got {label}")
    slices = contoured_slices(labels, label, axis)
    if len(slices) < 2:
        raise MedsegError(
            f"label {label} is drawn on {len(slices)} slice(s) along axis {axis}; "
            "draw it on at least two slices to fill between them"
        )
    out = np.zeros(labels.shape, bool)
    structure = labels == label
    planes = np.moveaxis(structure, axis, 0)
    shifts = _shifts({int(k): single_blob_centroid(planes[k]) for k in slices}, slices)
    reach = np.max(np.abs(list(shifts.values())), axis=0) if shifts else np.zeros(2)
    box = _bounding_box(structure, axis, [1 + int(np.ceil(r)) for r in reach])  # room for the moved maps
    plane_spacing = [float(s) for a, s in enumerate(spacing) if a != axis]
    sub_labels = np.moveaxis(labels[box], axis, 0)
    sub_structure = np.moveaxis(structure[box], axis, 0)
    sub_out = np.moveaxis(out[box], axis, 0)  # a view into ``out``
    distances: dict[int, np.ndarray] = {}

    def distance(k: int) -> np.ndarray:
        if k not in distances:
            distances[k] = signed_distance_2d(sub_structure[k], plane_spacing)
        return distances[k]

    for k0, k1 in pairwise(int(k) for k in slices):
        if k1 - k0 < 2:
            continue
        d0, d1 = distance(k0), distance(k1)
        for k in range(k0 + 1, k1):
            t = (k - k0) / (k1 - k0)
            a, b = d0, d1
            if k0 in shifts:
                a = ndi.shift(d0, t * shifts[k0], order=1, mode="nearest")
                b = ndi.shift(d1, -(1.0 - t) * shifts[k0], order=1, mode="nearest")
            sub_out[k] = ((1.0 - t) * a + t * b < 0) & (sub_labels[k] == 0)
        distances.pop(k0, None)
    return out


def fill_between_slices(
    labels: np.ndarray, label: int, axis: int, spacing: Sequence[float] = (1.0, 1.0, 1.0)
) -> np.ndarray:
    """A copy of ``labels`` with ``label`` filled between its contoured slices along ``axis``.

    See :func:`interpolation_mask` for the method, parameters and errors; voxels of other
    labels and the contoured slices are unchanged.
    """
    filled = np.array(labels, copy=True)
    filled[interpolation_mask(labels, label, axis, spacing)] = label
    return filled
