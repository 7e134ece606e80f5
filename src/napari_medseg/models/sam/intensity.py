"""Volume intensities to the uint8 grey levels SAM-family models were trained on.

CT is windowed (level/width in HU); other modalities are clipped at the 0.5 and
99.5 percentiles of the volume's non-zero voxels (MedSAM's recipe). Percentiles
come from the whole volume, so every slice of a volume is scaled the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import MedsegError

__all__ = ["WINDOWS", "IntensityMapping", "choose_mapping", "is_ct", "looks_like_ct", "to_uint8", "window_limits"]

#: CT window presets, (level, width) in HU.
WINDOWS: dict[str, tuple[float, float]] = {
    "soft_tissue": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}
_AIR_HU = -900.0  # a CT volume has air voxels (about -1000 HU) below this


@dataclass(frozen=True)
class IntensityMapping:
    """A linear map of intensities onto 0..255: ``clip((v - low) / (high - low)) * 255``.

    Attributes
    ----------
    low, high : float
        Intensities (HU for CT, scanner units otherwise) mapped to 0 and 255.
    name : str
        How they were chosen (``"ct:40/400"``, ``"percentile 0.5-99.5"``), part of cache keys.
    keep_zero : bool
        Voxels that are exactly 0 stay 0 (background of skull-stripped MR), as in MedSAM.
    """

    low: float
    high: float
    name: str
    keep_zero: bool = False

    def apply(self, array: np.ndarray) -> np.ndarray:
        """Map any-shape intensities to uint8, truncating like MedSAM's ``np.uint8(...)``."""
        scale = np.float32(255.0 / max(self.high - self.low, 1e-8))
        out = (np.clip(array, self.low, self.high).astype(np.float32) - np.float32(self.low)) * scale
        out = out.astype(np.uint8)
        if self.keep_zero:
            out[array == 0] = 0
        return out


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


def choose_mapping(array: np.ndarray, window: str | None = None, modality: str | None = None) -> IntensityMapping:
    """The intensity mapping for a volume.

    Parameters
    ----------
    array : ndarray
        The whole volume (any axis order), in HU for CT.
    window : str, optional
        A key of :data:`WINDOWS`, or ``"L,W"`` (e.g. ``"50,350"``). Implies CT.
    modality : str, optional
        ``"CT"`` or ``"MR"`` (any non-CT modality is percentile-clipped). Default:
        CT when :func:`looks_like_ct`, else percentile clipping.
    """
    if window is not None:
        if window in WINDOWS:
            level, width = WINDOWS[window]
        else:
            try:
                level, width = (float(v) for v in window.split(","))
            except ValueError:
                raise MedsegError(
                    f"unknown window {window!r}; use one of {', '.join(WINDOWS)} or 'LEVEL,WIDTH' in HU"
                ) from None
        if width <= 0:
            raise MedsegError(f"window width must be positive; got {width:g}")
        return IntensityMapping(level - width / 2, level + width / 2, f"ct:{level:g}/{width:g}")
    is_ct = looks_like_ct(array) if modality is None else modality.upper() == "CT"
    if is_ct:
        level, width = WINDOWS["soft_tissue"]
        return IntensityMapping(level - width / 2, level + width / 2, f"ct:{level:g}/{width:g}")
    nonzero = array[array != 0]
    if nonzero.size == 0:
        return IntensityMapping(0.0, 1.0, "empty")
    low, high = np.percentile(nonzero, [0.5, 99.5])
    return IntensityMapping(float(low), float(high), "percentile 0.5-99.5", keep_zero=True)


def to_uint8(array: np.ndarray, window: str | None = None, modality: str | None = None) -> np.ndarray:
    """The volume as uint8 grey levels 0..255 (same shape), mapped by :func:`choose_mapping`."""
    return choose_mapping(array, window, modality).apply(array)
