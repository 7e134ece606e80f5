"""Reading DICOM image headers, one record per 2D image (files are found by :mod:`.dicom_files`).

A single-frame file gives one :class:`SliceHeader`; an enhanced multi-frame file
(PerFrameFunctionalGroupsSequence) or a classic multi-frame file (e.g. RT dose with
GridFrameOffsetVector) gives one per frame, with its own position. Pixel data is
never read here (``stop_before_pixels``); its byte offset is remembered so that
uncompressed pixels can later be read straight into the output array.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..volume import MAX_COORDINATE_MM
from .dicom_checks import check_layout, check_plane, check_rescale, colour_problem, pixel_data_problem, pixel_spacing
from .dicom_files import sniff
from .dicom_geometry import slice_normal
from .dicom_pixels import PixelLayout, SliceRef, default_workers, one_line
from .rtstruct import is_structure_set, referenced_series_uids
from .seg import is_segmentation, seg_referenced_series_uids

__all__ = ["SliceHeader", "StructureSetFile", "Unreadable", "read_file_headers", "read_headers"]

_PIXEL_TAGS = (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10")  # (7FE0,0010) little / big endian
_DEFAULT_IOP = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
DEFLATED = "1.2.840.10008.1.2.1.99"  # Deflated Explicit VR Little Endian


@dataclass(frozen=True)
class SliceHeader:
    """Header values of one 2D image (a single-frame file, or one frame of a multi-frame file).

    Positions and orientations are LPS mm / direction cosines; ``pixel_spacing`` is
    (between rows, between columns) in mm.
    """

    ref: SliceRef
    series_uid: str
    modality: str
    description: str
    iop: tuple[float, ...]
    position: tuple[float, float, float]
    pixel_spacing: tuple[float, float]
    fallback_spacing: float  # SpacingBetweenSlices / SliceThickness, for a single slice
    slope: float
    intercept: float
    instance: int
    localizer: bool
    echo: str
    has_geometry: bool  # False when ImagePositionPatient/ImageOrientationPatient are missing
    window: tuple[float, float] | None
    problem: str | None = None  # e.g. truncated pixel data, found from the file size: loading will fail
    phase: tuple[str, str] = ("", "")  # (TemporalPositionIdentifier, AcquisitionNumber): phases of one series
    notes: tuple[str, ...] = ()  # header values replaced by a documented fallback (see dicom_checks)
    series_number: str = ""  # SeriesNumber, as the scanner numbered the series (names layers)

    @property
    def path(self) -> Path:
        return self.ref.path

    @property
    def size(self) -> tuple[int, int]:
        return self.ref.layout.rows, self.ref.layout.columns


@dataclass(frozen=True)
class StructureSetFile:
    """An RT structure set or a DICOM SEG found while scanning: regions drawn on the image series it names."""

    path: Path
    series_uids: tuple[str, ...]
    kind: str = "RTSTRUCT"  # or "SEG"

    @property
    def description(self) -> str:
        return "DICOM SEG" if self.kind == "SEG" else "RT structure set"


@dataclass(frozen=True)
class Unreadable:
    """A file that looks like DICOM but whose header cannot be used."""

    path: Path
    reason: str

    def message(self) -> str:
        return f"{self.path}: {self.reason}"


_US_KEYWORDS = {"Rows", "Columns", "BitsAllocated", "BitsStored", "PixelRepresentation", "SamplesPerPixel"}


@functools.cache
def _tag(keyword: str) -> int:
    from pydicom.datadict import tag_for_keyword

    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(f"{keyword} is not a DICOM keyword")
    return tag


def _value(ds, keyword: str):
    """An element's value, parsed straight from pydicom's raw bytes when not converted yet.

    Several times faster than ``ds.get`` (no value validation): text values come
    back as one ``str`` (multiple values still joined by backslashes), US values as
    ``int``; already converted elements as pydicom gives them.
    """
    from pydicom.dataelem import RawDataElement

    elem = ds.get_item(_tag(keyword))
    if elem is None:
        return None
    value = elem.value
    if not (isinstance(elem, RawDataElement) and isinstance(value, bytes)):
        return value
    if keyword in _US_KEYWORDS:
        little = (getattr(ds, "original_encoding", None) or (None, True))[1] is not False
        return int.from_bytes(value[:2], "little" if little else "big") if len(value) >= 2 else None
    return value.decode("latin-1").strip(" \x00") or None


def _split(value) -> list:
    """Values of a (possibly multi-valued) element as a list."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return value.split("\\")
    return list(value) if hasattr(value, "__len__") else [value]


