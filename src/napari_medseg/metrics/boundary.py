"""Where each label's voxels and surface are, found without dense per-label passes.

A label volume is scanned once (``np.flatnonzero``); every later step works on the
flat indices of one label's voxels, so its cost follows the structure's size, not the
volume's nor the bounding box's (a stray island far away costs nothing extra).

Two surface definitions are offered:

* **voxel** (MONAI, MetricsReloaded): the boundary is the set of mask voxels with at
  least one face-connected (6-neighbourhood) neighbour outside the mask; voxels
  outside the image count as outside. Each boundary voxel has weight 1.
* **area** (DeepMind ``surface-distance``; MONAI ``use_subvoxels=True``): surface
  elements are the 2x2x2 voxel cubes whose corners are partly inside the mask, each
  weighted by the area (mm^2) of the marching-cubes surface through it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["flat_nonzero", "label_voxel_indices", "boundary_voxels", "surface_elements", "surfel_area_table"]


def flat_nonzero(labels: np.ndarray) -> np.ndarray:
    """``np.flatnonzero(labels)`` for a C-contiguous array, about 3x faster on sparse masks.

    Scans 8 bytes at a time (as uint64 words) and inspects only the non-zero words.
    """
    flat = labels.reshape(-1)
    per_word = 8 // flat.dtype.itemsize if flat.dtype.itemsize < 8 else 1
    if per_word == 1 or flat.size % per_word or not flat.flags.c_contiguous:
        return np.flatnonzero(flat)
    words = np.flatnonzero(flat.view(np.uint64))
    if words.size * per_word * 4 > flat.size:  # dense map: candidates would cost memory, save no time
        return np.flatnonzero(flat)
    candidates = (words[:, None] * per_word + np.arange(per_word)).reshape(-1)
    return candidates[flat[candidates] != 0]


def label_voxel_indices(labels: np.ndarray) -> dict[int, np.ndarray]:
    """Flat indices of each non-zero label's voxels.

    Parameters
    ----------
    labels : (Z, Y, X) integer ndarray, C-contiguous
        Label map; 0 is background.

    Returns
    -------
    dict of int -> (N,) int64 ndarray
        For each label present, the sorted flat (C-order) indices of its voxels.
    """
    flat = labels.reshape(-1)
    idx = flat_nonzero(labels)
    if idx.size == 0:
        return {}
    values = flat[idx]
    first = values[0]
    if np.all(values == first):  # the common single-label case: no sort
        return {int(first): idx}
    order = np.argsort(values, kind="stable")  # stable: indices stay sorted per label
    values = values[order]
    cuts = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate(([0], cuts))
    return {int(values[s]): idx[order[s:e]] for s, e in zip(starts, np.append(cuts, values.size))}


def _unravel(idx: np.ndarray, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z, rem = np.divmod(idx, shape[1] * shape[2])
    y, x = np.divmod(rem, shape[2])
    return z, y, x


def boundary_voxels(labels: np.ndarray, idx: np.ndarray, label: int) -> np.ndarray:
    """Face-connected boundary voxels of one label.

    Parameters
    ----------
    labels : (Z, Y, X) integer ndarray, C-contiguous
        The label map ``idx`` was taken from.
    idx : (N,) int64 ndarray
        Flat indices of the label's voxels (from :func:`label_voxel_indices`).
    label : int
        The label value.

    Returns
    -------
    (M, 3) int64 ndarray
        Array indices (z, y, x) of the voxels of ``label`` with at least one of their
        six face neighbours outside the label (or outside the image), in C order.
        Identical to ``mask & ~scipy.ndimage.binary_erosion(mask)``.
    """
    shape = labels.shape
    flat = labels.reshape(-1)
    z, y, x = _unravel(idx, shape)
    on_border = (z == 0) | (z == shape[0] - 1) | (y == 0) | (y == shape[1] - 1) | (x == 0) | (x == shape[2] - 1)
    inside = ~on_border
    cand = idx[inside]
    interior = np.ones(cand.size, dtype=bool)
    for stride in (shape[1] * shape[2], shape[2], 1):
        interior &= flat[cand + stride] == label
        interior &= flat[cand - stride] == label
    is_boundary = on_border
    is_boundary[inside] = ~interior
    return np.stack([z[is_boundary], y[is_boundary], x[is_boundary]], axis=1)


_NORMALS_FILE = Path(__file__).with_name("surfel_normals.npy")


@lru_cache(maxsize=16)
def surfel_area_table(spacing: tuple[float, float, float]) -> np.ndarray:
    """Surface area (mm^2) inside a 2x2x2 cube for each of its 256 corner codes.

    Built from DeepMind ``surface-distance``'s marching-cubes normals table (the one
    MONAI ships in ``monai.metrics.utils``; stored here as ``surfel_normals.npy``, in
    units of 1/8) for voxel ``spacing`` (mm along array axes 0, 1, 2). Corner
    ``(i, j, k)`` of a cube contributes bit ``2 ** (7 - (4 i + 2 j + k))`` to its code.
    """
    normals = np.load(_NORMALS_FILE).astype(float) / 8.0  # (256 codes, 4 triangles, 3)
    s0, s1, s2 = spacing
    return np.linalg.norm(normals * np.array([s1 * s2, s0 * s2, s0 * s1]), axis=-1).sum(axis=-1)


_CORNERS = [(i, j, k) for i in (0, 1) for j in (0, 1) for k in (0, 1)]


def surface_elements(
    labels: np.ndarray, boundary: np.ndarray, label: int, spacing: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted surface elements (surfels) of one label.

    Parameters
    ----------
    labels : (Z, Y, X) integer ndarray, C-contiguous
        Label map.
    boundary : (M, 3) int64 ndarray
        The label's face-connected boundary voxels (:func:`boundary_voxels`). Every
        cube with corners both inside and outside the label holds one of them.
    label : int
        The label value.
    spacing : tuple of 3 float
        Voxel size in mm along array axes 0, 1, 2.

    Returns
    -------
    origins : (K, 3) int64 ndarray
        Array index of each surface cube's first corner (may be -1: cubes reach one
        voxel outside the image, which counts as outside the label).
    areas : (K,) float64 ndarray
        Surface area in mm^2 inside each cube.
    """
    shape = labels.shape
    if boundary.size == 0:
        return np.empty((0, 3), np.int64), np.empty(0)
    # cube origins touching a boundary voxel, made unique through their flat index on
    # the (shape + 1) grid of origins (which run from -1 to shape - 1 on each axis)
    grid = tuple(n + 1 for n in shape)
    shifted = boundary + 1
    keys = np.concatenate([np.ravel_multi_index((shifted - corner).T, grid) for corner in _CORNERS])
    keys = np.unique(keys)
    oz, oy, ox = (c - 1 for c in np.unravel_index(keys, grid))
    flat = labels.reshape(-1)
    code = np.zeros(keys.size, dtype=np.int64)
    for n, (i, j, k) in enumerate(_CORNERS):
        z, y, x = oz + i, oy + j, ox + k
        valid = (z >= 0) & (z < shape[0]) & (y >= 0) & (y < shape[1]) & (x >= 0) & (x < shape[2])
        where = np.flatnonzero(valid)
        inside = flat[(z[where] * shape[1] + y[where]) * shape[2] + x[where]] == label
        code[where[inside]] += 2 ** (7 - n)
    keep = (code != 0) & (code != 255)
    areas = surfel_area_table(tuple(float(s) for s in spacing))[code[keep]]
    return np.stack([oz[keep], oy[keep], ox[keep]], axis=1), areas
