"""Formats SimpleITK reads and writes (NRRD, MHA/MHD, ...), converted to the package convention."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import VolumeReadError
from ..volume import Volume
from .atomic import atomic_path


def _affine_from_itk(image) -> np.ndarray:
    """LPS affine of the ITK index (i, j, k)."""
    direction = np.array(image.GetDirection(), float).reshape(3, 3)  # columns: i, j, k
    affine = np.eye(4)
    affine[:3, :3] = direction @ np.diag(image.GetSpacing())
    affine[:3, 3] = image.GetOrigin()
    return affine


def read_itk(path: str | Path) -> Volume:
    """Read a 3D image with SimpleITK (NRRD, MHA/MHD, and the other formats it knows)."""
    import SimpleITK as sitk

    path = Path(path)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        raise VolumeReadError(f"{path}: SimpleITK cannot read it ({reason})") from exc
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise VolumeReadError(f"{path}: {image.GetNumberOfComponentsPerPixel()}-component (vector/RGB) images are not supported")
    if image.GetDimension() == 2:
        image = sitk.JoinSeries(image)
    if image.GetDimension() != 3:
        raise VolumeReadError(f"{path}: a {image.GetDimension()}D image; only 3D volumes are supported")
    data = sitk.GetArrayFromImage(image).transpose(2, 1, 0)  # file order = ITK index (i, j, k)
    meta = {"path": str(path), "format": "itk", "modality": "", "description": path.name}
    return Volume.from_file_order(data, _affine_from_itk(image), meta)


def write_itk(path: str | Path, array: np.ndarray, reference: Volume, *, dtype=None) -> Path:
    """Write ``array`` on ``reference``'s grid with SimpleITK (format from the extension).

    Voxels go in the reference's file order, with origin, spacing and direction taken
    from its file affine. The write is atomic.
    """
    import SimpleITK as sitk

    if array.shape != reference.shape:
        raise ValueError(f"array shape {array.shape} is not the reference grid {reference.shape}")
    data = reference.to_file_order(array)
    if dtype is not None:
        data = data.astype(dtype, copy=False)
    file_affine = reference.file_affine  # maps the file's voxel index (i, j, k) to LPS
    lin = file_affine[:3, :3]
    spacing = np.linalg.norm(lin, axis=0)
    image = sitk.GetImageFromArray(np.ascontiguousarray(data.transpose(2, 1, 0)))  # SimpleITK wants (k, j, i)
    image.SetSpacing(tuple(float(s) for s in spacing))
    image.SetDirection(tuple(float(v) for v in (lin / spacing).ravel()))
    image.SetOrigin(tuple(float(v) for v in file_affine[:3, 3]))
    with atomic_path(path) as tmp:
        sitk.WriteImage(image, str(tmp), useCompression=True)
    return Path(path)
