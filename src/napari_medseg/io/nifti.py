"""NIfTI (.nii, .nii.gz) reading and writing with nibabel, converted to and from LPS.

What is refused before any voxel is read (one line naming the file): CIFTI and other
non-volume intents, complex and RGB voxels, more than three non-trivial dimensions, an
empty axis, and an image larger than the memory available. The affine is nibabel's
choice (sform if its code is set, else qform, else the voxel sizes alone); when that one is
unusable (NaN, zero voxel size, parallel axes) the next valid one is taken with a warning,
as ITK does with a broken sform; when none is usable the file is refused. nibabel's own
messages about the header become one-line warnings of the volume, never terminal chatter.
A file too small for what its header promises is refused before anything is allocated, and a
.nii.gz is decompressed in chunks into the output array (peak memory about one image, where
nibabel's reader holds two).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import MedsegError, VolumeReadError
from ..volume import Volume, affine_problem
from .atomic import atomic_path
from .checks import require_fits_in_memory

if TYPE_CHECKING:
    import nibabel as nib

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])  # its own inverse
#: DEFLATE (gzip) expands at most about 1032-fold: a .nii.gz smaller than this share of what its
#: header promises cannot hold it.
MAX_GZIP_RATIO = 1032
GZIP_CHUNK = 1 << 24  # bytes decompressed at a time into the output array
#: NIFTI_INTENT_CONNECTIVITY_* (3000-3099): CIFTI matrices, not voxel volumes.
CIFTI_INTENTS = range(3000, 3100)
_NIBABEL_LOG_LOCK = threading.Lock()


class _Collect(logging.Handler):
    def __init__(self, into: list[str]):
        super().__init__()
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(" ".join(record.getMessage().split()))


@contextlib.contextmanager
def _nibabel_messages(into: list[str]):
    """Collect nibabel's log lines and warnings into ``into`` (one line each) instead of printing them."""
    logger = logging.getLogger("nibabel.global")
    with _NIBABEL_LOG_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        handlers, propagate = logger.handlers[:], logger.propagate
        logger.handlers, logger.propagate = [_Collect(into)], False
        try:
            yield
        finally:
            logger.handlers, logger.propagate = handlers, propagate
    into.extend(" ".join(str(w.message).split()) for w in caught)


def _as_nifti(img: object, path: Path) -> nib.Nifti1Image:
    """``img`` (what ``nibabel.load`` returned) as a NIfTI image; CIFTI and other formats refused."""
    import nibabel as nib

    if not isinstance(img, nib.Nifti1Image) or type(img).__name__.startswith("Cifti"):
        what = "CIFTI" if type(img).__name__.startswith("Cifti") else type(img).__name__
        raise VolumeReadError(f"{path}: a {what} file, not a NIfTI volume")
    return img


def _check_header(img: nib.Nifti1Image, path: Path) -> tuple[int, ...]:
    """The shape to read (trailing length-1 axes dropped), after refusing what is no grey 3D volume."""
    hdr = img.header
    intent = int(hdr["intent_code"])
    if intent in CIFTI_INTENTS:
        raise VolumeReadError(f"{path}: a CIFTI connectivity/matrix file (intent {intent}), not a 3D volume")
    dtype = hdr.get_data_dtype()
    if dtype.names:
        raise VolumeReadError(f"{path}: colour (RGB/RGBA) voxels; only grey-level volumes are supported")
    if dtype.kind == "c":
        raise VolumeReadError(f"{path}: complex voxels; convert to magnitude first")
    shape = tuple(int(n) for n in img.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) > 4:
        raise VolumeReadError(f"{path}: a {len(shape)}D NIfTI of shape {shape}; only 3D and 4D files are supported")
    if 0 in shape:
        raise VolumeReadError(f"{path}: an image with no voxels (shape {shape})")
    out_dtype = np.dtype(np.float64) if hdr.get_slope_inter() != (None, None) else dtype
    n = int(np.prod(shape, dtype=np.int64))
    _require_data_present(path, int(hdr.get_data_offset()) + n * dtype.itemsize)
    one = int(np.prod(shape[:3], dtype=np.int64))  # a 4D file is read one volume at a time
    require_fits_in_memory(
        one * max(out_dtype.itemsize, dtype.itemsize), path, f"{' x '.join(map(str, shape[:3]))} voxels"
    )
    return shape


def _require_data_present(path: Path, needed: int) -> None:
    """Refuse a file too small to hold what its header promises (before anything is allocated)."""
    size = path.stat().st_size
    gz = path.name.lower().endswith(".gz")
    if size * (MAX_GZIP_RATIO if gz else 1) < needed:
        what = "even decompressed, " if gz else ""
        raise VolumeReadError(
            f"{path}: {what}its {size} bytes cannot hold the {needed} bytes its header describes "
            "(truncated, or a damaged header)"
        )


