"""Synthetic DICOM series built with pydicom, for tests, benchmarks and sample data.

Every geometry here is explicit, so a test can state where each voxel must land:
``iop`` is ImageOrientationPatient (row cosines, column cosines), positions are
ImagePositionPatient in LPS mm, ``pixel_spacing`` is (between rows, between columns)
in mm, and pixel arrays are (slice, row, column) of *stored* values (before
RescaleSlope/Intercept), slice k at ``origin + k * slice_spacing * normal``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
AXIAL_IOP = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def oblique_iop(angles_deg=(20.0, -10.0, 15.0)) -> tuple[float, ...]:
    """ImageOrientationPatient of an axial plane rotated about the x, y, z axes (degrees)."""
    ax, ay, az = np.radians(angles_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    rot = rz @ ry @ rx
    return tuple(float(v) for v in np.concatenate([rot[:, 0], rot[:, 1]]))


def normal_of(iop) -> np.ndarray:
    iop = np.asarray(iop, float)
    n = np.cross(iop[:3], iop[3:])
    return n / np.linalg.norm(n)


def _ds(v: float) -> str:
    """A DS string (at most 16 characters) for ``v``."""
    return f"{v:.10g}"[:16]


def image_dataset(
    pixels: np.ndarray,
    *,
    position,
    iop=AXIAL_IOP,
    pixel_spacing=(1.0, 1.0),
    slice_thickness: float = 1.0,
    slope: float = 1.0,
    intercept: float = 0.0,
    series_uid: str,
    study_uid: str,
    frame_uid: str,
    instance: int = 1,
    modality: str = "CT",
    description: str = "synthetic",
    series_number: int = 1,
    image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
    window=None,
    implicit_vr: bool = False,
    sop_uid: str | None = None,
) -> Dataset:
    """One single-frame image dataset (CT or MR storage) with full patient geometry.

    ``pixels`` is a (rows, columns) int16 or uint16 array of stored values.
    """
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE if modality == "CT" else MR_IMAGE_STORAGE
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid or generate_uid()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit_vr else ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.ImageType = list(image_type)
    ds.Modality = modality
    ds.PatientName = "Phantom^Synthetic"
    ds.PatientID = "SYNTH001"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame_uid
    ds.SeriesDescription = description
    ds.SeriesNumber = series_number
    ds.InstanceNumber = int(instance)
    ds.ImagePositionPatient = [_ds(v) for v in position]
    ds.ImageOrientationPatient = [_ds(v) for v in iop]
    ds.PixelSpacing = [_ds(v) for v in pixel_spacing]
    ds.SliceThickness = _ds(slice_thickness)
    ds.RescaleSlope = _ds(slope)
    ds.RescaleIntercept = _ds(intercept)
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = _ds(window[0]), _ds(window[1])
    _set_pixels(ds, pixels)
    return ds


def _file_dataset(sop_class: str) -> Dataset:
    """An empty dataset of ``sop_class`` with a fresh SOPInstanceUID and explicit-VR file meta."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, ds.file_meta.MediaStorageSOPInstanceUID
    return ds


def _set_pixels(ds: Dataset, pixels: np.ndarray) -> None:
    pixels = np.ascontiguousarray(pixels)
    if pixels.dtype not in (np.int16, np.uint16):
        raise ValueError(f"stored pixels must be int16 or uint16, not {pixels.dtype}")
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if pixels.dtype == np.int16 else 0
    ds.PixelData = pixels.astype("<" + pixels.dtype.str[1:], copy=False).tobytes()


@dataclass
class WrittenSeries:
    """What :func:`write_series` wrote: files in slice order (slice k at ``positions[k]``)."""

    paths: list[Path]
    series_uid: str
    positions: np.ndarray  # (N, 3) LPS mm
    iop: tuple[float, ...]
    pixel_spacing: tuple[float, float]


