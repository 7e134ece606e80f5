"""Geometry of the volumes opened in this session, so labels are saved on their source grid.

A labels layer napari creates from the GUI copies the image's transform but not its
metadata; the writer finds the source by grid (shape + affine) here instead. Only the
geometry is kept (a zero-stride placeholder array), never the voxel data.
"""

from __future__ import annotations

import numpy as np

from ..volume import Volume

_SOURCES: list[Volume] = []
_MAX_SOURCES = 64


def remember(volume: Volume) -> None:
    """Keep ``volume``'s geometry, file order and provenance (not its voxels)."""
    placeholder = np.broadcast_to(np.zeros((), dtype=np.uint8), volume.shape)
    geometry = Volume(
        placeholder,
        volume.affine.copy(),
        volume.file_order,
        {
            k: v
            for k, v in volume.meta.items()
            if k in ("path", "series_uid", "modality", "description", "format", "labels")
        },
    )
    _SOURCES[:] = [v for v in _SOURCES if not v.same_grid(geometry, atol=1e-6)][-(_MAX_SOURCES - 1) :] + [geometry]


def find(shape: tuple[int, ...], affine_lps: np.ndarray, atol: float = 1e-4) -> Volume | None:
    """The most recently opened source volume on this grid, or None."""
    for v in reversed(_SOURCES):
        if tuple(v.shape) == tuple(shape) and np.allclose(v.affine, affine_lps, atol=atol):
            return v
    return None


def is_source_image(path) -> bool:
    """True when ``path`` is an image (not a label map) opened in this session."""
    from pathlib import Path

    target = Path(path).resolve()
    return any(
        not v.meta.get("labels") and v.meta.get("path") and Path(v.meta["path"]).resolve() == target for v in _SOURCES
    )
