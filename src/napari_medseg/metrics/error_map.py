"""Where the surfaces disagree: boundary voxels farther than the tolerance from the other surface."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .boundary import boundary_voxels, label_voxel_indices
from .evaluate import as_label_array, surface_distances

__all__ = ["MISSED", "EXTRA", "ERROR_NAMES", "boundary_error_map"]

MISSED = 1  # a reference surface voxel farther than the tolerance from the predicted surface
EXTRA = 2  # a predicted surface voxel farther than the tolerance from the reference surface
ERROR_NAMES = {MISSED: "reference surface missed (> tolerance)", EXTRA: "predicted surface off (> tolerance)"}


def boundary_error_map(
    pred, ref, spacing: Sequence[float], tolerance_mm: float = 2.0, labels: Sequence[int] | None = None
) -> np.ndarray:
    """Surface voxels that are off by more than ``tolerance_mm``, on the common grid.

    Parameters
    ----------
    pred, ref : (Z, Y, X) label maps on the same grid
    spacing : sequence of 3 float
        Voxel size in mm along array axes 0, 1, 2.
    tolerance_mm : float
        The NSD tolerance: exactly the surface voxels NSD counts as wrong are marked.
    labels : sequence of int, optional
        Labels to consider (default: all present in either map).

    Returns
    -------
    (Z, Y, X) uint8 ndarray
        :data:`MISSED` (1) on reference boundary voxels farther than the tolerance from
        the prediction's surface of the same label (all of them when the prediction
        lacks the label), :data:`EXTRA` (2) on such prediction boundary voxels, 0
        elsewhere. Where both apply to one voxel, ``EXTRA`` wins.
    """
    pred = as_label_array(pred, "prediction")
    ref = as_label_array(ref, "reference")
    spacing_mm = np.asarray(spacing, dtype=float)
    out = np.zeros(ref.shape, dtype=np.uint8)
    pred_voxels, ref_voxels = label_voxel_indices(pred), label_voxel_indices(ref)
    wanted = sorted(set(pred_voxels) | set(ref_voxels)) if labels is None else sorted(int(v) for v in labels)
    for label in wanted:
        pi, ri = pred_voxels.get(label), ref_voxels.get(label)
        if pi is None and ri is not None:
            out[tuple(boundary_voxels(ref, ri, label).T)] = MISSED
        elif ri is None and pi is not None:
            out[tuple(boundary_voxels(pred, pi, label).T)] = EXTRA
        if pi is None or ri is None:
            continue
        pb, rb, dist = surface_distances(pred, pi, ref, ri, label, spacing_mm)
        out[tuple(rb[dist.ref_to_pred > tolerance_mm].T)] = MISSED
        out[tuple(pb[dist.pred_to_ref > tolerance_mm].T)] = EXTRA
    return out
