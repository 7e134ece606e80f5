"""Folders of cases: the volumes of a folder, each named by its file (or sub-folder) name.

Used wherever a whole folder is processed: ``medseg evaluate`` pairs predictions with
references by case name, ``medseg segment`` segments every case of a folder.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import MedsegError

__all__ = ["VOLUME_SUFFIXES", "case_name", "find_cases", "is_folder_of_cases"]

VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")


def case_name(path: Path) -> str | None:
    """The name a volume goes by: file name less its volume suffix; a folder's name.

    ``None`` for files that are not volumes (and hidden entries). Suffixes are matched
    case-insensitively, so ``case1.nii.gz`` pairs with ``case1.nrrd``.
    """
    if path.name.startswith("."):
        return None
    if path.is_dir():
        return path.name
    lower = path.name.lower()
    for suffix in VOLUME_SUFFIXES:
        if lower.endswith(suffix):
            return path.name[: -len(suffix)]
    return None


def is_folder_of_cases(path: str | Path) -> bool:
    """A folder holding volume files or sub-folders (a DICOM series folder holds neither)."""
    path = Path(path)
    return path.is_dir() and any(case_name(p) is not None for p in path.iterdir())


def find_cases(folder: str | Path) -> dict[str, Path]:
    """The cases of ``folder``: case name -> path (volume file or DICOM sub-folder), sorted by name.

    Raises
    ------
    MedsegError
        Not a folder, or two volumes with the same case name (``a.nii`` and ``a.nrrd``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MedsegError(f"{folder}: not a folder")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        name = case_name(path)
        if name is None:
            continue
        if name in found:
            raise MedsegError(f"{folder}: two volumes named {name!r} ({found[name].name}, {path.name}); keep one")
        found[name] = path
    return found