def _floats(value, n: int) -> tuple[float, ...] | None:
    """``n`` floats from a multi-valued DICOM element, or None when absent/wrong length."""
    vals = tuple(float(v) for v in _split(value))
    return vals if len(vals) == n else None


def _first(value) -> float | None:
    vals = _split(value)
    return float(vals[0]) if vals and str(vals[0]).strip() else None


def _int(ds, keyword: str, default: int | None = None) -> int:
    """An integer element; a missing or malformed one raises ValueError naming it."""
    value = _value(ds, keyword)
    if value is None or value == "":
        if default is None:
            raise ValueError(f"{keyword} is missing")
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{keyword} = {str(value)!r} is not an integer") from None


def _window(ds) -> tuple[float, float] | None:
    center, width = _first(_value(ds, "WindowCenter")), _first(_value(ds, "WindowWidth"))
    return (center, width) if center is not None and width else None


def _item(group_seq: str, frame_groups, shared):
    """First item of a functional group macro, per-frame first, then shared."""
    for groups in (frame_groups, shared):
        seq = None if groups is None else groups.get(group_seq)
        if seq:
            return seq[0]
    return None


def _transfer_syntax(ds) -> str:
    """The file's transfer syntax; for files without meta header, the encoding pydicom found."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return str(meta.TransferSyntaxUID)
    implicit, little = getattr(ds, "original_encoding", (True, True))
    if not little:
        return "1.2.840.10008.1.2.2"
    return "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"


def _pixel_layout(ds, pixel_offset: int | None, frames: int) -> PixelLayout:
    return PixelLayout(
        transfer_syntax=_transfer_syntax(ds),
        rows=_int(ds, "Rows"),
        columns=_int(ds, "Columns"),
        frames=frames,
        bits_allocated=_int(ds, "BitsAllocated"),
        bits_stored=_int(ds, "BitsStored", _int(ds, "BitsAllocated")),
        pixel_representation=_int(ds, "PixelRepresentation", 0),
        samples_per_pixel=_int(ds, "SamplesPerPixel", 1),
        pixel_offset=pixel_offset,
    )


@dataclass(frozen=True)
class _FrameValues:
    """Values a frame may take from its file's top level or from its functional groups."""

    iop: tuple[float, ...] | None
    ipp: tuple[float, ...] | None
    spacing: tuple[float, float] | None
    n_spacing: int
    slope: float | None
    inter: float | None
    window: tuple[float, float] | None
    thick: float


