"""Output paths are checked before any work starts, so no command writes onto its inputs.

``check_output_file`` and ``check_output_folder`` run before a volume is read or a model
runs (a 20-second segmentation must not end in ``FileExistsError``). They refuse:

* an output that *is* one of the inputs (``medseg evaluate P R --csv P``), or an existing
  volume or DICOM file inside an input folder (it may be one of the series' files or cases;
  other files there, e.g. a previous CSV, may be replaced);
* for folders: an output folder equal to, or inside, an input folder (a batch would take
  the input for its own finished output, or its next run would take the output for cases);
* an output under a regular file (``a.nii.gz/out.nii.gz``), an existing folder where a
  file is wanted, an existing pipe or device (an atomic rename would replace it);
* a place where no file can be created (read-only folder, ``/proc``): tested by creating
  and removing a temporary file in the nearest existing folder.

Missing parent folders are fine: the atomic writers create them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import MedsegError

__all__ = ["check_output_file", "check_output_folder"]


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest existing ancestor."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def _require_writable_folder(folder: Path, out: Path) -> None:
    if not folder.is_dir():
        raise MedsegError(f"{out}: cannot be created: {folder} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise MedsegError(f"{out}: cannot write in {folder} ({exc.strerror or exc}); choose another place") from None


def _is_image_file(path: Path) -> bool:
    """An existing file a reader of its folder would take: a volume file or a DICOM file."""
    from .dicom_files import sniff
    from .folders import case_name

    return path.is_file() and (case_name(path) is not None or sniff(path) is not None)


def _inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    return [Path(p).resolve() for p in inputs if p is not None and Path(p).exists()]


def check_output_file(out: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Check that ``out`` can be written as a file without touching any input.

    Parameters
    ----------
    out : the file to write.
    inputs : files or folders the command reads.

    Returns
    -------
    Path, ``out`` resolved.

    Raises
    ------
    MedsegError
        One line naming ``out`` and what is wrong.
    """
    path = Path(out).resolve()
    for source in _inputs(inputs):
        if path == source:
            raise MedsegError(f"{out}: this is an input of the command; refusing to overwrite it")
        if source.is_dir() and path.is_relative_to(source) and _is_image_file(path):
            raise MedsegError(
                f"{out}: an existing image file inside the input folder {source}; "
                "refusing to overwrite it, write elsewhere"
            )
    if path.exists():
        if path.is_dir():
            raise MedsegError(f"{out}: is a folder; give a file name")
        if not path.is_file():
            raise MedsegError(f"{out}: is not a regular file (a pipe or device); refusing to replace it")
    _require_writable_folder(_nearest_existing(path.parent), Path(out))
    return path


def check_output_folder(out: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Check that ``out`` can be created or used as an output folder apart from every input.

    Raises
    ------
    MedsegError
        ``out`` is an input folder or inside one, is a file, or is not writable.
    """
    path = Path(out).resolve()
    for source in _inputs(inputs):
        if path == source or (source.is_dir() and path.is_relative_to(source)):
            raise MedsegError(
                f"{out}: is the input folder {source} or inside it; choose an output folder outside the input"
            )
    _require_writable_folder(_nearest_existing(path), Path(out))
    return path
