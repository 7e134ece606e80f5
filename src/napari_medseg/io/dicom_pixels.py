"""Decoding DICOM pixel data for a stack of slices, in parallel, and applying rescale.

Uncompressed little-endian pixel data (the common case for CT/MR series) is read
straight from the file into the output array at the byte offset found while the
header was scanned (``f.readinto``, which releases the GIL), so threads overlap
well. Anything else (compressed transfer syntaxes, big endian, colour) goes
through pydicom's decoders (with pylibjpeg, pylibjpeg-libjpeg, pylibjpeg-openjpeg and
pyjpegls: JPEG Lossless, JPEG-LS, JPEG 2000, RLE, deflated), and through SimpleITK's GDCM
where pydicom cannot decode a file or for lossy JPEG (see :data:`GDCM_FIRST`). Any failure
names the file and stops the whole load: nothing is half-loaded.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VolumeReadError
from .native_stderr import native_stderr

__all__ = ["PixelLayout", "SliceRef", "read_stack", "rescale_stack", "default_workers", "transfer_syntax_name"]

_NATIVE_LE = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")  # implicit / explicit VR little endian
_PIXEL_TAG = b"\xe0\x7f\x10\x00"
_LONG_VRS = (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN")
#: Lossy JPEG (baseline 8-bit, extended 12-bit): decoders round the inverse DCT differently, and pylibjpeg's
#: 12-bit result was up to 3 stored values off GDCM's (what SimpleITK and ITK-based tools show); GDCM decodes these.
GDCM_FIRST = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51")


@dataclass(frozen=True)
class PixelLayout:
    """How a file stores its pixels (from its header), enough to read them directly."""

    transfer_syntax: str
    rows: int
    columns: int
    frames: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    samples_per_pixel: int
    pixel_offset: int | None  # file offset of the Pixel Data element's tag, when known

    @property
    def raw_dtype(self) -> np.dtype:
        """Numpy dtype of the stored values (little endian)."""
        kind = "i" if self.pixel_representation == 1 else "u"
        return np.dtype(f"<{kind}{max(1, self.bits_allocated // 8)}")

    @property
    def native(self) -> bool:
        """True when the pixels can be read straight from the file."""
        return (
            self.transfer_syntax in _NATIVE_LE
            and self.samples_per_pixel == 1
            and self.bits_allocated in (8, 16, 32)
            and self.pixel_offset is not None
        )

    @property
    def native_bytes(self) -> int:
        """Bytes all frames take uncompressed (BitsAllocated 8, 16 or 32)."""
        return self.rows * self.columns * (self.bits_allocated // 8) * self.frames

    def pixel_data_element(self, head: bytes) -> tuple[int, int]:
        """The uncompressed Pixel Data element's value length and the file offset where its value starts.

        Parameters
        ----------
        head : the 12 bytes at :attr:`pixel_offset` (the element's tag, VR and length).
        """
        if self.pixel_offset is None:
            raise ValueError("the Pixel Data offset is unknown (compressed or not scanned)")
        if self.transfer_syntax == _NATIVE_LE[1] and head[4:6] in _LONG_VRS:
            return int.from_bytes(head[8:12], "little"), self.pixel_offset + 12
        return int.from_bytes(head[4:8], "little"), self.pixel_offset + 8


@dataclass(frozen=True)
class SliceRef:
    """One 2D image to decode: a file, and the frame within it (0 for single-frame)."""

    path: Path
    frame: int
    layout: PixelLayout


def default_workers() -> int:
    """Threads used for decoding: a few per core (file reads overlap with copies)."""
    return min(16, 2 * (os.cpu_count() or 1))


def _native_data_start(fp, ref: SliceRef) -> int:
    """Offset of the first pixel byte, after checking the element header and length."""
    lay = ref.layout
    if lay.pixel_offset is None:
        raise VolumeReadError(f"{ref.path}: Pixel Data offset unknown (not an uncompressed file)")
    fp.seek(lay.pixel_offset)
    head = fp.read(12)
    if head[:4] != _PIXEL_TAG:
        raise VolumeReadError(f"{ref.path}: unreadable DICOM file (Pixel Data not where the header ends)")
    length, start = lay.pixel_data_element(head)
    expected = lay.native_bytes
    if length == 0xFFFFFFFF or not expected <= length <= expected + 1:  # + 1: padding to an even length
        raise VolumeReadError(
            f"{ref.path}: broken DICOM file (Pixel Data holds {length} bytes, {expected} expected "
            f"for {lay.frames} frame(s) of {lay.rows}x{lay.columns} at {lay.bits_allocated} bits)"
        )
    return start


def _read_native(ref: SliceRef, out: np.ndarray) -> None:
    """Read one frame into ``out`` (rows, columns), raw stored values."""
    nbytes = out.nbytes
    with open(ref.path, "rb") as fp:
        start = _native_data_start(fp, ref)
        fp.seek(start + ref.frame * nbytes)
        got = fp.readinto(out.data.cast("B"))  # out is C-contiguous (cast refuses otherwise)
    if got != nbytes:
        raise VolumeReadError(f"{ref.path}: truncated DICOM file (pixel data ends after {got} of {nbytes} bytes)")


def _decode_file(ref: SliceRef) -> np.ndarray:
    """Decode every frame of a file: pydicom first, SimpleITK (GDCM) where pydicom cannot or for lossy JPEG.

    Returns (rows, columns) for a single frame, (frames, rows, columns) otherwise, stored values.
    """
    printed: list[str] = []  # the decoders' own complaints (OpenJPEG, libjpeg, GDCM) stay off the terminal
    with native_stderr(printed):
        if ref.layout.transfer_syntax in GDCM_FIRST:
            return _read_with_simpleitk(ref)
        try:
            return _read_with_pydicom(ref)
        except VolumeReadError as first:
            if ref.layout.transfer_syntax not in _NOT_ENCAPSULATED:
                _require_complete_encapsulation(ref.path)  # GDCM reads a cut-off file into gigabytes
            try:
                return _read_with_simpleitk(ref)
            except VolumeReadError:
                raise VolumeReadError(f"{first}; SimpleITK/GDCM cannot decode it either") from None


#: Implicit and explicit little endian, explicit big endian, deflated: pixel data not in fragments.
_NOT_ENCAPSULATED = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99")
_SEQUENCE_END = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"  # (FFFE,E0DD) with length 0, little endian


def _require_complete_encapsulation(path: Path) -> None:
    """Refuse a file whose compressed Pixel Data has no end (cut off): encapsulated pixel data
    ends with a sequence delimitation item, the last 8 bytes of an image file."""
    with open(path, "rb") as fp:
        fp.seek(max(0, os.fstat(fp.fileno()).st_size - 8))
        if fp.read(8) != _SEQUENCE_END:
            raise VolumeReadError(f"{path}: truncated DICOM file (its compressed pixel data has no end)")


def _read_with_pydicom(ref: SliceRef) -> np.ndarray:
    """Decode every frame of a file with pydicom (compressed or unusual encodings)."""
    import pydicom

    try:
        arr = pydicom.dcmread(ref.path).pixel_array
    except Exception as exc:  # pydicom raises many types; the message is what matters
        raise VolumeReadError(f"{ref.path}: cannot decode pixel data ({one_line(exc)})") from exc
    return _grey(arr, ref)


def _read_with_simpleitk(ref: SliceRef) -> np.ndarray:
    """Decode every frame of a file with SimpleITK's GDCM; its rescaled values are turned back to stored ones."""
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetImageIO("GDCMImageIO")
    reader.SetFileName(str(ref.path))
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise VolumeReadError(f"{ref.path}: cannot decode pixel data ({one_line(exc)})") from None
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise VolumeReadError(f"{ref.path}: colour or multi-sample pixel data; only grey-level images are supported")

    def tag(key: str, default: float) -> float:
        return (
            float(reader.GetMetaData(key))
            if reader.HasMetaDataKey(key) and reader.GetMetaData(key).strip()
            else default
        )

    slope, intercept = tag("0028|1053", 1.0), tag("0028|1052", 0.0)  # GDCM applies RescaleSlope/Intercept
    values = sitk.GetArrayFromImage(image).astype(np.float64)
    arr = np.rint((values - intercept) / slope).astype(ref.layout.raw_dtype)
    return _grey(arr[0] if ref.layout.frames == 1 and arr.ndim == 3 else arr, ref)


def _grey(arr: np.ndarray, ref: SliceRef) -> np.ndarray:
    if arr.ndim != (2 if ref.layout.frames == 1 else 3):
        raise VolumeReadError(
            f"{ref.path}: colour or multi-sample pixel data {arr.shape}; only grey-level images are supported"
        )
    return arr


def transfer_syntax_name(uid: str) -> str:
    """``'JPEG-LS Lossless Image Compression (1.2.840.10008.1.2.4.80)'``, or the bare UID when unknown."""
    from pydicom.uid import UID

    name = UID(uid).name
    return f"{name} ({uid})" if name and name != uid else uid


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (for user-facing errors)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _correct_unused_bits(arr: np.ndarray, layout: PixelLayout) -> None:
    """Clear bits above BitsStored (unsigned) or sign-extend from them (signed), in place."""
    shift = layout.bits_allocated - layout.bits_stored
    if 0 < shift < layout.bits_allocated:
        np.left_shift(arr, shift, out=arr)
        np.right_shift(arr, shift, out=arr)


def read_stack(
    refs: Sequence[SliceRef], workers: int | None = None, progress: Callable[[int, int], None] | None = None
) -> np.ndarray:
    """Decode slices into one (slice, row, column) array of raw stored values.

    Parameters
    ----------
    refs : sequence of SliceRef
        The slices, in the order wanted along axis 0. All must have the same rows
        and columns.
    workers : int, optional
        Decoding threads; defaults to :func:`default_workers`.
    progress : callable, optional
        Called as ``progress(done, total)`` after each file or slice is read (from
        worker threads; ``total`` counts files or slices depending on the path taken).

    Returns
    -------
    (N, rows, columns) ndarray
        Stored values (before RescaleSlope/Intercept), in the stored integer dtype.

    Raises
    ------
    VolumeReadError
        If any slice cannot be read (the message names its file).
    """
    first = refs[0].layout
    if all(r.layout.native for r in refs) and len({r.layout.raw_dtype for r in refs}) == 1:
        out = np.empty((len(refs), first.rows, first.columns), dtype=first.raw_dtype)

        def read_into(i: int) -> None:
            _read_native(refs[i], out[i])
            _correct_unused_bits(out[i], refs[i].layout)

        _run(read_into, range(len(refs)), workers, progress)
        return out
    # General case: decode each file once (a compressed multi-frame file holds many slices).
    by_path: dict[Path, list[int]] = {}
    for i, ref in enumerate(refs):
        by_path.setdefault(ref.path, []).append(i)
    frames: list[np.ndarray | None] = [None] * len(refs)

    def decode_file(path: Path) -> None:
        for i in by_path[path]:
            ref = refs[i]
            if ref.layout.native:
                frame = np.empty((ref.layout.rows, ref.layout.columns), ref.layout.raw_dtype)
                _read_native(ref, frame)
                _correct_unused_bits(frame, ref.layout)
                frames[i] = frame
        todo = [i for i in by_path[path] if frames[i] is None]
        if todo:
            decoded = _decode_file(refs[todo[0]])
            for i in todo:
                frames[i] = decoded[refs[i].frame] if decoded.ndim == 3 else decoded

    _run(decode_file, list(by_path), workers, progress)
    decoded = [f for f in frames if f is not None]  # decode_file fills every index or raises
    shapes = {f.shape for f in decoded}
    if len(shapes) > 1:
        raise VolumeReadError(f"{refs[0].path.parent}: slices of different sizes {sorted(shapes)} in one series")
    return np.stack(decoded)


def _run(func, items, workers: int | None, progress: Callable[[int, int], None] | None = None) -> None:
    """Call ``func`` on every item, in threads; the first exception is re-raised."""
    items = list(items)
    done, lock = [0], threading.Lock()

    def step(item) -> None:
        func(item)
        if progress is not None:
            with lock:
                done[0] += 1
                progress(done[0], len(items))

    n_workers = max(1, min(workers or default_workers(), len(items)))
    if n_workers == 1:
        for item in items:
            step(item)
        return
    with ThreadPoolExecutor(n_workers) as pool:
        list(pool.map(step, items))


def rescale_stack(raw: np.ndarray, slopes: Sequence[float], intercepts: Sequence[float]) -> np.ndarray:
    """Apply RescaleSlope/Intercept (modality LUT) per slice.

    Parameters
    ----------
    raw : (N, rows, columns) integer ndarray
        Stored values; may be modified in place and returned.
    slopes, intercepts : sequence of N float
        Per-slice RescaleSlope and RescaleIntercept.

    Returns
    -------
    ndarray
        ``raw`` itself when every slope is 1 and every intercept 0. With slope 1 and
        one whole-number intercept, an integer array: int16 when the result fits
        (CT Hounsfield units), else int32. Otherwise float32 (computed in float64
        and rounded once).
    """
    slope = np.asarray(slopes, dtype=float)
    intercept = np.asarray(intercepts, dtype=float)
    if np.all(slope == 1) and np.all(intercept == 0):
        return raw
    if np.all(slope == 1) and np.all(intercept == intercept[0]) and float(intercept[0]).is_integer():
        lo, hi = int(raw.min()) + int(intercept[0]), int(raw.max()) + int(intercept[0])
        for dt in (np.int16, np.int32):
            info = np.iinfo(dt)
            if info.min <= lo and hi <= info.max:
                out = raw if raw.dtype == dt else raw.astype(dt)
                np.add(out, dt(intercept[0]), out=out, casting="unsafe")
                return out
    out = np.empty(raw.shape, dtype=np.float32)
    for k in range(len(raw)):  # float64 per slice, then rounded once to float32
        out[k] = raw[k] * slope[k] + intercept[k]
    return out
