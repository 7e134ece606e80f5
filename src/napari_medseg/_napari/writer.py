"""npe2 writer hook: a labels layer saved on its source image's exact grid."""
from __future__ import annotations

import numpy as np

from ..io import write_labels as write_label_volume
from .layers import volume_from_data


def write_labels(path: str, data, meta: dict) -> list[str]:
    """Save a 3D labels layer as NIfTI/NRRD/MHA (by extension) on its source grid.

    The voxel order and affine are those of the image the layer was drawn on when it
    was opened in this session (found by grid); otherwise the layer's own geometry.
    """
    data = np.asarray(data)
    if data.ndim != 3:
        raise ValueError(f"only 3D labels layers can be saved as volumes (got {data.ndim}D)")
    reference = volume_from_data(data, meta, meta.get("metadata"))
    return [str(write_label_volume(path, data, reference))]
