"""Finding DICOM files: which files present themselves as DICOM, and every file of a folder.

Nothing here parses a header: :func:`sniff` reads at most 132 bytes, and :func:`list_files`
looks only at ``stat`` results (FIFOs, devices and sockets are never opened).
"""

from __future__ import annotations

import os
from pathlib import Path

from .checks import is_regular_file

__all__ = ["DICOM_SUFFIXES", "sniff", "is_dicom_file", "list_files"]

_VRS = {
    b"AE",
    b"AS",
    b"AT",
    b"CS",
    b"DA",
    b"DS",
    b"DT",
    b"FL",
    b"FD",
    b"IS",
    b"LO",
    b"LT",
    b"OB",
    b"OD",
    b"OF",
    b"OL",
    b"OV",
    b"OW",
    b"PN",
    b"SH",
    b"SL",
    b"SQ",
    b"SS",
    b"ST",
    b"SV",
    b"TM",
    b"UC",
    b"UI",
    b"UL",
    b"UN",
    b"UR",
    b"US",
    b"UT",
    b"UV",
}
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")


def sniff(path: str | os.PathLike) -> str | None:
    """How a file presents itself as DICOM (reads at most 132 bytes).

    Returns
    -------
    str or None
        ``'dicm'``: the standard 'DICM' marker at byte 128; ``'bare'``: no preamble
        but the file starts with a plausible group 0002/0008 element (old ACR-NEMA
        style); ``'named'``: neither, but the name ends in .dcm/.dicom/.ima, so the
        file is meant to be DICOM and is damaged; ``None``: not DICOM (also for FIFOs and
        devices, which are never opened: a FIFO would block).
    """
    if not is_regular_file(path):
        return None
    try:
        with open(path, "rb") as fp:
            head = fp.read(132)
    except OSError:
        return None
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicm"
    if len(head) >= 8:
        group, element = int.from_bytes(head[0:2], "little"), int.from_bytes(head[2:4], "little")
        explicit_or_implicit_vr = head[4:6] in _VRS or int.from_bytes(head[4:8], "little") < 1024
        if group in (0x0002, 0x0008) and element <= 0x0100 and explicit_or_implicit_vr:
            return "bare"
    return "named" if str(path).lower().endswith(DICOM_SUFFIXES) else None


def is_dicom_file(path: str | os.PathLike) -> bool:
    """Cheap test used by the napari reader: does ``path`` look like (or claim to be) DICOM?

    True for the 'DICM' marker, for preamble-less files starting with a DICOM
    element, and for damaged files named ``*.dcm`` (so that opening them gives a
    clear error rather than "no reader").
    """
    return sniff(path) is not None


def list_files(path: Path) -> list[Path]:
    """Every regular file under ``path`` (recursive, sorted), or ``[path]`` for a file.

    FIFOs, devices and sockets are left out from their ``stat`` alone (opening a FIFO blocks).
    """
    if path.is_file():
        return [path]
    found: list[Path] = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(p for p in (Path(root) / f for f in sorted(files) if not f.startswith(".")) if is_regular_file(p))
    return found
