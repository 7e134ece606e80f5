"""One label per voxel: regions that overlap are painted largest first, so the smaller stays visible.

RT structure sets and DICOM SEG segments may overlap (a GTV inside its PTV); a label map
holds one value per voxel. Both readers use :func:`paint_largest_first`, so a voxel in two
regions gets the same label whichever format brought it.
"""
from __future__ import annotations

import numpy as np

from ..volume import smallest_label_dtype

__all__ = ["distinct", "paint_largest_first"]


def paint_largest_first(shape: tuple[int, ...], regions: list[tuple[int, np.ndarray]], names: dict[int, str]
                        ) -> tuple[np.ndarray, list[str]]:
    """A label map from regions given as flat voxel indices.

    Parameters
    ----------
    shape : tuple of int
        Shape of the label map (any axis order: ``regions`` index it flat, C order).
    regions : list of (label, (N,) int ndarray)
        Each region's label value and the flat indices of its voxels (no repeats).
    names : dict int -> str
        Label value -> name, for the overlap warnings.

    Returns
    -------
    labels : ndarray of ``shape``, the smallest unsigned dtype holding every label
    warnings : list of str, one per overlapping pair (``A overlaps B in N voxels: shown as A``)
    """
    top = max([label for label, _ in regions], default=0)
    labels = np.zeros(shape, smallest_label_dtype(np.array([top])))
    flat = labels.reshape(-1)
    warnings = []
    for label, voxels in sorted(regions, key=lambda r: -r[1].size):  # larger first: the smaller one stays visible
        under = np.bincount(flat[voxels], minlength=top + 1)
        for other in np.flatnonzero(under[1:]) + 1:
            warnings.append(f"{names.get(label, label)} overlaps {names.get(other, other)} in {under[other]} "
                            f"voxels: shown as {names.get(label, label)}")
        flat[voxels] = label
    return labels, warnings


def distinct(voxels: np.ndarray) -> np.ndarray:
    """Sorted flat indices without repeats (sort and compare: numpy 2.4's hashing
    ``np.unique`` was ~50x slower on the runs of consecutive indices masks give)."""
    voxels = np.sort(voxels)
    return voxels[np.r_[True, voxels[1:] != voxels[:-1]]] if voxels.size else voxels