def write_series(
    folder,
    stored: np.ndarray,
    *,
    origin=(0.0, 0.0, 0.0),
    iop=AXIAL_IOP,
    pixel_spacing=(1.0, 1.0),
    slice_spacing: float = 1.0,
    positions=None,
    slope: float = 1.0,
    intercept: float = 0.0,
    instance_order: str = "ascending",
    names: str = "sequential",
    rng: np.random.Generator | None = None,
    series_uid: str | None = None,
    study_uid: str | None = None,
    frame_uid: str | None = None,
    **dataset_kw,
) -> WrittenSeries:
    """Write a (slice, row, column) array of stored values as a single-frame series.

    Parameters
    ----------
    stored : (N, rows, columns) int16 or uint16 ndarray
    positions : (N, 3) array_like, optional
        Explicit ImagePositionPatient per slice; by default slice k lies at
        ``origin + k * slice_spacing * normal``.
    instance_order : {'ascending', 'reversed', 'random'}
        How InstanceNumber runs relative to the slice order.
    names : {'sequential', 'random'}
        ``slice_000.dcm`` ... or random hexadecimal names without extension.
    series_uid, study_uid, frame_uid : str, optional
        Fresh random UIDs by default; SOPInstanceUIDs derive from the series UID,
        so fixed UIDs give byte-identical files.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = rng or np.random.default_rng(0)
    n = len(stored)
    if positions is None:
        positions = np.asarray(origin, float) + np.outer(np.arange(n) * slice_spacing, normal_of(iop))
    positions = np.asarray(positions, float)
    instances = {"ascending": np.arange(1, n + 1), "reversed": np.arange(n, 0, -1), "random": rng.permutation(n) + 1}[
        instance_order
    ]
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    frame_uid = frame_uid or generate_uid()
    paths = []
    for k in range(n):
        ds = image_dataset(
            stored[k],
            position=positions[k],
            iop=iop,
            pixel_spacing=pixel_spacing,
            slice_thickness=slice_spacing,
            slope=slope,
            intercept=intercept,
            series_uid=series_uid,
            study_uid=study_uid,
            frame_uid=frame_uid,
            instance=int(instances[k]),
            sop_uid=generate_uid(entropy_srcs=[series_uid, str(k)]),
            **dataset_kw,
        )
        name = uuid.UUID(bytes=rng.bytes(16)).hex if names == "random" else f"slice_{k:03d}.dcm"
        path = folder / name
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return WrittenSeries(paths, series_uid, positions, tuple(iop), tuple(pixel_spacing))


def write_enhanced_ct(
    path,
    stored: np.ndarray,
    *,
    origin=(0.0, 0.0, 0.0),
    iop=AXIAL_IOP,
    pixel_spacing=(1.0, 1.0),
    slice_spacing: float = 1.0,
    slope: float = 1.0,
    intercept: float = 0.0,
    frame_order=None,
    positions=None,
) -> np.ndarray:
    """Write an enhanced CT multi-frame file; frame f holds slice ``frame_order[f]``.

    Positions are per frame (PlanePositionSequence): ``positions`` (N, 3) LPS, or evenly
    along the normal from ``origin``. Orientation, pixel measures and rescale are shared
    functional groups. Returns the (N, 3) LPS position of each *slice* (not frame).
    """
    n = len(stored)
    order = np.arange(n) if frame_order is None else np.asarray(frame_order)
    if positions is None:
        positions = np.asarray(origin, float) + np.outer(np.arange(n) * slice_spacing, normal_of(iop))
    positions = np.asarray(positions, float)
    ds = _file_dataset(ENHANCED_CT_STORAGE)
    ds.Modality, ds.ImageType = "CT", ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = generate_uid(), generate_uid(), generate_uid()
    ds.SeriesDescription, ds.InstanceNumber = "enhanced synthetic", 1
    ds.NumberOfFrames = n
    shared = Dataset()
    orient, measures, transform = Dataset(), Dataset(), Dataset()
    orient.ImageOrientationPatient = [_ds(v) for v in iop]
    measures.PixelSpacing = [_ds(v) for v in pixel_spacing]
    measures.SliceThickness = _ds(slice_spacing)
    transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = _ds(slope), _ds(intercept), "HU"
    shared.PlaneOrientationSequence = [orient]
    shared.PixelMeasuresSequence = [measures]
    shared.PixelValueTransformationSequence = [transform]
    ds.SharedFunctionalGroupsSequence = [shared]
    frames = []
    for f in range(n):
        item, pos = Dataset(), Dataset()
        pos.ImagePositionPatient = [_ds(v) for v in positions[order[f]]]
        item.PlanePositionSequence = [pos]
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = frames
    _set_pixels(ds, stored[order])
    ds.save_as(Path(path), enforce_file_format=True)
    return positions


def write_marked_series(
    folder,
    marks,
    iop=(1.0, 0, 0, 0, 1, 0),
    shape=(8, 40, 48),
    spacing=(0.8, 0.7),
    step=2.0,
    origin=(-100.0, -80.0, 30.0),
):
    """A series whose stored value is ``value`` inside each (value, slices, rows, cols) box: the truth.

    Returns the written series and, per mark, contours of its box's pixel edges in LPS mm.
    """
    stored = np.zeros(shape, np.int16)
    for value, ks, rs, cs in marks:
        stored[ks, rs, cs] = value
    written = write_series(folder, stored, iop=iop, pixel_spacing=spacing, slice_spacing=step, origin=origin)
    row_dir, col_dir = np.array(iop[:3]), np.array(iop[3:])

    def lps(k, r, c):  # DICOM pixel (slice k, row r, column c) centre in LPS mm
        return (
            written.positions[0]
            + k * step * np.cross(row_dir, col_dir)
            + c * spacing[1] * row_dir
            + r * spacing[0] * col_dir
        )

    contours = []
    for _value, ks, rs, cs in marks:
        r0, r1, c0, c1 = rs.start - 0.5, rs.stop - 0.5, cs.start - 0.5, cs.stop - 0.5
        contours.append(
            [
                np.array([lps(k, r0, c0), lps(k, r0, c1), lps(k, r1, c1), lps(k, r1, c0)])
                for k in range(ks.start, ks.stop)
            ]
        )
    return written, contours


RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"


def write_rtstruct(path, series_uid: str, rois, *, frame_uid: str = "1.2.3.4") -> Path:
    """Write an RT structure set whose ROIs were drawn on series ``series_uid``.

    Parameters
    ----------
    rois : list of (name, (r, g, b) or None, list of (N, 3) LPS contours)
        Contours with 1 point are written as POINT, others as CLOSED_PLANAR.
    """
    ds = _file_dataset(RT_STRUCTURE_SET_STORAGE)
    ds.Modality, ds.StructureSetLabel = "RTSTRUCT", "synthetic"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    referenced_series, study, frame = Dataset(), Dataset(), Dataset()
    referenced_series.SeriesInstanceUID = series_uid
    study.RTReferencedSeriesSequence = [referenced_series]
    frame.FrameOfReferenceUID = frame_uid
    frame.RTReferencedStudySequence = [study]
    ds.ReferencedFrameOfReferenceSequence = [frame]
    roi_items, contour_items = [], []
    for number, (name, colour, contours) in enumerate(rois, start=1):
        roi = Dataset()
        roi.ROINumber, roi.ROIName, roi.ReferencedFrameOfReferenceUID = number, name, frame_uid
        roi_items.append(roi)
        item = Dataset()
        item.ReferencedROINumber = number
        if colour is not None:
            item.ROIDisplayColor = list(colour)
        sequence = []
        for points in contours:
            points = np.asarray(points, float).reshape(-1, 3)
            contour = Dataset()
            contour.ContourGeometricType = "POINT" if len(points) == 1 else "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(points)
            contour.ContourData = [_ds(v) for v in points.ravel()]
            sequence.append(contour)
        item.ContourSequence = sequence
        contour_items.append(item)
    ds.StructureSetROISequence = roi_items
    ds.ROIContourSequence = contour_items
    path = Path(path)
    ds.save_as(path, enforce_file_format=True)
    return path


def mask_outlines(mask: np.ndarray, affine: np.ndarray) -> list[np.ndarray]:
    """The outer outlines of ``mask`` (z, y, x), slice by slice, as (N, 3) LPS contours.

    As a planning system would export them: OpenCV traces the border pixels' centres and
    each point is pushed half a pixel outwards (radially, a close fit for convex shapes).
    """
    import cv2

    contours = []
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        found, _ = cv2.findContours(mask[k].astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        for c in found:
            cols, rows = c[:, 0, 0].astype(float), c[:, 0, 1].astype(float)
            # cv2 walks the centres of the border pixels: push each point half a pixel outwards
            cy, cx = rows.mean(), cols.mean()
            norm = np.hypot(rows - cy, cols - cx) + 1e-9
            rows, cols = rows + 0.5 * (rows - cy) / norm, cols + 0.5 * (cols - cx) / norm
            index = np.stack([np.full_like(rows, k), rows, cols, np.ones_like(rows)], axis=1)
            contours.append((index @ affine.T)[:, :3])
    return contours
