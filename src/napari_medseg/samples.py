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


#: T1-like layers put around the sample brain by :func:`whole_head_mri`: (from mm, to mm, value).
_HEAD_LAYERS = ((0, 2, 50), (2, 3.5, 10), (3.5, 6.5, 150), (6.5, 8, 10), (8, 12, 100), (12, 16, 220))


def whole_head_mri(noise: float = 4.0, seed: int = 0) -> tuple[Volume, np.ndarray]:
    """The sample brain inside a synthetic T1-like head: CSF, skull (tables and diploe), muscle, fat.

    The layers follow the distance (mm) from a closed hull of the sample's brain; Rician
    noise of sd ``noise`` covers the whole field of view, air included. For trying brain
    extraction: the true brain mask is the sample's ``T1 > 0``.

    Returns
    -------
    (head, brain) : Volume (int16, the sample's grid) and its (Z, Y, X) bool brain mask
    """
    from scipy import ndimage

    t1, _ = load_brain_mri()
    brain = t1.array > 0
    hull = ndimage.binary_closing(brain, np.ones((5, 5, 5), bool)) | brain
    outside = ndimage.distance_transform_edt(~hull, sampling=t1.spacing)
    head = t1.array.astype(np.float32)
    for lo, hi, value in _HEAD_LAYERS:
        head[(outside > lo) & (outside <= hi)] = value
    rng = np.random.default_rng(seed)
    head = np.hypot(head + rng.normal(0, noise, head.shape), rng.normal(0, noise, head.shape))
    meta = {"modality": "MR", "description": "sample brain in a synthetic head"}  # no file behind it
    return Volume(np.round(head).astype(np.int16), t1.affine.copy(), t1.file_order, meta), brain


def ct_phantom_paths() -> tuple[Path, Path]:
    """Paths of the sample CT DICOM folder and its organ truth (NIfTI)."""
    d = sample_dir()
    return d / "ct_phantom", d / "ct_phantom_organ.nii.gz"
