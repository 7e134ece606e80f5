"""Stacking DICOM slices into a volume: sorting, slice spacing, and what is wrong with them.

Pure functions over header values (no file access). Coordinates are DICOM patient
LPS in millimetres; ``iop`` is ImageOrientationPatient (row cosines, then column
cosines) and a position is ImagePositionPatient (centre of the first transmitted
pixel).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "StackGeometry",
    "slice_normal",
    "same_orientation",
    "stack_geometry",
    "stack_affine",
    "in_plane_offsets",
    "untilt_stack",
]

ORIENTATION_TOL = 1e-3  # max difference between direction cosines of one stack
DUPLICATE_TOL_MM = 1e-3  # two slices closer than this along the normal share a position
UNEVEN_REL_TOL = 0.01  # a gap differing from the median by more than 1 % ...
UNEVEN_ABS_TOL_MM = 0.01  # ... and by more than 0.01 mm is reported
TILT_TOL_DEG = 0.01  # steps tilted less than this from the normal are not reported


def slice_normal(iop) -> np.ndarray:
    """Unit slice normal (LPS) of ImageOrientationPatient: row cosines x column cosines.

    Parameters
    ----------
    iop : sequence of 6 float
        Row direction cosines (along a row, i.e. towards increasing column index)
        followed by column direction cosines (towards increasing row index).
    """
    iop = np.asarray(iop, dtype=float)
    normal = np.cross(iop[:3], iop[3:6])
    return normal / np.linalg.norm(normal)


def same_orientation(iop_a, iop_b, tol: float = ORIENTATION_TOL) -> bool:
    """True when two ImageOrientationPatient values agree within ``tol`` per cosine."""
    return bool(np.max(np.abs(np.asarray(iop_a, float) - np.asarray(iop_b, float))) <= tol)


@dataclass
class StackGeometry:
    """How slices of one orientation stack into a volume.

    Attributes
    ----------
    order : (K,) ndarray of int
        Indices of the kept input slices, sorted by increasing position along the
        slice normal (duplicates removed: the first of equal positions is kept).
    distances_mm : (K,) ndarray of float
        Position of each kept slice along the normal, in sorted order (mm).
    spacing_mm : float
        Slice spacing used for the affine: the median gap between sorted slices.
    dropped : list of int
        Input indices dropped because their position duplicates a kept slice.
    tilt_deg : float
        Largest angle between a slice-to-slice step and the normal (gantry tilt).
    warnings : list of str
        Human-readable reports of uneven spacing, duplicates and tilt.
    """

    order: np.ndarray
    distances_mm: np.ndarray
    spacing_mm: float
    dropped: list[int] = field(default_factory=list)
    tilt_deg: float = 0.0
    warnings: list[str] = field(default_factory=list)


def stack_geometry(positions, iop, fallback_spacing_mm: float = 1.0, priority=None) -> StackGeometry:
    """Sort slices along the normal, take the spacing from the positions and check them.

    Parameters
    ----------
    positions : (N, 3) array_like of float
        ImagePositionPatient of each slice, LPS mm, in any order.
    iop : sequence of 6 float
        The stack's ImageOrientationPatient.
    fallback_spacing_mm : float
        Spacing used when there is a single slice (e.g. SpacingBetweenSlices or
        SliceThickness).
    priority : (N,) array_like, optional
        Among slices sharing a position, the one with the smallest value is kept
        (e.g. InstanceNumber). Defaults to input order.

    Returns
    -------
    StackGeometry
        Never sorted by InstanceNumber or file name: only by position along the
        normal. Uneven spacing is kept as is (not resampled) and reported; the
        affine then uses the median gap, like a scanner's nominal spacing, and the
        warning says which gap (in mm) differs.
    """
    positions = np.asarray(positions, dtype=float).reshape(-1, 3)
    normal = slice_normal(iop)
    dist = positions @ normal
    n = len(dist)
    prio = np.arange(n) if priority is None else np.asarray(priority, dtype=float)
    order = np.lexsort((prio, dist))
    kept, dropped = [int(order[0])], []
    for idx in order[1:]:
        if dist[idx] - dist[kept[-1]] <= DUPLICATE_TOL_MM:
            dropped.append(int(idx))
        else:
            kept.append(int(idx))
    kept_arr = np.array(kept)
    d = dist[kept_arr]
    warnings: list[str] = []
    if dropped:
        warnings.append(
            f"{len(dropped)} slice(s) duplicate the position of another slice (e.g. at "
            f"{dist[dropped[0]]:.2f} mm along the normal); kept one image per position (lowest "
            f"InstanceNumber). Several time points or acquisitions in one series?"
        )
    if len(d) < 2:
        return StackGeometry(kept_arr, d, float(fallback_spacing_mm), dropped, 0.0, warnings)
    gaps = np.diff(d)
    spacing = float(np.median(gaps))
    tol = max(UNEVEN_ABS_TOL_MM, UNEVEN_REL_TOL * spacing)
    odd = np.flatnonzero(np.abs(gaps - spacing) > tol)
    if odd.size:
        shown = ", ".join(
            f"{gaps[i]:.3g} mm between slices {i} and {i + 1} ({d[i]:.2f} -> {d[i + 1]:.2f} mm)" for i in odd[:3]
        )
        more = f" and {odd.size - 3} more" if odd.size > 3 else ""
        missing = int(np.sum(np.round(gaps[odd] / spacing) - 1).clip(0))
        hint = f"; about {missing} slice(s) missing" if missing else ""
        warnings.append(
            f"uneven slice spacing: median gap {spacing:.4g} mm, but {shown}{more}{hint}. "
            f"The volume is stacked at {spacing:.4g} mm, so positions past these gaps are off "
            f"by up to {np.abs(d - d[0] - spacing * np.arange(len(d))).max():.3g} mm"
        )
    steps = np.diff(positions[kept_arr], axis=0)
    cosang = np.abs(steps @ normal) / np.linalg.norm(steps, axis=1)
    tilt = float(np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0))).max())
    if tilt > TILT_TOL_DEG:
        shear = float(np.linalg.norm(positions[kept_arr[-1]] - positions[kept_arr[0]] - normal * (d[-1] - d[0])))
        warnings.append(
            f"gantry tilt of {tilt:.2f} degrees: slice positions do not follow the slice normal; "
            f"each slice is shifted in its plane (up to {shear:.3g} mm, linear interpolation) onto a "
            f"grid stacked along the normal, as dcm2niix does, so voxels sit at their true positions"
        )
    return StackGeometry(kept_arr, d, spacing, dropped, tilt, warnings)


def in_plane_offsets(positions, iop, pixel_spacing) -> np.ndarray:
    """How far each slice's origin lies off the normal through the first one, in pixels.

    Parameters
    ----------
    positions : (K, 3) ImagePositionPatient of the sorted slices (LPS mm).
    iop : ImageOrientationPatient (row direction, then column direction).
    pixel_spacing : (between rows, between columns) in mm.

    Returns
    -------
    (K, 2) ndarray of (row, column) offsets: pixel (r, c) of slice k lies where pixel
    ``(r + rows, c + columns)`` of a slice stacked along the normal would. Zero without tilt.
    """
    positions = np.asarray(positions, dtype=float).reshape(-1, 3)
    iop = np.asarray(iop, dtype=float)
    normal = slice_normal(iop)
    drift = positions - positions[0]
    drift -= np.outer(drift @ normal, normal)  # the in-plane part only
    return np.stack([drift @ iop[3:6] / float(pixel_spacing[0]), drift @ iop[:3] / float(pixel_spacing[1])], axis=1)


def untilt_stack(stack: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Shift each slice in its plane by its offset (linear interpolation), undoing gantry tilt.

    Parameters
    ----------
    stack : (K, rows, columns) ndarray, slices sorted along the normal.
    offsets : (K, 2) from :func:`in_plane_offsets`.

    Returns
    -------
    ndarray of ``stack``'s shape and dtype (integers rounded): slice k at pixel (r, c)
    holds the input's value at ``(r - offsets[k, 0], c - offsets[k, 1])``, the pixel that
    was acquired there; pixels outside the acquired slice get the stack's minimum (air, for CT).
    """
    from scipy.ndimage import shift

    fill = float(stack.min())
    out = np.empty_like(stack)
    for k, (d_row, d_col) in enumerate(offsets):
        moved = shift(stack[k].astype(np.float32), (d_row, d_col), order=1, mode="constant", cval=fill)
        out[k] = np.rint(moved) if np.issubdtype(stack.dtype, np.integer) else moved
    return out


def stack_affine(iop, pixel_spacing, first_position, spacing_mm: float) -> np.ndarray:
    """4x4 affine from a (slice, row, column) index to LPS mm.

    Parameters
    ----------
    iop : sequence of 6 float
        ImageOrientationPatient.
    pixel_spacing : (2,) sequence of float
        PixelSpacing: (between rows, between columns) in mm.
    first_position : (3,) sequence of float
        ImagePositionPatient of the first slice in sorted order.
    spacing_mm : float
        Slice spacing along the normal (the sorted order increases along it).

    Returns
    -------
    (4, 4) ndarray
        Columns: slice axis = normal * spacing; row axis (array axis 1, down the
        rows) = column cosines * PixelSpacing[0]; column axis (array axis 2) = row
        cosines * PixelSpacing[1]; translation = ``first_position``.
    """
    iop = np.asarray(iop, dtype=float)
    affine = np.eye(4)
    affine[:3, 0] = slice_normal(iop) * float(spacing_mm)
    affine[:3, 1] = iop[3:6] * float(pixel_spacing[0])
    affine[:3, 2] = iop[:3] * float(pixel_spacing[1])
    affine[:3, 3] = np.asarray(first_position, dtype=float)
    return affine
