"""The simulated user of interactive-segmentation benchmarks (RITM, SAM, SAM-Med).

Each click goes to the interior point farthest from the border of the largest error
region: inside (positive) when that region is a false negative, outside (negative) when it
is a false positive. Benchmarks and tests use it to play a user correcting a mask.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["next_click"]


def next_click(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, bool] | None:
    """Where the simulated user clicks next on a slice.

    Parameters
    ----------
    pred, truth : (H, W) bool
        The current mask and the true structure on one slice.

    Returns
    -------
    (x, y, include) or None
        Column, row and sense of the click; None when the mask is already right.
    """
    best = None
    for error, include in ((truth & ~pred, True), (pred & ~truth, False)):
        labels, n = ndimage.label(error)
        if n == 0:
            continue
        sizes = np.bincount(labels.ravel())[1:]
        if best is None or sizes.max() > best[0]:
            best = (sizes.max(), labels == np.argmax(sizes) + 1, include)
    if best is None:
        return None
    depth = ndimage.distance_transform_edt(np.pad(best[1], 1))[1:-1, 1:-1]
    r, c = np.unravel_index(np.argmax(depth), depth.shape)
    return float(c), float(r), best[2]