def _headers_from_dataset(ds, path: Path, pixel_offset: int | None, file_size: int) -> list[SliceHeader]:
    frames = _int(ds, "NumberOfFrames", 1)
    layout = _pixel_layout(ds, pixel_offset, frames)
    check_layout(layout, file_size)  # before one record per frame is built
    image_type = tuple(str(v).strip().upper() for v in _split(_value(ds, "ImageType")))
    series_uid = str(_value(ds, "SeriesInstanceUID") or "unknown-series").strip()
    modality = str(_value(ds, "Modality") or "").strip()
    description = str(ds.get("SeriesDescription", "") or "")
    series_number = str(_value(ds, "SeriesNumber") or "").strip()
    instance = _int(ds, "InstanceNumber", 0)
    echo = str(_value(ds, "EchoNumbers") or "")
    phase = (str(_value(ds, "TemporalPositionIdentifier") or ""), str(_value(ds, "AcquisitionNumber") or ""))
    thickness = _first(_value(ds, "SpacingBetweenSlices")) or _first(_value(ds, "SliceThickness")) or 1.0
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    spacing0, n_spacing = pixel_spacing(_split(_value(ds, "PixelSpacing")))
    if spacing0 is None:
        spacing0, n_spacing = pixel_spacing(_split(_value(ds, "ImagerPixelSpacing")))
    slope0, inter0 = _first(_value(ds, "RescaleSlope")), _first(_value(ds, "RescaleIntercept"))
    if slope0 is None and modality == "RTDOSE":
        slope0 = _first(_value(ds, "DoseGridScaling"))  # stored values -> Gy
    offsets = _split(_value(ds, "GridFrameOffsetVector")) or None
    base = _FrameValues(
        iop=_floats(_value(ds, "ImageOrientationPatient"), 6),
        ipp=_floats(_value(ds, "ImagePositionPatient"), 3),
        spacing=spacing0,
        n_spacing=n_spacing,
        slope=slope0,
        inter=inter0,
        window=_window(ds),
        thick=thickness,
    )
    if per_frame is not None and frames > 1 and len(per_frame) < frames:
        raise ValueError(f"NumberOfFrames = {frames} but only {len(per_frame)} per-frame functional groups")
    out = []
    for f in range(frames):
        groups = per_frame[f] if per_frame is not None and f < len(per_frame) else None
        v = _functional_groups(base, groups, shared)
        check_rescale(v.slope, v.inter, layout.bits_stored)
        has_geometry = v.iop is not None and v.ipp is not None
        iop, spacing, notes = check_plane(v.iop, v.ipp, v.spacing, v.n_spacing)
        iop = iop or _DEFAULT_IOP
        ipp = np.asarray(v.ipp or (0.0, 0.0, 0.0), dtype=float)
        thick = v.thick if np.isfinite(v.thick) and 0 < abs(v.thick) < 1e4 else 1.0
        if frames > 1 and groups is None:  # classic multi-frame: frames along the normal
            step = float(offsets[f]) if offsets is not None and f < len(offsets) else f * thick
            ipp = ipp + slice_normal(iop) * step
            if not np.all(np.abs(ipp) <= MAX_COORDINATE_MM):  # False for NaN too
                raise ValueError(
                    f"frame {f + 1}: GridFrameOffsetVector or slice thickness places it nowhere ({tuple(ipp)})"
                )
        out.append(
            SliceHeader(
                ref=SliceRef(path, f, layout),
                series_uid=series_uid,
                modality=modality,
                description=description,
                series_number=series_number,
                iop=tuple(iop),
                position=(float(ipp[0]), float(ipp[1]), float(ipp[2])),
                pixel_spacing=spacing,
                fallback_spacing=float(abs(thick)),
                slope=1.0 if v.slope is None else v.slope,
                intercept=0.0 if v.inter is None else v.inter,
                instance=instance,
                localizer="LOCALIZER" in image_type,
                echo=echo,
                has_geometry=has_geometry,
                window=v.window,
                phase=phase,
                notes=tuple(notes),
            )
        )
    return out


def _functional_groups(base: _FrameValues, groups, shared) -> _FrameValues:
    """``base`` values overridden by an enhanced file's per-frame, then shared, functional groups."""
    v = base
    if groups is None and shared is None:
        return v
    if (item := _item("PlaneOrientationSequence", groups, shared)) is not None:
        v = dataclasses.replace(v, iop=_floats(item.get("ImageOrientationPatient"), 6) or v.iop)
    if (item := _item("PlanePositionSequence", groups, shared)) is not None:
        v = dataclasses.replace(v, ipp=_floats(item.get("ImagePositionPatient"), 3) or v.ipp)
    if (item := _item("PixelMeasuresSequence", groups, shared)) is not None:
        spacing, n = pixel_spacing(_split(item.get("PixelSpacing")))
        if spacing is not None:
            v = dataclasses.replace(v, spacing=spacing, n_spacing=n)
        thick = _first(item.get("SpacingBetweenSlices")) or _first(item.get("SliceThickness")) or v.thick
        v = dataclasses.replace(v, thick=thick)
    if (item := _item("PixelValueTransformationSequence", groups, shared)) is not None:
        slope = _first(item.get("RescaleSlope")) if "RescaleSlope" in item else v.slope
        inter = _first(item.get("RescaleIntercept")) if "RescaleIntercept" in item else v.inter
        v = dataclasses.replace(v, slope=slope, inter=inter)
    if (item := _item("FrameVOILUTSequence", groups, shared)) is not None:
        v = dataclasses.replace(v, window=_window(item) or v.window)
    return v


