"""What a derived DICOM object (a SEG, an RT structure set) takes from the series it was drawn on.

Both writers refer to the series' images slice by slice and copy its patient and study:
the label map is checked against the volume's grid and put in the series' stacking order
here, and the Type 2 attributes those modules require are made present (empty where the
series lacks them), so that validators such as dciodvfy accept the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MedsegError
from ..volume import Volume
from .dicom import source_slices

__all__ = ["PATIENT_STUDY_TYPE2", "fill_type2", "labels_on_series"]

#: Type 2 attributes of the Patient and General Study modules, present in every derived object.
PATIENT_STUDY_TYPE2 = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
)


def fill_type2(ds, keywords: tuple[str, ...] = PATIENT_STUDY_TYPE2) -> None:
    """Add each of ``keywords`` missing from the pydicom dataset ``ds``, empty (in place)."""
    for keyword in keywords:
        if keyword not in ds:
            setattr(ds, keyword, "")


def labels_on_series(
    labels: np.ndarray, volume: Volume, out: str | Path
) -> tuple[str, np.ndarray, list[tuple[Path, int]]]:
    """A label map on ``volume``'s grid in its DICOM series' order, with the images it lies on.

    Parameters
    ----------
    labels : (Z, Y, X) integer ndarray on ``volume``'s grid.
    volume : Volume read from a DICOM series (its ``meta`` names the folder and series).
    out : the file about to be written (it must not be one of the series' images).

    Returns
    -------
    series_uid : str, the series' SeriesInstanceUID.
    file_labels : (column, row, slice) ndarray, ``labels`` as the series stacks its images.
    slices : list of (file, frame), the image of each slice of ``file_labels``.

    Raises
    ------
    MedsegError
        ``labels`` is not on the grid, or ``volume`` does not come from a DICOM series.
    """
    labels = np.asarray(labels)
    if labels.shape != volume.shape:
        raise MedsegError(f"labels of shape {labels.shape} are not on the image's grid {volume.shape}")
    series_uid, slices = source_slices(volume, out=out)  # (file, frame) per slice, in stacking order
    file_labels = volume.to_file_order(labels)
    if file_labels.shape[2] != len(slices):
        raise MedsegError("the image's slices do not match its DICOM series; reopen it from DICOM")
    return series_uid, file_labels, slices
