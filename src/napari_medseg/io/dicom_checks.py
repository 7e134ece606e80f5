"""What a DICOM image header must satisfy before its values are trusted.

Checked while scanning, before any per-frame record is built or any pixel allocated:

* the image size: Rows, Columns >= 1; BitsAllocated 1, 8, 16, 32 or 64; NumberOfFrames
  >= 1 and no more frames than the file's bytes can hold (a huge NumberOfFrames would
  otherwise build millions of records);
* uncompressed Pixel Data: its length is exactly what Rows x Columns x frames x
  BitsAllocated need (plus one padding byte): shorter is truncation, longer means the
  header lies about the layout (16-bit data read as 8-bit);
* geometry: ImagePositionPatient, ImageOrientationPatient and PixelSpacing finite and
  within a kilometre;
  PixelSpacing > 0; orientation vectors neither zero nor parallel. Orientation cosines
  that are not unit vectors are normalised with a warning; a missing PixelSpacing is
  1 mm and a one-value PixelSpacing is used for both directions, each with a warning;
* RescaleSlope / RescaleIntercept finite, slope not 0;
* grey-level images only (MONOCHROME1/2): colour and palette images are not loaded.

Each function raises ``ValueError`` with a message for the user (the scanner prefixes
the file name) or returns notes (warnings).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..volume import MAX_COORDINATE_MM
from .dicom_pixels import PixelLayout

__all__ = [
    "check_layout",
    "check_plane",
    "check_rescale",
    "pixel_data_problem",
    "colour_problem",
    "pixel_spacing",
    "ENCAPSULATED_ITEM_BYTES",
]

#: Smallest size of one frame in encapsulated (compressed) Pixel Data: an item tag and length.
ENCAPSULATED_ITEM_BYTES = 8
_GREY = ("MONOCHROME1", "MONOCHROME2")


def frame_bytes(layout: PixelLayout) -> int:
    """Bytes of one uncompressed frame (bit-packed 1-bit data rounded up)."""
    return math.ceil(layout.rows * layout.columns * layout.samples_per_pixel * layout.bits_allocated / 8)


def check_layout(layout: PixelLayout, file_size: int) -> None:
    """Refuse image sizes no file can hold, before one record per frame is built.

    Parameters
    ----------
    layout : the header's pixel layout.
    file_size : bytes of the file.
    """
    if layout.rows < 1 or layout.columns < 1:
        raise ValueError(f"an image of {layout.rows} x {layout.columns} pixels (Rows x Columns)")
    if layout.bits_allocated not in (1, 8, 16, 32, 64):
        raise ValueError(f"BitsAllocated = {layout.bits_allocated}; 1, 8, 16, 32 or 64 expected")
    if not 1 <= layout.bits_stored <= layout.bits_allocated:
        raise ValueError(f"BitsStored = {layout.bits_stored} with BitsAllocated = {layout.bits_allocated}")
    if layout.samples_per_pixel < 1:
        raise ValueError(f"SamplesPerPixel = {layout.samples_per_pixel}")
    if layout.frames < 1:
        raise ValueError(f"NumberOfFrames = {layout.frames}; at least 1 expected")
    per_frame = frame_bytes(layout) if layout.native else ENCAPSULATED_ITEM_BYTES
    if layout.frames * per_frame > file_size:
        raise ValueError(
            f"{layout.frames} frame(s) (NumberOfFrames) of {layout.rows} x {layout.columns} pixels "
            f"cannot fit in the file's {file_size} bytes; NumberOfFrames, Rows or Columns is wrong"
        )


def pixel_data_problem(path: Path, layout: PixelLayout, head: bytes, size: int) -> str | None:
    """Why uncompressed Pixel Data does not match the header (None when it does or is compressed).

    Parameters
    ----------
    path : the file (named in the message).
    layout : its pixel layout.
    head : the 12 bytes at ``layout.pixel_offset`` (the Pixel Data element's tag, VR and length).
    size : the file's size in bytes.
    """
    if not layout.native:
        return None
    expected = layout.native_bytes
    length, start = layout.pixel_data_element(head)
    what = (
        f"{layout.frames} frame(s) of {layout.rows} x {layout.columns} at {layout.bits_allocated} bits "
        f"need {expected} bytes"
    )
    if length == 0xFFFFFFFF:
        return f"{path}: broken DICOM file (uncompressed Pixel Data of undefined length)"
    if length > expected + 1:
        return (
            f"{path}: Pixel Data holds {length} bytes but {what}: Rows, Columns, BitsAllocated or "
            "NumberOfFrames is wrong; not loaded rather than decoded wrongly"
        )
    if length < expected or size < start + expected:
        return f"{path}: truncated DICOM file (pixel data holds {min(length, size - start)} bytes, {what})"
    return None


def _finite(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or infinite values {tuple(values)}")
    if np.abs(arr).max(initial=0.0) > MAX_COORDINATE_MM:
        raise ValueError(f"{name} {tuple(values)} lies beyond {MAX_COORDINATE_MM:g} mm")
    return arr


def pixel_spacing(values: list) -> tuple[tuple[float, float] | None, int]:
    """PixelSpacing values as (between rows, between columns), and how many the header held.

    One value is used for both directions (:func:`check_plane` warns); none or more than two
    give None.
    """
    vals = tuple(float(v) for v in values)
    if len(vals) == 1:
        return (vals[0], vals[0]), 1
    return (vals if len(vals) == 2 else None), len(vals)


def check_plane(iop, ipp, spacing, n_spacing: int) -> tuple[tuple, tuple, list[str]]:
    """Validated orientation and pixel spacing of one image, and the notes to report.

    Parameters
    ----------
    iop : 6 floats or None (ImageOrientationPatient).
    ipp : 3 floats or None (ImagePositionPatient, LPS mm).
    spacing : 2 floats or None (PixelSpacing: between rows, between columns, mm).
    n_spacing : number of PixelSpacing values the header held (0 when absent).

    Returns
    -------
    iop : unit cosines (or None), spacing : 2 floats, notes : list of str
    """
    notes: list[str] = []
    if ipp is not None:
        _finite(ipp, "ImagePositionPatient")
    if iop is not None:
        cos = _finite(iop, "ImageOrientationPatient")
        lengths = np.linalg.norm(cos.reshape(2, 3), axis=1)
        if np.any(lengths < 1e-6) or np.linalg.norm(np.cross(cos[:3], cos[3:])) < 1e-6 * lengths.prod():
            raise ValueError(f"ImageOrientationPatient {tuple(iop)} has a zero or parallel direction")
        if np.any(np.abs(lengths - 1) > 1e-3):
            notes.append(
                f"ImageOrientationPatient cosines are not unit vectors (lengths "
                f"{lengths[0]:.4g}, {lengths[1]:.4g}); normalised"
            )
            iop = tuple(float(v) for v in (cos.reshape(2, 3) / lengths[:, None]).ravel())
    if spacing is None:
        notes.append("no PixelSpacing: 1 mm pixels assumed; distances and volumes are not physical")
        return iop, (1.0, 1.0), notes
    sp = _finite(spacing, "PixelSpacing")
    if np.any(sp <= 0):
        raise ValueError(f"PixelSpacing {tuple(spacing)} must be positive")
    if n_spacing == 1:
        notes.append(f"PixelSpacing has one value ({sp[0]:g} mm), two expected; used for both directions")
    return iop, (float(sp[0]), float(sp[1])), notes


#: Rescaled values are stored as float32 at worst: beyond this they would become infinite.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_rescale(slope: float | None, intercept: float | None, bits_stored: int = 16) -> None:
    """Refuse a modality LUT that would make every voxel NaN, infinite or one constant.

    ``bits_stored`` bounds the stored values (at most ``2**bits_stored``), hence the rescaled range.
    """
    for name, value in (("RescaleSlope", slope), ("RescaleIntercept", intercept)):
        if value is not None and not math.isfinite(value):
            raise ValueError(f"{name} = {value}")
    if slope == 0:
        raise ValueError("RescaleSlope = 0 (every voxel would have the same value)")
    reach = abs(slope or 1.0) * 2.0 ** min(max(bits_stored, 1), 64) + abs(intercept or 0.0)
    if reach > FLOAT32_MAX:
        raise ValueError(
            f"RescaleSlope {slope} / RescaleIntercept {intercept} put voxel values beyond {FLOAT32_MAX:.3g}"
        )


def colour_problem(path: Path, photometric: str | None) -> str | None:
    """A note for colour and palette images, which load as wrong grey levels if read as numbers."""
    value = (photometric or "MONOCHROME2").strip().upper()
    if value in _GREY:
        return None
    return f"{path}: a colour image (PhotometricInterpretation {value}); only grey-level images are supported"
