"""Checks every model makes on its input before it runs (U-Net and SAM alike)."""

from __future__ import annotations

import numpy as np

from ..errors import MedsegError

__all__ = ["require_finite"]


def require_finite(array: np.ndarray, name: str = "the image") -> None:
    """Refuse NaN or infinite voxels (a network turns them into labels), or a single voxel.

    Parameters
    ----------
    array : ndarray
        The intensities a model is about to see.
    name : str
        How the image is called in the message (its path, when known).
    """
    if array.size < 2:
        raise MedsegError(f"{name}: a single voxel; nothing to segment")
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        raise MedsegError(
            f"{name}: {bad} voxels are NaN or infinite; a model would turn them into labels. "
            "Replace them (e.g. with the background value) first"
        )
