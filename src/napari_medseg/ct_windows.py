"""CT windows: named level/width presets in Hounsfield units, and telling CT from other data.

Used to display CT (napari layers, PNG overviews) and to map it to the grey levels the SAM
models take (:mod:`napari_medseg.models.sam.intensity`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["WINDOWS", "is_ct", "looks_like_ct", "window_limits"]

#: CT window presets, (level, width) in HU.
WINDOWS: dict[str, tuple[float, float]] = {
    "soft_tissue": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}
_AIR_HU = -900.0  # a CT volume has air voxels (about -1000 HU) below this


def looks_like_ct(array: np.ndarray) -> bool:
    """True when intensities reach air in Hounsfield units (min <= -900): CT."""
    return bool(np.min(array) <= _AIR_HU)


def is_ct(volume) -> bool:
    """True for a :class:`~napari_medseg.volume.Volume` whose modality is CT or whose values reach air in HU."""
    return volume.meta.get("modality") == "CT" or (volume.array.size > 0 and looks_like_ct(volume.array))


def window_limits(name: str) -> tuple[float, float]:
    """(low, high) HU of a named window preset of :data:`WINDOWS`."""
    level, width = WINDOWS[name]
    return level - width / 2, level + width / 2