def _read_gz_voxels(img, path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """The voxels of a .nii.gz, decompressed in chunks straight into the output array, then scaled.

    nibabel reads the whole stream into a bytes object and copies it (twice the image in memory);
    this keeps the peak near one image. Scaling is nibabel's own (``apply_read_scaling``, with
    the header's slope and intercept cast as its ArrayProxy casts them).
    """
    import gzip

    from nibabel.volumeutils import apply_read_scaling

    hdr = img.header
    out = np.empty(int(np.prod(shape, dtype=np.int64)), dtype=hdr.get_data_dtype())
    view = out.data.cast("B")
    with gzip.open(path, "rb") as fp:
        fp.seek(int(img.dataobj.offset))
        done = 0
        while done < len(view):
            got = fp.readinto(view[done : done + GZIP_CHUNK])
            if not got:
                raise VolumeReadError(f"{path}: truncated NIfTI file (data ends after {done} of {len(view)} bytes)")
            done += got
    slope, inter = np.asanyarray(img.dataobj.slope), np.asanyarray(img.dataobj.inter)
    if np.can_cast(inter, slope.dtype):
        inter = inter.astype(slope.dtype)
    return apply_read_scaling(out.reshape(shape, order="F"), slope, inter)


def _affine(img, warns: list[str]) -> np.ndarray:
    """The RAS affine nibabel would choose, or the next usable one (with a warning)."""
    hdr = img.header
    candidates = []
    if hdr["sform_code"] != 0:
        candidates.append(("sform", hdr.get_sform))
    if hdr["qform_code"] != 0:
        candidates.append(("qform", hdr.get_qform))
    candidates.append(("voxel sizes (pixdim)", hdr.get_base_affine))
    problems = []
    for name, get in candidates:
        try:
            affine = np.asarray(get(), dtype=float)
        except Exception as exc:  # nibabel raises on some broken quaternions
            problems.append(f"{name}: {' '.join(str(exc).split())}")
            continue
        problem = affine_problem(affine)
        if problem is None:
            if problems:
                warns.append(f"unusable {'; '.join(problems)}; placed by the {name} instead")
            return affine
        problems.append(f"{name}: {problem}")
    raise VolumeReadError(f"{img.get_filename()}: unusable geometry ({'; '.join(problems)})")


def read_nifti(path: str | Path, volume: int | None = None) -> Volume:
    """Read a 3D NIfTI file, or one volume of a 4D file (a time series, several echoes...).

    Parameters
    ----------
    path : str or Path
    volume : int, optional
        Which volume of a 4D file (0-based; default 0, with a warning naming how many
        there are and how to pick another). Refused for 3D files.

    Intensity scaling (``scl_slope``/``scl_inter``) is applied. The affine is the one
    nibabel chooses (sform if its code is set, else qform), converted to LPS; see the
    module docstring for what is refused and the fallback for a broken affine.
    """
    import nibabel as nib

    path = Path(path)
    notes: list[str] = []
    warnings: list[str] = []
    try:
        with _nibabel_messages(notes):
            img = _as_nifti(nib.load(str(path)), path)
            shape = _check_header(img, path)
            affine = _affine(img, notes)
            if len(shape) == 4:  # a 4D file: only the chosen volume is read
                n = shape[3]
                if volume is not None and not 0 <= volume < n:
                    raise VolumeReadError(f"{path}: no volume {volume}; it holds {n} volumes (0 to {n - 1})")
                if volume is None:
                    warnings.append(
                        f"4D file with {n} volumes: volume 0 opened; for another, run `medseg convert "
                        f"{path.name} OUT.nii.gz --volume N` (N from 0 to {n - 1}) and open OUT"
                    )
                volume = volume or 0
                data = np.asanyarray(img.dataobj[..., volume]).reshape(shape[:3])
            elif volume is not None:
                raise VolumeReadError(f"{path}: a {len(shape)}D file has no volumes to choose from; leave out --volume")
            elif path.name.lower().endswith(".gz"):
                data = _read_gz_voxels(img, path, shape)
            else:
                data = np.asanyarray(img.dataobj).reshape(shape)
    except MedsegError:
        raise
    except Exception as exc:  # nibabel raises many types for broken files
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise VolumeReadError(f"{path}: not a readable NIfTI file ({reason})") from None
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim == 1:
        data = data[:, None, None]
    meta: dict[str, object] = {
        "path": str(path),
        "format": "nifti",
        "modality": "",
        "description": path.name,
        "warnings": warnings + [f"nibabel: {n}" for n in dict.fromkeys(notes)],
        "nifti_codes": (int(img.header["sform_code"]), int(img.header["qform_code"])),
    }
    if len(shape) == 4:
        meta.update(description=f"{path.name} [volume {volume}]", volume=volume, n_volumes=shape[3])
    if img.header.get_intent()[0] == "label":  # NIFTI_INTENT_LABEL: a label map, not an image
        meta["labels"] = True
    return Volume.from_file_order(data, RAS_TO_LPS @ affine, meta)


def write_nifti(path: str | Path, array: np.ndarray, reference: Volume, *, dtype=None, labels: bool = False) -> Path:
    """Write ``array`` (on ``reference``'s grid, package axis order) as NIfTI.

    The voxels are written in the reference's file order with its file affine; sform
    and qform are set to the same matrix, so 3D Slicer, ITK-SNAP and nibabel open it
    aligned with the source. Their codes are the source NIfTI's (``meta['nifti_codes']``:
    a template-space sform keeps code 4, MNI), else 1 (scanner). ``labels=True`` sets the
    intent to ``NIFTI_INTENT_LABEL`` (a label map). 64-bit integers are written as such
    (nibabel refuses them unless asked). The write is atomic.
    """
    import nibabel as nib

    if array.shape != reference.shape:
        raise ValueError(f"array shape {array.shape} is not the reference grid {reference.shape}")
    data = reference.to_file_order(array)  # a view; nibabel writes any memory layout (fastest: Fortran order)
    if dtype is not None:
        data = data.astype(dtype, copy=False)
    affine = RAS_TO_LPS @ reference.file_affine
    wide = data.dtype if data.dtype in (np.dtype(np.int64), np.dtype(np.uint64)) else None
    img = nib.Nifti1Image(data, affine, dtype=wide)
    sform_code, qform_code = reference.meta.get("nifti_codes") or (1, 1)
    img.set_sform(affine, code=int(sform_code))
    img.set_qform(affine, code=int(qform_code))
    img.header.set_xyzt_units("mm")
    if labels:
        img.header.set_intent("label")
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))
    return Path(path)
