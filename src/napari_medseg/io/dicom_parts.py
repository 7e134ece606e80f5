"""How the images of one SeriesInstanceUID split into stackable parts.

Images are split where the image size (Rows/Columns), the orientation
(ImageOrientationPatient, within 1e-3 per cosine), the echo number or the LOCALIZER
image type differ; images without patient geometry are each their own part. A part whose
slices repeat the same positions (a dynamic or multi-phase scan) is split further into
its phases (:func:`phases`). :mod:`.dicom` numbers the parts ``UID.1``, ``UID.2``, ...
"""

from __future__ import annotations

import numpy as np

from .dicom_geometry import same_orientation
from .dicom_scan import SliceHeader

__all__ = ["PHASE_KEYS", "phase_key", "phases", "split_reasons", "split_uid"]


def _split_key(s: SliceHeader):
    geometry = None if s.has_geometry else s.path
    return (s.size, s.localizer, s.echo, geometry)


def split_uid(slices: list[SliceHeader]) -> list[list[SliceHeader]]:
    """Split the images of one SeriesInstanceUID into stackable parts, largest first."""
    parts: list[list[SliceHeader]] = []
    for s in slices:
        for part in parts:
            if _split_key(part[0]) == _split_key(s) and same_orientation(part[0].iop, s.iop):
                part.append(s)
                break
        else:
            parts.append([s])
    parts.sort(key=lambda p: (p[0].localizer, -len(p), min(s.instance for s in p), str(p[0].path)))
    return [phase for part in parts for phase in phases(part)]


#: What tells the phases of one series apart, in order of preference (index into SliceHeader.phase).
PHASE_KEYS = ("TemporalPositionIdentifier", "AcquisitionNumber")


def phases(part: list[SliceHeader]) -> list[list[SliceHeader]]:
    """A stack whose slices repeat the same positions, split into its phases (dynamic or multi-phase scans).

    Split by TemporalPositionIdentifier, else AcquisitionNumber, only when that leaves no
    position twice in any phase (scanners that number each slice's acquisition are not split);
    phases in ascending order of that value. Otherwise the stack as it is.
    """
    positions = [tuple(np.round(s.position, 2)) for s in part]
    if len(set(positions)) == len(positions):
        return [part]
    for k in range(len(PHASE_KEYS)):
        groups: dict[str, list[SliceHeader]] = {}
        for s in part:
            groups.setdefault(s.phase[k], []).append(s)
        if (
            len(groups) > 1
            and "" not in groups
            and all(len({tuple(np.round(s.position, 2)) for s in g}) == len(g) for g in groups.values())
        ):
            return [groups[v] for v in sorted(groups, key=lambda v: (float(v) if _is_number(v) else np.inf, v))]
    return [part]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def split_reasons(parts: list[list[SliceHeader]]) -> str:
    firsts = [p[0] for p in parts]
    reasons = []
    if len({f.size for f in firsts}) > 1:
        reasons.append("image size")
    if any(not same_orientation(firsts[0].iop, f.iop) for f in firsts):
        reasons.append("orientation")
    if len({f.echo for f in firsts}) > 1:
        reasons.append("echo number")
    if len({f.localizer for f in firsts}) > 1:
        reasons.append("localizer image type")
    if any(not f.has_geometry for f in firsts):
        reasons.append("missing patient geometry")
    if (k := phase_key(parts)) is not None:
        reasons.append(f"phase ({PHASE_KEYS[k]})")
    return ", ".join(reasons)


def phase_key(parts: list[list[SliceHeader]]) -> int | None:
    """Which of :data:`PHASE_KEYS` split these parts into phases (parts alike but for it), if any."""
    firsts = [p[0] for p in parts]
    if len({(_split_key(f), f.iop) for f in firsts}) == len(firsts):
        return None
    return next((k for k in range(len(PHASE_KEYS)) if len({f.phase[k] for f in firsts}) > 1), None)
