"""A label map -> a DICOM RT structure set on the DICOM series it was drawn on.

Each label becomes one ROI (its name and colour). On every slice of the series where a
label has voxels, its contours follow the outer edges of those voxels (and of holes), a
quarter pixel inside them, so that reading the set back by the pixel-centre rule of
:mod:`.rtstruct` gives the same voxels, and planning systems that fill contours by their
area see the same shape to within half a pixel. Each contour names the image it lies on
(ContourImageSequence), and the set copies the patient, study and frame of reference of
the series, so it files next to it in a PACS or a planning system, with every Type 2
attribute present (empty where the series lacks it), as dciodvfy checks.
"""

from __future__ import annotations

import datetime
import warnings as _warnings
from pathlib import Path

import numpy as np

from ..label_maps import present_labels
from ..volume import Volume
from .atomic import atomic_path
from .dicom_derived import PATIENT_STUDY_TYPE2, fill_type2, labels_on_series
from .rtstruct import RTSTRUCT_SOP_CLASS

__all__ = ["mask_contours", "write_structure_set"]

_COPIED = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "FrameOfReferenceUID",
    "PositionReferenceIndicator",
)
#: Type 2 attributes of the RT structure set's modules (Patient, General Study, RT Series, Frame of Reference).
_TYPE2 = (*PATIENT_STUDY_TYPE2, "OperatorsName", "PositionReferenceIndicator")
_STUDY_COMPONENT_SOP_CLASS = "1.2.840.10008.3.1.2.3.1"


def mask_contours(mask: np.ndarray) -> list[np.ndarray]:
    """Closed contours around the pixels of a 2D mask, holes and islands included.

    Parameters
    ----------
    mask : (rows, columns) bool ndarray

    Returns
    -------
    list of (N, 2) float arrays of (row, column) pixel coordinates (pixel centres at whole
    numbers), each a quarter pixel inside the pixels' outer edges; by the even-odd rule
    their centres are exactly ``mask``.
    """
    import cv2

    if not mask.any():
        return []
    doubled = mask.astype(np.uint8).repeat(2, axis=0).repeat(2, axis=1)  # each pixel as 2x2
    found, _ = cv2.findContours(doubled, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    # the centre of doubled pixel u lies at u / 2 - 0.25 in the original pixel coordinates
    return [c[:, 0, ::-1].astype(float) / 2 - 0.25 for c in found]


def _ds_number(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def write_structure_set(
    path: str | Path,
    labels: np.ndarray,
    volume: Volume,
    names: dict[int, str] | None = None,
    colours: dict[int, str] | None = None,
    label: str = "napari-medseg",
) -> Path:
    """Write ``labels`` (on ``volume``'s grid) as an RT structure set referring to ``volume``'s series.

    Parameters
    ----------
    path : str or Path, the ``.dcm`` file to write (atomically).
    labels : (Z, Y, X) integer ndarray on ``volume``'s grid.
    volume : Volume read from a DICOM series (its ``meta`` names the folder and series).
    names : dict int -> str, ROI names (default ``label K``).
    colours : dict int -> ``#rrggbb``, ROI display colours (default the palette's).
    label : str, StructureSetLabel.

    Raises
    ------
    MedsegError
        ``volume`` does not come from a DICOM series, or ``labels`` is not on its grid.
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    from ..colours import colour_of

    labels = np.asarray(labels)
    series_uid, file_labels, slices = labels_on_series(labels, volume, path)
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        first = pydicom.dcmread(slices[0][0], stop_before_pixels=True, force=True)
        images: dict[Path, tuple[str, str]] = {}
        for image, _ in slices:
            if image not in images:
                ids = pydicom.dcmread(
                    image, stop_before_pixels=True, force=True, specific_tags=["SOPClassUID", "SOPInstanceUID"]
                )
                images[image] = (str(ids.SOPClassUID), str(ids.SOPInstanceUID))
    multi_frame = len(images) < len(slices)

    def image_reference(k: int) -> Dataset:
        item = Dataset()
        item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = images[slices[k][0]]
        if multi_frame:
            item.ReferencedFrameNumber = slices[k][1] + 1
        return item

    now = datetime.datetime.now()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(RTSTRUCT_SOP_CLASS)
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = RTSTRUCT_SOP_CLASS, ds.file_meta.MediaStorageSOPInstanceUID
    for keyword in _COPIED:
        if keyword in first:
            setattr(ds, keyword, first[keyword].value)
    fill_type2(ds, _TYPE2)
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = "RTSTRUCT", generate_uid(), 999, 1
    ds.SeriesDescription = ds.StructureSetLabel = label[:16]
    ds.StructureSetDate, ds.StructureSetTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.Manufacturer = "napari-medseg"
    frame_uid = str(first.get("FrameOfReferenceUID", "") or generate_uid())
    ds.FrameOfReferenceUID = frame_uid
    referenced_series = Dataset()
    referenced_series.SeriesInstanceUID = series_uid
    referenced_series.ContourImageSequence = [image_reference(k) for k in range(len(slices))]
    study = Dataset()
    study.ReferencedSOPClassUID = _STUDY_COMPONENT_SOP_CLASS
    study.ReferencedSOPInstanceUID = str(first.get("StudyInstanceUID", "") or generate_uid())
    study.RTReferencedSeriesSequence = [referenced_series]
    frame = Dataset()
    frame.FrameOfReferenceUID = frame_uid
    frame.RTReferencedStudySequence = [study]
    ds.ReferencedFrameOfReferenceSequence = [frame]

    affine = volume.file_affine  # file index (column, row, slice) -> LPS mm
    rois, contours_of_rois, observations = [], [], []
    present = present_labels(labels)
    for number, value in enumerate(present, start=1):
        roi = Dataset()
        roi.ROINumber, roi.ReferencedFrameOfReferenceUID = number, frame_uid
        roi.ROIName = (names or {}).get(value) or f"label {value}"
        roi.ROIGenerationAlgorithm = "SEMIAUTOMATIC"
        rois.append(roi)
        sequence = []
        for k in np.flatnonzero((file_labels == value).any(axis=(0, 1))):
            for rc in mask_contours(value == file_labels[:, :, k].T):  # (row, column) of slice k
                index = np.column_stack([rc[:, 1], rc[:, 0], np.full(len(rc), k), np.ones(len(rc))])
                contour = Dataset()
                contour.ContourImageSequence = [image_reference(int(k))]
                contour.ContourGeometricType = "CLOSED_PLANAR"
                contour.NumberOfContourPoints = len(rc)
                contour.ContourData = [_ds_number(v) for v in (index @ affine.T)[:, :3].ravel()]
                sequence.append(contour)
        item = Dataset()
        item.ReferencedROINumber = number
        hex_colour = colour_of(value, colours).lstrip("#")
        item.ROIDisplayColor = [int(hex_colour[i : i + 2], 16) for i in (0, 2, 4)]
        item.ContourSequence = sequence
        contours_of_rois.append(item)
        observation = Dataset()
        observation.ObservationNumber, observation.ReferencedROINumber = number, number
        observation.RTROIInterpretedType, observation.ROIInterpreter = "", ""
        observations.append(observation)
    ds.StructureSetROISequence = rois
    ds.ROIContourSequence = contours_of_rois
    ds.RTROIObservationsSequence = observations
    path = Path(path)
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return path
