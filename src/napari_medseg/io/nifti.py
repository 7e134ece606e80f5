"""NIfTI (.nii, .nii.gz) reading and writing with nibabel, converted to and from LPS."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import VolumeReadError
from ..volume import Volume
from .atomic import atomic_path

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])  # its own inverse


def read_nifti(path: str | Path, volume: int | None = None) -> Volume:
    """Read a 3D NIfTI file, or one volume of a 4D file (a time series, several echoes...).

    Parameters
    ----------
    path : str or Path
    volume : int, optional
        Which volume of a 4D file (0-based; default 0, with a warning naming how many
        there are and how to pick another). Refused for 3D files.

    Intensity scaling (``scl_slope``/``scl_inter``) is applied. The affine is the one
    nibabel chooses (sform if its code is set, else qform), converted to LPS.
    """
    import nibabel as nib

    path = Path(path)
    try:
        img = nib.load(str(path))
        shape = img.shape
    except Exception as exc:  # nibabel raises many types for broken files
        raise VolumeReadError(f"{path}: not a readable NIfTI file ({exc})") from exc
    warnings = []
    if len(shape) == 4 and (shape[3] > 1 or volume is not None):
        n = shape[3]
        if volume is not None and not 0 <= volume < n:
            raise VolumeReadError(f"{path}: no volume {volume}; it holds {n} volumes (0 to {n - 1})")
        if volume is None and n > 1:
            warnings.append(f"4D file with {n} volumes: volume 0 opened; for another, run "
                            f"`medseg convert {path.name} OUT.nii.gz --volume N` (N from 0 to {n - 1}) and open OUT")
        volume = volume or 0
        index = (slice(None),) * 3 + (volume,)
    elif volume is not None:
        raise VolumeReadError(f"{path}: a {len(shape)}D file has no volumes to choose from; leave out --volume")
    else:
        index = ()
    try:
        data = np.asanyarray(img.dataobj[index] if index else img.dataobj)  # only the chosen volume is read
    except Exception as exc:
        raise VolumeReadError(f"{path}: not a readable NIfTI file ({exc})") from exc
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim != 3:
        raise VolumeReadError(f"{path}: a {data.ndim}D NIfTI of shape {data.shape}; only 3D and 4D files are supported")
    meta = {"path": str(path), "format": "nifti", "modality": "", "description": path.name, "warnings": warnings,
            "nifti_codes": (int(img.header["sform_code"]), int(img.header["qform_code"]))}
    if len(shape) == 4 and shape[3] > 1:
        meta.update(description=f"{path.name} [volume {volume}]", volume=volume, n_volumes=shape[3])
    if img.header.get_intent()[0] == "label":  # NIFTI_INTENT_LABEL: a label map, not an image
        meta["labels"] = True
    return Volume.from_file_order(data, RAS_TO_LPS @ img.affine, meta)


def write_nifti(path: str | Path, array: np.ndarray, reference: Volume, *, dtype=None, labels: bool = False) -> Path:
    """Write ``array`` (on ``reference``'s grid, package axis order) as NIfTI.

    The voxels are written in the reference's file order with its file affine; sform
    and qform are set to the same matrix, so 3D Slicer, ITK-SNAP and nibabel open it
    aligned with the source. Their codes are the source NIfTI's (``meta['nifti_codes']``:
    a template-space sform keeps code 4, MNI), else 1 (scanner). ``labels=True`` sets the
    intent to ``NIFTI_INTENT_LABEL`` (a label map). The write is atomic.
    """
    import nibabel as nib

    if array.shape != reference.shape:
        raise ValueError(f"array shape {array.shape} is not the reference grid {reference.shape}")
    data = reference.to_file_order(array)  # a view; nibabel writes any memory layout (fastest: Fortran order)
    if dtype is not None:
        data = data.astype(dtype, copy=False)
    affine = RAS_TO_LPS @ reference.file_affine
    img = nib.Nifti1Image(data, affine)
    sform_code, qform_code = reference.meta.get("nifti_codes") or (1, 1)
    img.set_sform(affine, code=int(sform_code))
    img.set_qform(affine, code=int(qform_code))
    img.header.set_xyzt_units("mm")
    if labels:
        img.header.set_intent("label")
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))
    return Path(path)
