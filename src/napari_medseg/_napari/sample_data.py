"""npe2 sample-data contributions: the brain MRI with tissue labels, and the CT phantom."""

from __future__ import annotations

from ..samples import BRAIN_TISSUE_NAMES, ct_phantom_paths, load_brain_mri
from . import sources
from .autosave import ensure_autosave
from .layers import image_layer_data, labels_layer_data
from .orientation import ensure_orientation


def _autosave_current_viewer() -> None:
    import napari

    ensure_autosave(napari.current_viewer())  # corrections painted on the samples are snapshotted too
    ensure_orientation(napari.current_viewer())  # superior up, anatomical letters, labelled cursor
    sources.follow_new_labels(napari.current_viewer())  # New Labels keep the link to their image


def brain_mri() -> list[tuple]:
    """MNI ICBM152 2009 T1 (2 mm) and its grey/white matter labels."""
    t1, labels = load_brain_mri()
    _autosave_current_viewer()
    return [
        image_layer_data(t1, "MNI152 T1 (2 mm)"),
        labels_layer_data(labels.array, t1, "tissue (reference)", BRAIN_TISSUE_NAMES),
    ]


def ct_series() -> list[tuple]:
    """The synthetic abdominal CT phantom, read from its DICOM series."""
    from ..io import read_volume

    folder, _ = ct_phantom_paths()
    ct = read_volume(folder)
    _autosave_current_viewer()
    return [image_layer_data(ct, "CT phantom")]