def read_file_headers(path: Path) -> list[SliceHeader] | StructureSetFile | Unreadable | None:
    """Header records of one file: a list (an image), a StructureSetFile, ``None`` (neither) or Unreadable."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    kind = sniff(path)
    if kind is None:
        return None
    if kind == "named":
        return Unreadable(path, "damaged DICOM file (no 'DICM' marker at byte 128 and no DICOM element at the start)")
    try:
        with open(path, "rb") as fp:
            # values over 1 MiB stay on disk until used: a damaged length field must not make pydicom
            # allocate gigabytes for a header (seen in the fuzz run: an RT dose asked for > 4 GiB)
            ds = pydicom.dcmread(fp, stop_before_pixels=True, force=True, defer_size=1 << 20)
            end_of_header = fp.tell()
            head = fp.read(12)  # the Pixel Data element's tag, VR and length
            size = os.fstat(fp.fileno()).st_size
        tag = head[:4]
        has_pixels = tag in _PIXEL_TAGS
        offset: int | None = end_of_header if tag == _PIXEL_TAGS[0] else None
        if _transfer_syntax(ds) == DEFLATED:  # inflated in memory: no offset in the file; look in the whole dataset
            has_pixels, offset = "PixelData" in pydicom.dcmread(path, force=True), None
    except InvalidDicomError as exc:
        return Unreadable(path, f"unreadable DICOM file ({one_line(exc)})")
    except Exception as exc:  # pydicom raises many types for broken headers
        return Unreadable(path, f"unreadable DICOM header ({one_line(exc)})")
    if is_segmentation(ds):  # has pixel data, but is a mask made on another series, never an image
        return StructureSetFile(path, seg_referenced_series_uids(ds), "SEG")
    if not has_pixels or "Rows" not in ds:
        if is_structure_set(ds):
            return StructureSetFile(path, referenced_series_uids(ds))
        return None  # DICOMDIR, structured report...: not an image
    try:
        headers = _headers_from_dataset(ds, path, offset, size)
    except Exception as exc:  # invalid values (e.g. IS '1A') surface on access
        return Unreadable(path, f"invalid DICOM header value ({one_line(exc)})")
    problem = colour_problem(path, _value(ds, "PhotometricInterpretation")) or pixel_data_problem(
        path, headers[0].ref.layout, head, size
    )
    return [dataclasses.replace(h, problem=problem) for h in headers] if problem else headers


def read_headers(
    files: list[Path], workers: int | None = None
) -> tuple[list[SliceHeader], list[Unreadable], list[StructureSetFile]]:
    """Read the headers of ``files`` in parallel.

    Returns
    -------
    slices : list of SliceHeader
        One per 2D image found, in file order.
    unreadable : list of Unreadable
        Files that look like DICOM but cannot be used.
    structure_sets : list of StructureSetFile
        RT structure sets and DICOM SEGs (other files that are not DICOM images are left out).
    """
    n_workers = max(1, min(workers or default_workers(), len(files)))
    if n_workers == 1:
        results = [read_file_headers(f) for f in files]
    else:
        with ThreadPoolExecutor(n_workers) as pool:
            results = list(pool.map(read_file_headers, files, chunksize=16))
    slices: list[SliceHeader] = []
    unreadable: list[Unreadable] = []
    structure_sets: list[StructureSetFile] = []
    for r in results:
        if isinstance(r, Unreadable):
            unreadable.append(r)
        elif isinstance(r, StructureSetFile):
            structure_sets.append(r)
        elif r is not None:
            slices.extend(r)
    return slices, unreadable, structure_sets
