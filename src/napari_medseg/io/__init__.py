"""Reading volumes from disk and writing volumes and labels back, without napari.

Entry points
------------
``read_volume(path, series=None)``  -> one :class:`~napari_medseg.volume.Volume`
``list_series(path)``               -> what a path holds (for ``medseg info``)
``write_volume(path, array, ref)``  -> NIfTI / NRRD / MHA by extension, on ``ref``'s grid
``write_labels(path, labels, ref)`` -> the same with the smallest unsigned dtype, marked as labels
                                      (NIfTI intent label; names/colours: ``label_table``)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import AmbiguousInputError, MedsegError, VolumeReadError
from ..volume import Volume, smallest_label_dtype
from .series_summary import SeriesSummary

NIFTI_SUFFIXES = (".nii", ".nii.gz")
ITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")
WRITE_SUFFIXES = NIFTI_SUFFIXES + (".nrrd", ".mha")


def _lower_name(path: Path) -> str:
    return path.name.lower()


def is_nifti(path: Path) -> bool:
    return _lower_name(path).endswith(NIFTI_SUFFIXES)


def is_itk(path: Path) -> bool:
    return _lower_name(path).endswith(ITK_SUFFIXES)


def is_readable_path(path: str | Path) -> bool:
    """Cheap test used by the napari reader hook: a folder, a volume file or a DICOM file."""
    path = Path(path)
    if path.is_dir() or is_nifti(path) or is_itk(path):
        return True
    from .dicom import is_dicom_file

    return path.is_file() and is_dicom_file(path)


def read_volume(path: str | Path, series: str | None = None, volume: int | None = None) -> Volume:
    """Read one volume from a file or a DICOM folder.

    Parameters
    ----------
    path : str or Path
        NIfTI, NRRD/MHA/MHD, a DICOM file (single or multi-frame) or a folder of
        DICOM files.
    series : str, optional
        SeriesInstanceUID (or the ``uid.N`` id ``medseg info`` prints for a UID that
        was split), or a SeriesNumber that only one series has, to pick when the folder
        holds several series.
    volume : int, optional
        Which volume of a 4D NIfTI file (0-based; default the first).

    Raises
    ------
    VolumeReadError
        Unreadable input.
    AmbiguousInputError
        A folder with several series and no ``series`` given.
    """
    from .checks import with_nonfinite_warning

    return with_nonfinite_warning(_read_volume(Path(path), series, volume))


def _read_volume(path: Path, series: str | None, volume: int | None = None) -> Volume:
    from .checks import require_regular_file

    if not path.exists():
        raise VolumeReadError(f"{path}: no such file or folder")
    if volume is not None and not (path.is_file() and is_nifti(path)):
        raise VolumeReadError(f"{path}: --volume picks a volume of a 4D NIfTI file; this is not one")
    require_regular_file(path)
    if path.is_file() and (is_nifti(path) or is_itk(path)):
        return _with_label_table(read_nifti_file(path, volume) if is_nifti(path) else _read_itk_file(path))
    from . import dicom

    found = dicom.scan(path)
    if not found:
        raise VolumeReadError(f"{path}: no DICOM image series found")
    if series is None:
        if len(found) > 1:
            listing = "; ".join(f"{s.series_id} ({s.modality}, {s.description!r}, {s.n_files} files)" for s in found)
            raise AmbiguousInputError(f"{path}: holds {len(found)} series, choose one with --series: {listing}")
        return found[0].load()
    for s in found:
        if series in (s.series_id, s.series_uid):
            return s.load()
    numbered = [s for s in found if s.slices[0].series_number == series]
    if len(numbered) == 1:
        return numbered[0].load()
    if numbered:
        ids = ", ".join(s.series_id for s in numbered)
        raise AmbiguousInputError(f"{path}: {len(numbered)} series are numbered {series}; give one of their ids: {ids}")
    raise VolumeReadError(f"{path}: no series {series!r}; found {', '.join(s.series_id for s in found)}")


def read_nifti_file(path: Path, volume: int | None = None) -> Volume:
    from .nifti import read_nifti

    return read_nifti(path, volume)


def _read_itk_file(path: Path) -> Volume:
    from .itk import read_itk

    return read_itk(path)


def _with_label_table(volume: Volume) -> Volume:
    """Mark a volume as a label map with names and colours when its label description sidecar exists."""
    from .label_table import label_table_path, read_label_table

    table = label_table_path(volume.meta["path"])
    if table.is_file():
        names, colours = read_label_table(table)
        volume.meta.update(labels=True, label_names=names, label_colours=colours)
    return volume


def list_series(path: str | Path) -> list[SeriesSummary]:
    """Summaries of what ``path`` holds: each DICOM series, or the one volume of a file."""
    from .checks import require_regular_file

    path = Path(path)
    if not path.exists():
        raise VolumeReadError(f"{path}: no such file or folder")
    require_regular_file(path)
    if path.is_file() and (is_nifti(path) or is_itk(path)):
        vol = read_volume(path)
        i, j, k = (int(n) for n in vol.file_shape)
        si, sj, sk = (float(s) for s in np.linalg.norm(vol.file_affine[:3, :3], axis=0))
        return [
            SeriesSummary(
                None,
                vol.meta.get("modality", ""),
                path.name,
                1,
                (i, j, k),
                (si, sj, sk),
                list(vol.meta.get("warnings", [])),
            )
        ]
    from . import dicom

    found = dicom.scan(path)
    if not found:
        raise VolumeReadError(f"{path}: no DICOM image series found")
    return [s.summary() for s in found]


def check_write_suffix(path: str | Path) -> None:
    """Refuse an output path whose suffix no writer handles (before any work is done)."""
    path = Path(path)
    if not _lower_name(path).endswith(WRITE_SUFFIXES):
        raise MedsegError(f"{path}: unsupported output format; use one of {', '.join(WRITE_SUFFIXES)}")


def write_volume(path: str | Path, array: np.ndarray, reference: Volume, *, dtype=None, labels: bool = False) -> Path:
    """Write ``array`` on ``reference``'s grid; the format follows the extension.

    ``labels=True`` marks a NIfTI as a label map (intent ``NIFTI_INTENT_LABEL``).
    Refuses to overwrite the reference's own source file, unless that is a label map
    (a label map opened, edited and saved again).
    """
    from ..volume import affine_problem

    path = Path(path)
    check_write_suffix(path)
    if (problem := affine_problem(reference.affine)) is not None:
        raise MedsegError(f"{path}: not written: {problem}")
    source = None if reference.meta.get("labels") else reference.meta.get("path")
    if source and Path(source).exists() and path.exists() and path.resolve() == Path(source).resolve():
        raise MedsegError(f"{path}: refusing to overwrite the source image; choose another file name")
    if is_nifti(path):
        from .nifti import write_nifti

        return write_nifti(path, array, reference, dtype=dtype, labels=labels)
    from .itk import write_itk

    return write_itk(path, array, reference, dtype=dtype)


def write_labels(
    path: str | Path,
    labels: np.ndarray,
    reference: Volume,
    names: dict[int, str] | None = None,
    colours: dict[int, str] | None = None,
) -> Path:
    """Write a label map on ``reference``'s grid with the smallest unsigned integer dtype.

    A NIfTI is marked as labels (intent ``NIFTI_INTENT_LABEL``). With ``names`` or
    ``colours`` (label value -> name / ``#rrggbb``), an ITK-SNAP label description
    file is written beside it (:func:`~napari_medseg.io.label_table.label_table_path`).
    """
    written = write_volume(path, labels, reference, dtype=smallest_label_dtype(labels), labels=True)
    if names or colours:
        from .label_table import label_table_path, write_label_table

        write_label_table(label_table_path(path), dict(names or {}), dict(colours or {}))
    return written
