"""The sample volumes shipped in ``napari_medseg/sample_data/`` and how their labels are defined.

``brain_mri``: the MNI ICBM152 2009 (sym, release a) T1 template at 2 mm with tissue
labels (1 grey matter, 2 white matter, 3 CSF inside the brain mask) derived from its probability maps by
:func:`brain_tissue_labels`. ``ct_phantom``: a synthetic abdominal CT DICOM series
with the truth of its liver-like organ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .volume import Volume

BRAIN_TISSUE_NAMES = {1: "grey matter", 2: "white matter", 3: "CSF"}


def sample_dir() -> Path:
    """Folder holding the sample data, inside the package."""
    return Path(__file__).resolve().parent / "sample_data"


def brain_tissue_labels(gm: np.ndarray, wm: np.ndarray, brain: np.ndarray | None = None) -> np.ndarray:
    """Hard tissue labels from grey- and white-matter probability maps.

    Each voxel takes the most probable of (rest, grey, white), with
    ``rest = 1 - gm - wm``: 0 rest, 1 grey matter, 2 white matter. With a brain mask,
    the rest inside it (``brain >= 0.5``) is CSF, 3.

    Parameters
    ----------
    gm, wm : ndarray of float in [0, 1], same shape.
    brain : ndarray of float in [0, 1] or bool, same shape, optional
        Brain mask (1 inside, CSF included).

    Returns
    -------
    ndarray of uint8, same shape.
    """
    gm = np.asarray(gm, dtype=np.float32)
    wm = np.asarray(wm, dtype=np.float32)
    rest = 1.0 - gm - wm
    labels = np.argmax(np.stack([rest, gm, wm]), axis=0).astype(np.uint8)
    if brain is not None:
        labels[(labels == 0) & (np.asarray(brain, dtype=np.float32) >= 0.5)] = 3
    return labels


def brain_mri_paths() -> tuple[Path, Path]:
    """Paths of the sample T1 and its tissue labels (NIfTI)."""
    d = sample_dir() / "brain_mri"
    return d / "mni152_t1_2mm.nii.gz", d / "mni152_tissue_2mm.nii.gz"


def load_brain_mri() -> tuple[Volume, Volume]:
    """The sample T1 volume and its tissue label volume (same grid)."""
    from .io import read_volume

    t1_path, labels_path = brain_mri_paths()
    t1 = read_volume(t1_path)
    t1.meta["modality"] = "MR"
    labels = read_volume(labels_path)
    labels.meta["label_names"] = dict(BRAIN_TISSUE_NAMES)
    return t1, labels


def ct_phantom_paths() -> tuple[Path, Path]:
    """Paths of the sample CT DICOM folder and its organ truth (NIfTI)."""
    d = sample_dir()
    return d / "ct_phantom", d / "ct_phantom_organ.nii.gz"
