"""Brain extraction (skull stripping) with the shipped ``brain-tissue`` model.

The model labels grey matter, white matter and CSF inside the brain; everything it labels
is the brain. :func:`brain_mask` keeps the largest connected part of it with its holes
filled, and :func:`skull_strip` sets the image to 0 outside, as a skull-stripped
template is.
"""

from __future__ import annotations

import threading

import numpy as np
from scipy import ndimage

from ..volume import Volume
from .segment import ProgressCallback, segment_volume

__all__ = ["BRAIN_MODEL", "brain_mask", "skull_strip"]

#: The model whose labels (> 0) are the brain.
BRAIN_MODEL = "brain-tissue"


def brain_mask(labels: np.ndarray) -> np.ndarray:
    """The brain as one solid region of a tissue label map.

    Parameters
    ----------
    labels : ndarray of int, any shape (3D)
        Tissue labels; every label > 0 is brain (grey matter, white matter, CSF).

    Returns
    -------
    ndarray of bool, same shape: the largest 26-connected component of ``labels > 0``,
    holes filled. All False when nothing is labelled.
    """
    inside = np.asarray(labels) > 0
    parts, n = ndimage.label(inside, structure=np.ones((3, 3, 3), bool))
    if n == 0:
        return inside
    sizes = np.bincount(parts.ravel())
    sizes[0] = 0
    return ndimage.binary_fill_holes(parts == int(np.argmax(sizes)))


def skull_strip(
    volume: Volume,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> tuple[Volume, np.ndarray]:
    """The image with everything outside the brain set to 0, and the brain mask.

    Parameters
    ----------
    volume : Volume
        A head MRI, any contrast, orientation and resolution; (Z, Y, X) with its LPS affine.
    device : {"auto", "cpu", "cuda", "mps"}
    progress, cancel : see :func:`napari_medseg.models.segment.segment_volume`

    Returns
    -------
    (stripped, mask) : Volume on ``volume``'s grid and dtype, and its (Z, Y, X) bool brain mask
    """
    labels = segment_volume(volume, BRAIN_MODEL, device=device, progress=progress, cancel=cancel).labels
    mask = brain_mask(labels)
    stripped = np.where(mask, volume.array, np.zeros((), dtype=volume.array.dtype))
    return volume.with_array(stripped), mask
