"""One label per voxel: regions that overlap are painted largest first, so the smaller stays visible.

RT structure sets and DICOM SEG segments may overlap (a GTV inside its PTV); a label map
holds one value per voxel. Both readers use :func:`paint_largest_first`, so a voxel in two
regions gets the same label whichever format brought it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["distinct", "paint_largest_first"]


def paint_largest_first(labels: np.ndarray, regions: list[tuple[int, int, list]], names: dict[int, str]) -> list[str]:
    """Paint regions into ``labels`` in place, largest first; say which overlaps were resolved how.

    Parameters
    ----------
    labels : integer ndarray, zeros (any shape and axis order; the pieces index into views of it)
    regions : list of (label, n_voxels, pieces)
        Each region's label value, its size (the painting order) and where it lies: pieces
        ``(target, index)`` with ``target`` a view of ``labels`` and ``index`` a boolean mask of
        ``target``'s shape or an integer index array (flat indices into a 1D view).
    names : dict int -> str
        Label value -> name, for the overlap warnings.

    Returns
    -------
    list of str
        One per overlapping pair: ``A overlaps B in N voxels: shown as A``.
    """
    top = max([label for label, _, _ in regions], default=0)
    warnings = []
    for label, _, pieces in sorted(regions, key=lambda r: -r[1]):  # larger first: the smaller one stays visible
        under = np.zeros(top + 1, np.int64)
        for target, index in pieces:
            under += np.bincount(target[index].ravel(), minlength=top + 1)
            target[index] = label
        for other in np.flatnonzero(under[1:]) + 1:
            if other != label:  # a region painted twice on the same voxels is no overlap
                warnings.append(
                    f"{names.get(label, label)} overlaps {names.get(int(other), other)} in "
                    f"{under[other]} voxels: shown as {names.get(label, label)}"
                )
    return warnings


def distinct(voxels: np.ndarray) -> np.ndarray:
    """Sorted flat indices without repeats (sort and compare: numpy 2.4's hashing
    ``np.unique`` was ~50x slower on the runs of consecutive indices masks give)."""
    voxels = np.sort(voxels)
    return voxels[np.r_[True, voxels[1:] != voxels[:-1]]] if voxels.size else voxels
