"""Label maps (integer arrays, 0 = background): which labels are present and their voxel counts.

Shared by the writers (one structure per present label) and the metrics (volumes in ml).
"""

from __future__ import annotations

import numpy as np

__all__ = ["present_labels", "voxel_counts"]


def voxel_counts(labels: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """Voxels of each label value: ``counts[k]`` for ``k = 0 .. labels.max()``.

    Parameters
    ----------
    labels : integer ndarray, any shape, values >= 0
    chunk : int
        Voxels counted at a time (bounds the temporary memory of the count).

    Returns
    -------
    (labels.max() + 1,) int64 ndarray (``[0]`` for an empty array).
    """
    flat = np.asarray(labels).reshape(-1)
    counts = np.zeros(1, np.int64)
    for start in range(0, flat.size, chunk):
        part = np.bincount(flat[start : start + chunk])
        if part.size > counts.size:
            part[: counts.size] += counts
            counts = part
        else:
            counts[: part.size] += part
    return counts


def present_labels(labels: np.ndarray) -> list[int]:
    """The labels > 0 that have at least one voxel, ascending."""
    counts = voxel_counts(labels)
    return [int(k) for k in np.flatnonzero(counts[1:]) + 1]
