"""Volume intensities to the uint8 grey levels SAM-family models were trained on.

CT is windowed (level/width in HU, presets in :mod:`napari_medseg.ct_windows`); other
modalities are clipped at the 0.5 and 99.5 percentiles of the volume's non-zero voxels
(MedSAM's recipe). Percentiles come from the whole volume, so every slice of a volume is
scaled the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ct_windows import WINDOWS, looks_like_ct
from ...errors import MedsegError

__all__ = ["IntensityMapping", "choose_mapping", "to_uint8"]


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
        """Map any-shape intensities to uint8, truncating like MedSAM's ``np.uint8(...)``.

        Works through the first axis in chunks of about 4 M voxels, so the float temporaries
        stay small (a 512 x 512 x 300 CT needs its uint8 output and ~50 MB more).
        """
        array = np.asarray(array)
        out = np.empty(array.shape, np.uint8)
        if array.ndim == 0 or array.size == 0:
            out[...] = self._map(array)
            return out
        step = max(1, (1 << 22) // max(1, array[0].size))
        for start in range(0, array.shape[0], step):
            out[start : start + step] = self._map(array[start : start + step])
        return out

    def _map(self, chunk: np.ndarray) -> np.ndarray:
        scale = np.float32(255.0 / max(self.high - self.low, 1e-8))
        mapped = (np.clip(chunk, self.low, self.high).astype(np.float32) - np.float32(self.low)) * scale
        mapped = mapped.astype(np.uint8)
        if self.keep_zero:
            mapped[chunk == 0] = 0
        return mapped


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
    ct = looks_like_ct(array) if modality is None else modality.upper() == "CT"
    if ct:
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
