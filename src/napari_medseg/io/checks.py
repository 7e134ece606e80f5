"""Checks the readers make before they open, allocate or trust what a header says.

A hostile or broken file must give one clear :class:`~napari_medseg.errors.VolumeReadError`
naming it, never a hang (a FIFO or a device opened as a file), a memory blow-up (a header
claiming a huge image), a traceback or a silently wrong volume.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np

from ..errors import VolumeReadError

__all__ = [
    "is_regular_file",
    "require_regular_file",
    "require_fits_in_memory",
    "nonfinite_warning",
    "require_inside_folder",
]


def is_regular_file(path: str | os.PathLike) -> bool:
    """True for a regular file (after symlinks); False for folders, FIFOs, devices, sockets, missing paths.

    Uses ``stat`` only: opening a FIFO would block until a writer comes.
    """
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def require_regular_file(path: str | os.PathLike) -> None:
    """Raise for a path that exists but is no regular file (a FIFO, a device, a socket)."""
    if os.path.exists(path) and not os.path.isdir(path) and not is_regular_file(path):
        raise VolumeReadError(f"{path}: not a regular file (a pipe, device or socket); nothing was read")


def available_memory() -> int:
    """Bytes of memory this process may still use (psutil's estimate; 0 when unknown)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # psutil missing or unsupported platform: no limit known
        return 0


def require_fits_in_memory(nbytes: int, path: str | os.PathLike, what: str) -> None:
    """Refuse to allocate ``nbytes`` for ``what`` when more than the memory available is asked.

    Parameters
    ----------
    nbytes : int, the size of the array a header asks for.
    path : the file, named in the message.
    what : str, what the header describes, e.g. ``"512 x 512 x 80000 voxels of int16"``.
    """
    free = available_memory()
    if free and nbytes > free:
        raise VolumeReadError(
            f"{path}: its header asks for {what} ({nbytes / 2**30:.1f} GiB), more than the "
            f"{free / 2**30:.1f} GiB of memory available; a damaged header?"
        )


def nonfinite_warning(array: np.ndarray) -> str | None:
    """A warning counting NaN and infinite voxels of a float array (None when all are finite)."""
    if array.dtype.kind not in "fc":
        return None
    bad = int(array.size - np.count_nonzero(np.isfinite(array)))
    if not bad:
        return None
    return (
        f"{bad} of {array.size} voxels are NaN or infinite: shown as holes; "
        "models refuse such a volume (replace them first)"
    )


def with_nonfinite_warning(volume):
    """``volume`` (a :class:`~napari_medseg.volume.Volume`), its warnings counting NaN/infinite voxels if any."""
    if (note := nonfinite_warning(volume.array)) is not None:
        volume.meta.setdefault("warnings", []).append(note)
    return volume


def require_inside_folder(header: Path, data_file: str, what: str) -> Path:
    """The path of a detached header's data file, which must lie inside the header's folder.

    Parameters
    ----------
    header : the header file (``.mhd``, ``.nhdr``).
    data_file : the file name the header gives (relative to its folder).
    what : the header field, named in the message.

    Raises
    ------
    VolumeReadError
        An absolute path, a path leaving the folder (``..``, or a link pointing out), or a
        data file that is not a regular file.
    """
    folder = header.resolve().parent
    target = (folder / data_file).resolve()
    if os.path.isabs(data_file) or not target.is_relative_to(folder):
        raise VolumeReadError(
            f"{header}: {what} {data_file!r} lies outside the header's folder; "
            "only data files beside the header are read"
        )
    if target.exists() and not is_regular_file(target):
        raise VolumeReadError(f"{header}: {what} {data_file!r} is not a regular file")
    return target
