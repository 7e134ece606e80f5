"""A label map -> a DICOM Segmentation (SEG) on the DICOM series it was drawn on, with highdicom.

Each label value K becomes segment K (a BINARY SEG), so the file reads back with the same
values here, in 3D Slicer (QuantitativeReporting), OHIF and highdicom. Segment K is
described by its name from the label table (SegmentLabel), its display colour (CIE L*a*b*),
a coded category and type, and the algorithm that made it:

* category and type: SNOMED CT "Anatomical Structure" and the organ when the name is one
  of pydicom's SNOMED CT concepts ("Liver", "left kidney" -> ``Kidney``...), otherwise
  "Tissue" / "Tissue" (what 3D Slicer writes for an unnamed segment);
* algorithm: ``algorithm_type`` SEMIAUTOMATIC by default (painted or corrected in napari),
  AUTOMATIC for a model's output, MANUAL for hand drawing; the algorithm identification
  names napari-medseg and its version (required unless MANUAL).

Frames are written only where a segment has voxels (highdicom omits empty frames); labels
between 1 and the largest value that have no voxel still get a segment (empty), so label
values keep their meaning. A label map with no voxel at all is written with every frame
(empty), as highdicom does. The SEG copies the patient, study and frame of reference of
the series and refers to each of its images.
"""

from __future__ import annotations

import warnings as _warnings
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import MedsegError
from ..volume import Volume
from .atomic import atomic_path
from .dicom_derived import fill_type2, labels_on_series

__all__ = ["ALGORITHM_TYPES", "write_segmentation"]

ALGORITHM_TYPES = ("SEMIAUTOMATIC", "AUTOMATIC", "MANUAL")


def property_codes(name: str):
    """(category, type) codes of a segment named ``name`` (see the module docstring).

    ``"left kidney"`` is tried as ``LeftKidney``, then without its side (``Kidney``).
    """
    from pydicom.sr.codedict import codes

    words = [w.capitalize() for w in name.replace("_", " ").replace("-", " ").split()]
    for keyword in ("".join(words), "".join(words[1:]) if words[:1] in (["Left"], ["Right"]) else ""):
        try:
            return codes.SCT.AnatomicalStructure, getattr(codes.SCT, keyword)
        except AttributeError:  # not a SNOMED CT concept pydicom knows (or an empty keyword)
            continue
    return codes.SCT.Tissue, codes.SCT.Tissue


def _source_datasets(paths: list[Path]) -> list:
    """Headers of the source images, with the Type 2 attributes highdicom needs (empty when absent)."""
    import pydicom

    out = []
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        for path in paths:
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            fill_type2(ds)  # highdicom copies them from the source images
            out.append(ds)
    return out


def _frames_in_source_order(file_labels: np.ndarray, slices: list[tuple[Path, int]], sources: list) -> np.ndarray:
    """The (frames, rows, columns) array highdicom pairs with ``sources`` (the distinct files of ``slices``).

    Single-frame images: one frame per file, in stacking order. One multi-frame file:
    its frames in the file's own order.
    """
    stacked = file_labels.transpose(2, 1, 0)  # (slice, row, column): a view, often the labels array itself
    if len(sources) == len(slices):
        return stacked
    if len(sources) == 1:
        frames = np.zeros((int(sources[0].NumberOfFrames), *stacked.shape[1:]), stacked.dtype)
        frames[[frame for _, frame in slices]] = stacked
        return frames
    raise MedsegError(
        "a DICOM SEG can refer to single-frame images or to one multi-frame file; this series mixes "
        "several multi-frame files"
    )


def write_segmentation(
    path: str | Path,
    labels: np.ndarray,
    volume: Volume,
    names: dict[int, str] | None = None,
    colours: dict[int, str] | None = None,
    label: str = "napari-medseg",
    algorithm_type: str = "SEMIAUTOMATIC",
) -> Path:
    """Write ``labels`` (on ``volume``'s grid) as a binary DICOM SEG referring to ``volume``'s series.

    Parameters
    ----------
    path : str or Path, the ``.dcm`` file to write (atomically).
    labels : (Z, Y, X) integer ndarray on ``volume``'s grid; value K > 0 is segment K.
    volume : Volume read from a DICOM series (its ``meta`` names the folder and series).
    names : dict int -> str, segment labels (default ``label K``).
    colours : dict int -> ``#rrggbb``, display colours (default the palette's).
    label : str, ContentLabel (made a valid code string) and SeriesDescription.
    algorithm_type : {'SEMIAUTOMATIC', 'AUTOMATIC', 'MANUAL'}

    Raises
    ------
    MedsegError
        ``volume`` does not come from a DICOM series, ``labels`` is not on its grid, or a
        label value is negative or above 65535.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    from ..colours import colour_of

    if algorithm_type not in ALGORITHM_TYPES:
        raise MedsegError(f"algorithm type {algorithm_type!r}: use one of {', '.join(ALGORITHM_TYPES)}")
    labels = np.asarray(labels)
    top = int(labels.max(initial=0))
    if top > 65535 or (labels.dtype.kind == "i" and int(labels.min(initial=0)) < 0):
        raise MedsegError(f"label values run from {labels.min()} to {top}: a DICOM SEG numbers segments 1..65535")
    _, file_labels, slices = labels_on_series(labels, volume, path)
    sources = _source_datasets(list(dict.fromkeys(image for image, _ in slices)))
    frames = _frames_in_source_order(file_labels, slices, sources)
    algorithm = None
    if algorithm_type != "MANUAL":
        algorithm = hd.AlgorithmIdentificationSequence(
            name="napari-medseg", version=__version__, family=codes.cid7162.ArtificialIntelligence
        )
    descriptions = []
    for number in range(1, max(top, 1) + 1):
        name = (names or {}).get(number) or f"label {number}"
        category, kind = property_codes(name)
        rgb = colour_of(number, colours).lstrip("#")
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=name[:64],
                segmented_property_category=category,
                segmented_property_type=kind,
                algorithm_type=algorithm_type,
                algorithm_identification=algorithm,
                display_color=hd.color.CIELabColor.from_rgb(*(int(rgb[i : i + 2], 16) for i in (0, 2, 4))),
            )
        )
    content_label = (
        "".join(c if c.isascii() and c.isalnum() else "_" for c in label.upper())[:16].strip("_") or "SEGMENTATION"
    )
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        seg = hd.seg.Segmentation(
            source_images=sources,
            pixel_array=frames.astype(np.uint16 if top > 255 else np.uint8, copy=False),
            segmentation_type="BINARY",
            segment_descriptions=descriptions,
            series_instance_uid=hd.UID(),
            series_number=999,
            sop_instance_uid=hd.UID(),
            instance_number=1,
            manufacturer="napari-medseg",
            manufacturer_model_name="napari-medseg",
            software_versions=__version__,
            device_serial_number="none",
            content_label=content_label,
            content_description=label[:64] or None,
            series_description=label[:64],
        )
    path = Path(path)
    with atomic_path(path) as tmp:
        seg.save_as(tmp, enforce_file_format=True)
    return path
