"""Putting a prediction on the reference's voxel grid, or saying why it is not there."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import GridMismatchError
from ..volume import Volume

__all__ = ["check_same_grid", "resample_labels_nearest"]


def check_same_grid(pred: Volume, ref: Volume) -> None:
    """Raise :class:`GridMismatchError` unless both volumes share shape and voxel centres."""
    if not pred.same_grid(ref):
        raise GridMismatchError(
            "prediction and reference are on different voxel grids: "
            f"prediction {pred.describe_grid()}; reference {ref.describe_grid()}. "
            "Resample the prediction onto the reference grid (nearest neighbour) with --resample "
            "(GUI: 'resample prediction'), or export both on one grid."
        )


def resample_labels_nearest(pred: Volume, ref: Volume) -> Volume:
    """The prediction's labels on the reference's grid, by nearest neighbour.

    Each reference voxel centre is mapped to patient space (LPS mm) with the
    reference affine and back into the prediction's array with the inverse of its
    affine; it takes the label of the nearest prediction voxel, or 0 outside it.

    Returns
    -------
    Volume
        Shape and affine of ``ref``; ``array`` has the prediction's dtype.
    """
    index_map = np.linalg.inv(pred.affine) @ ref.affine  # ref index -> pred index
    out = ndimage.affine_transform(
        np.asarray(pred.array), index_map, output_shape=ref.shape, order=0, mode="constant", cval=0, prefilter=False
    )
    return ref.with_array(out, resampled_from=pred.describe_grid())
