"""Regions drawn on an image series, from either DICOM format: RT structure sets and SEG.

:func:`draw_annotation` reads an RTSTRUCT (:mod:`.rtstruct`, contours) or a SEG
(:mod:`.seg`, masks) and gives the same :class:`~napari_medseg.io.rtstruct.StructureLabels`
on a volume's grid, so the napari reader and ``medseg structures`` treat both alike.
"""

from __future__ import annotations

import warnings as _warnings
from pathlib import Path

from ..errors import VolumeReadError
from ..volume import Volume
from .rtstruct import (
    StructureLabels,
    is_structure_set,
    read_structure_set,
    structures_to_labels,
)
from .seg import is_segmentation, read_segmentation, segmentation_to_labels

__all__ = ["annotation_kind", "draw_annotation"]


def annotation_kind(path: str | Path) -> str | None:
    """``'SEG'``, ``'RTSTRUCT'`` or None (neither), from the file's header only.

    Raises
    ------
    VolumeReadError
        The file cannot be read as DICOM.
    """
    import pydicom

    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True, specific_tags=["SOPClassUID", "Modality"])
    except Exception as exc:  # pydicom raises many types for broken files
        raise VolumeReadError(f"{path}: unreadable DICOM file ({' '.join(str(exc).split())})") from None
    if is_segmentation(ds):
        return "SEG"
    return "RTSTRUCT" if is_structure_set(ds) else None


def draw_annotation(path: str | Path, volume: Volume) -> tuple[str, StructureLabels]:
    """An RT structure set or a DICOM SEG drawn on ``volume``'s grid, one label per ROI or segment.

    Returns
    -------
    name : str
        The set's label (StructureSetLabel / ContentLabel), or the file name.
    drawn : StructureLabels

    Raises
    ------
    VolumeReadError
        ``path`` is neither, or cannot be drawn on this grid.
    """
    path = Path(path)
    kind = annotation_kind(path)
    if kind == "SEG":
        seg = read_segmentation(path)
        return seg.label or path.stem, segmentation_to_labels(seg, volume)
    if kind == "RTSTRUCT":
        structure_set = read_structure_set(path)
        return structure_set.label or path.stem, structures_to_labels(structure_set, volume)
    raise VolumeReadError(f"{path}: neither an RT structure set nor a DICOM SEG")
