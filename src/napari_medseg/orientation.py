"""Anatomical directions of the napari world axes: plane names, edge letters, cursor readouts.

The napari world axes are (z, y, x) = (Superior, Posterior, Left) in mm (LPS reversed,
see :mod:`napari_medseg.volume`). Each axis runs from its negative end to its positive
end: axis 0 from I to S, axis 1 from A to P, axis 2 from R to L. Slicing axis 0 shows
an axial plane, axis 1 a coronal plane, axis 2 a sagittal plane.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["AXIS_LABELS", "ENDS", "PLANES", "cursor_text", "edge_letters", "plane_of", "vertical_up"]

#: (negative end, positive end) of world axes 0, 1, 2.
ENDS = (("I", "S"), ("A", "P"), ("R", "L"))
#: napari axis labels of world axes 0, 1, 2: the direction each grows toward, in mm.
AXIS_LABELS = ("S (mm)", "P (mm)", "L (mm)")
#: The plane shown when world axis 0, 1 or 2 is the one sliced.
PLANES = ("axial", "coronal", "sagittal")


def plane_of(displayed: Sequence[int]) -> str:
    """Name of the plane spanned by two displayed world axes (of 0, 1, 2)."""
    (sliced,) = {0, 1, 2} - set(displayed)
    return PLANES[sliced]


def vertical_up(displayed: Sequence[int]) -> bool:
    """True when the vertical screen axis should grow upward: superior up in coronal and sagittal views.

    ``displayed`` is (vertical axis, horizontal axis) as napari lists them.
    """
    return displayed[0] == 0


def edge_letters(displayed: Sequence[int], up: bool, right: bool = True) -> dict[str, str]:
    """The anatomical direction at each screen edge.

    Parameters
    ----------
    displayed : (vertical world axis, horizontal world axis), each of 0, 1, 2.
    up, right : whether the vertical axis grows upward and the horizontal to the right
        (napari's ``camera.orientation2d``).

    Returns
    -------
    dict with keys ``top``, ``bottom``, ``left``, ``right``.
    """
    v_low, v_high = ENDS[displayed[0]]
    h_low, h_high = ENDS[displayed[1]]
    top, bottom = (v_high, v_low) if up else (v_low, v_high)
    left, right_edge = (h_low, h_high) if right else (h_high, h_low)
    return {"top": top, "bottom": bottom, "left": left, "right": right_edge}


def cursor_text(world_spl: Sequence[float], value=None, unit: str = "") -> str:
    """Lines for the cursor: RAS mm, LPS mm (each labelled) and the value under it.

    ``world_spl`` is a napari world position (S, P, L) in mm.
    """
    s, p, left = (float(c) for c in world_spl[-3:])
    lines = [f"RAS {_mm(-left)}, {_mm(-p)}, {_mm(s)} mm", f"LPS {_mm(left)}, {_mm(p)}, {_mm(s)} mm"]
    if value is not None:
        number = f"{value:.4g}" if isinstance(value, float) else str(value)
        lines.append(f"{number} {unit}".rstrip())
    return "\n".join(lines)


def _mm(value: float) -> str:
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text
