"""DICOMDIR files (DICOM media directories, as on a CD or a USB stick): the files they list.

A DICOMDIR holds no image; its directory records name the files of each patient, study
and series (ReferencedFileID, relative to the DICOMDIR's folder). Opening a DICOMDIR reads
exactly those files, as opening their folder would, without stray files beside them.
"""

from __future__ import annotations

import warnings as _warnings
from pathlib import Path

from ..errors import VolumeReadError

__all__ = ["MEDIA_STORAGE_DIRECTORY", "dicomdir_files", "is_dicomdir"]

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"


def is_dicomdir(path: str | Path) -> bool:
    """Whether ``path`` is a DICOMDIR file (by its name, or by its Media Storage SOP Class)."""
    path = Path(path)
    if not path.is_file():
        return False
    if path.name.upper() == "DICOMDIR":
        return True
    import pydicom

    try:
        meta = pydicom.filereader.read_file_meta_info(path)
    except Exception:  # pydicom raises many types: a file without a DICOM meta header is no DICOMDIR
        return False
    return str(meta.get("MediaStorageSOPClassUID", "")) == MEDIA_STORAGE_DIRECTORY


def dicomdir_files(path: str | Path) -> list[Path]:
    """The files a DICOMDIR's records refer to, in record order, that exist.

    Raises
    ------
    VolumeReadError
        The DICOMDIR is unreadable, or none of the files it lists is there.
    """
    import pydicom
    from pydicom.fileset import FileSet

    path = Path(path)
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            fileset = FileSet(pydicom.dcmread(path, force=True))
            listed = [Path(instance.path) for instance in fileset]
    except Exception as exc:  # pydicom raises many types for broken directories
        raise VolumeReadError(f"{path}: unreadable DICOMDIR ({' '.join(str(exc).split())})") from None
    found = [p for p in dict.fromkeys(listed) if p.is_file()]
    if not found:
        raise VolumeReadError(
            f"{path}: a DICOMDIR listing {len(listed)} files, none of which is beside it; "
            "copy the whole media (the DICOMDIR and its folders)"
        )
    return found
