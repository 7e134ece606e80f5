"""Formats SimpleITK reads and writes (NRRD, MHA/MHD, ...), converted to the package convention.

Before any voxel is read: a detached header (``.mhd``'s ``ElementDataFile``, ``.nhdr``'s
``data file``) may only name data files inside its own folder (never ``/etc/passwd``, a
device or ``../``), and the image the header describes must fit in the memory available.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import VolumeReadError
from ..volume import Volume
from .atomic import atomic_path
from .checks import require_fits_in_memory, require_inside_folder
from .native_stderr import native_stderr

#: Header lines of detached headers that name data files: MetaImage and NRRD.
_DATA_FILE_FIELDS = {
    ".mhd": re.compile(r"^\s*ElementDataFile\s*=\s*(.*?)\s*$", re.I),
    ".nhdr": re.compile(r"^\s*data\s?file\s*:\s*(.*?)\s*$", re.I),
}
_HEADER_LIMIT = 1 << 20  # detached headers are text of a few hundred bytes


def _data_files(header: Path) -> list[str]:
    """The data file names a detached header gives (``LOCAL`` and inline data give none)."""
    pattern = _DATA_FILE_FIELDS[header.suffix.lower()]
    with open(header, "rb") as fp:
        lines = fp.read(_HEADER_LIMIT).decode("latin-1").splitlines()
    for i, line in enumerate(lines):
        match = pattern.match(line)
        if not match:
            continue
        words = match.group(1).split()
        if not words or words[0].upper() == "LOCAL":
            return []
        if words[0].upper() == "LIST":  # the following lines are the file names
            return [ln.strip() for ln in lines[i + 1 :] if ln.strip()]
        if "%" in match.group(1):  # a printf pattern: its folder is what matters
            return [str(Path(words[0]).parent / "x")]
        return [match.group(1)]
    return []


def _check_detached(path: Path) -> list[Path]:
    """The data files of a detached header, each confined to the header's folder."""
    if path.suffix.lower() not in _DATA_FILE_FIELDS:
        return []
    field = "ElementDataFile" if path.suffix.lower() == ".mhd" else "data file"
    return [require_inside_folder(path, name, field) for name in _data_files(path)]


def _check_raw_size(path: Path, data_files: list[Path], nbytes: int) -> None:
    """A MetaImage's single uncompressed data file must hold the whole image (else ITK prints and fails)."""
    if path.suffix.lower() != ".mhd" or len(data_files) != 1 or not data_files[0].is_file():
        return
    header = path.read_text(encoding="latin-1", errors="replace")
    if re.search(r"^\s*CompressedData\s*=\s*True", header, re.I | re.M):
        return
    size = data_files[0].stat().st_size
    if size < nbytes:
        raise VolumeReadError(
            f"{path}: its data file {data_files[0].name} holds {size} bytes, "
            f"{nbytes} needed for the image the header describes (truncated?)"
        )


def _check_header(reader, path: Path) -> int:
    """Refuse colour, non-3D and too large images from the header alone (before reading voxels).

    Returns the image's size in bytes.
    """
    size = [int(n) for n in reader.GetSize()]
    components = max(1, int(reader.GetNumberOfComponents()))
    if components != 1:
        raise VolumeReadError(f"{path}: {components}-component (vector/RGB) images are not supported")
    if len(size) not in (2, 3):
        raise VolumeReadError(f"{path}: a {len(size)}D image; only 3D volumes are supported")
    if 0 in size:
        raise VolumeReadError(f"{path}: an image with no voxels (size {tuple(size)})")
    itemsize = np.dtype(_numpy_dtype(reader.GetPixelIDValue())).itemsize
    n = int(np.prod(size, dtype=np.int64)) * components
    require_fits_in_memory(n * itemsize, path, f"{' x '.join(map(str, size))} voxels")
    return n * itemsize


def _numpy_dtype(pixel_id: int):
    import SimpleITK as sitk

    try:
        return sitk.GetArrayViewFromImage(sitk.Image([1] * 2, pixel_id)).dtype
    except Exception:  # vector or label pixel types: count 8 bytes, the widest scalar
        return np.float64


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
    printed: list[str] = []
    try:
        data_files = _check_detached(path)
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        with native_stderr(printed):
            reader.ReadImageInformation()
        _check_raw_size(path, data_files, _check_header(reader, path))
        with native_stderr(printed):
            image = reader.Execute()
    except OSError as exc:
        raise VolumeReadError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        if printed:  # ITK's own account beats its exception's last line ("No such file or directory")
            reason = "; ".join(printed[-2:])
        raise VolumeReadError(f"{path}: SimpleITK cannot read it ({reason})") from None
    if image.GetDimension() == 2:
        image = sitk.JoinSeries(image)
    data = sitk.GetArrayFromImage(image).transpose(2, 1, 0)  # file order = ITK index (i, j, k)
    meta = {
        "path": str(path),
        "format": "itk",
        "modality": "",
        "description": path.name,
        "warnings": [f"ITK: {line}" for line in dict.fromkeys(printed)],
    }
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
