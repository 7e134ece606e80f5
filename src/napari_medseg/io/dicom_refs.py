"""Derived DICOM objects (RT structure sets, SEGs): reading one, what it is, which series it refers to.

Both are read whole (no pixel data to defer), recognised by their SOP class or, in files that
lack it, their Modality, and both name the series they were drawn on in nested reference
sequences; the scan uses these to attach them to their series.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

from ..errors import VolumeReadError

__all__ = ["is_object_of", "read_dataset", "series_uids"]


def read_dataset(path: Path):
    """The whole pydicom dataset of ``path`` (validation warnings hidden; errors still raise).

    Raises
    ------
    VolumeReadError
        Not a readable DICOM file (one line naming it).
    """
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(path, force=True)
    except Exception as exc:  # pydicom raises many types for broken files
        raise VolumeReadError(f"{path}: unreadable DICOM file ({exc})") from None


def is_object_of(ds, sop_class: str, modality: str) -> bool:
    """Whether the pydicom dataset ``ds`` has SOPClassUID ``sop_class`` or Modality ``modality``."""
    return str(ds.get("SOPClassUID", "")) == sop_class or str(ds.get("Modality", "")).upper() == modality


def series_uids(items: Iterable) -> tuple[str, ...]:
    """The distinct, non-empty SeriesInstanceUIDs of reference items (datasets), in their order."""
    uids: list[str] = []
    for item in items:
        uid = str(item.get("SeriesInstanceUID", "")).strip()
        if uid and uid not in uids:
            uids.append(uid)
    return tuple(uids)
