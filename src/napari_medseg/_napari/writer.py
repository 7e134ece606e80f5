"""npe2 writer hooks: a labels layer saved on its source image's exact grid, as an RT structure set or a DICOM SEG."""

from __future__ import annotations

import numpy as np

from ..errors import MedsegError
from ..io import write_labels as write_label_volume
from . import sources
from .layers import label_colours, label_names_from_features, reference_for_labels


def write_labels(path: str, data, meta: dict) -> list[str]:
    """Save a 3D labels layer as NIfTI/NRRD/MHA (by extension) on its source grid.

    The voxel order and affine are those of the image the layer was drawn on, proven by
    the layer's provenance or its grid (:mod:`.sources`); a layer without a provable
    grid is refused (``MedsegError`` saying how to fix it), never written on a guess.
    A NIfTI is marked as a label map (intent label); the names (``features``) and the
    colours the layer draws go to an ITK-SNAP label description file beside it.
    """
    from ..io.label_table import label_table_path

    data = np.asarray(data)
    if data.ndim != 3:
        raise ValueError(f"only 3D labels layers can be saved as volumes (got {data.ndim}D)")
    if sources.is_source_image(path):
        raise MedsegError(f"{path}: refusing to overwrite an image opened in napari; choose another file name")
    reference = reference_for_labels(data, meta)
    names, colours = _names_and_colours(data, meta)
    written = write_label_volume(path, data, reference, names, colours)
    return [str(written)] + ([str(label_table_path(path))] if names or colours else [])


def _names_and_colours(data: np.ndarray, meta: dict) -> tuple[dict[int, str], dict[int, str]]:
    """Label value -> name and -> ``#rrggbb`` for the labels > 0 present or named in a layer."""
    from ..metrics.overlap import label_volumes_ml

    names = {k: v for k, v in label_names_from_features(meta.get("features")).items() if k > 0}
    values = sorted(set(label_volumes_ml(data, (1.0, 1.0, 1.0))) | set(names))
    colours = label_colours(meta["colormap"], values) if meta.get("colormap") is not None else {}
    return names, colours


def _dicom_labels(data, meta: dict, what: str):
    """The layer's data, its proven source volume, and its label names and colours as the layer shows them."""
    from ..label_maps import present_labels

    data = np.asarray(data)
    if data.ndim != 3:
        raise ValueError(f"only 3D labels layers can be saved as {what} (got {data.ndim}D)")
    reference = reference_for_labels(data, meta, dicom=True)
    present = present_labels(data)
    colours = label_colours(meta["colormap"], present) if meta.get("colormap") is not None else {}
    return data, reference, label_names_from_features(meta.get("features")), colours


def write_rtstruct(path: str, data, meta: dict) -> list[str]:
    """Save a 3D labels layer as a DICOM RT structure set on the DICOM series it was drawn on.

    One ROI per label, named from the layer's ``features`` and coloured as the layer
    draws it (see :mod:`napari_medseg.io.rtstruct_write`).
    """
    from ..io.rtstruct_write import write_structure_set

    data, reference, names, colours = _dicom_labels(data, meta, "RT structure sets")
    return [str(write_structure_set(path, data, reference, names, colours, label=str(meta.get("name", ""))))]


def write_seg(path: str, data, meta: dict) -> list[str]:
    """Save a 3D labels layer as a DICOM SEG (binary, one segment per label value) on its DICOM series.

    Segments are named from the layer's ``features`` and coloured as the layer draws them
    (see :mod:`napari_medseg.io.seg_write`).
    """
    from ..io.seg_write import write_segmentation

    data, reference, names, colours = _dicom_labels(data, meta, "DICOM SEG")
    return [str(write_segmentation(path, data, reference, names, colours, label=str(meta.get("name", ""))))]
