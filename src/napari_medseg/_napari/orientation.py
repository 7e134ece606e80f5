"""Orientation guide in napari: superior up, the plane's anatomical letters, a labelled cursor readout.

:func:`ensure_orientation` starts one guide per viewer (the reader, the samples and the
widgets call it). The guide sets ``viewer.camera.orientation2d`` whenever the displayed
axes change, so coronal and sagittal views show superior up (axial views keep anterior
up and the patient's right on the screen's left), puts the anatomical letter of each screen
edge on the canvas (four text overlays of ``viewer.canvas.overlays``), and writes into
napari's text overlay (top left, a narrow column clear of the top letter) the plane and
the cursor position in RAS and LPS millimetres with the value under it (HU for CT).
"""

from __future__ import annotations

import weakref

from napari.components.overlays import TextOverlay
from napari.layers import Image

from ..orientation import AXIS_LABELS, cursor_text, edge_letters, plane_of, vertical_up

_GUIDES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: Where each edge letter sits on the canvas.
EDGE_POSITIONS = {"top": "top_center", "bottom": "bottom_center", "left": "middle_left", "right": "middle_right"}


def ensure_orientation(viewer) -> OrientationGuide | None:
    """The viewer's orientation guide, started on first use (None without a viewer)."""
    if viewer is None:
        return None
    if viewer not in _GUIDES:
        _GUIDES[viewer] = OrientationGuide(viewer)
    return _GUIDES[viewer]


class OrientationGuide:
    """Keeps a viewer's 2D camera and text overlay in step with the displayed anatomical plane.

    Attributes
    ----------
    plane : str, ``axial``, ``coronal``, ``sagittal`` or "" (3D view / fewer than 3 axes).
    letters : dict, the anatomical letter at each screen edge (``top``, ``bottom``, ``left``, ``right``).
    cursor : str, the last cursor readout.
    """

    def __init__(self, viewer):
        self._viewer = weakref.ref(viewer)
        self.plane, self.letters, self.cursor = "", {}, ""
        viewer.dims.events.order.connect(self.update)
        viewer.dims.events.ndisplay.connect(self.update)
        viewer.dims.events.ndim.connect(self.update)
        viewer.dims.events.axis_labels.connect(self.update)
        viewer.mouse_move_callbacks.append(_on_move)
        overlays = viewer.canvas.overlays
        overlays["text"].position = "top_left"
        overlays["text"].font_size = 10
        overlays["text"].visible = True
        for edge, position in EDGE_POSITIONS.items():  # one letter at each screen edge
            overlays[f"medseg_{edge}"] = TextOverlay(position=position, font_size=16, visible=False)
        self.update()

    def update(self, _event=None) -> None:
        """Orient the 2D camera for the displayed plane and refresh the overlay's letters."""
        viewer = self._viewer()
        if viewer is None:
            return
        dims = viewer.dims
        if dims.ndisplay != 2 or dims.ndim < 3 or tuple(dims.axis_labels[-3:]) != AXIS_LABELS:
            self.plane, self.letters = "", {}  # 3D view, or world axes that are not our (S, P, L) mm
        else:
            displayed = [axis - (dims.ndim - 3) for axis in dims.displayed]  # the last three axes are S, P, L
            if min(displayed) < 0:  # a time or channel axis is on screen: no anatomical plane
                self.plane, self.letters = "", {}
            else:
                up = vertical_up(displayed)
                viewer.camera.orientation2d = ("up" if up else "down", "right")
                self.plane, self.letters = plane_of(displayed), edge_letters(displayed, up)
        self._show(viewer)

    def readout(self, position) -> str:
        """Cursor text at a world ``position``: RAS and LPS mm and the top image's value there."""
        viewer = self._viewer()
        images = [la for la in viewer.layers if isinstance(la, Image) and la.visible and la.ndim >= 3] if viewer else []
        if not images or len(position) < 3:
            return ""
        layer = images[-1]
        value = layer.get_value(position, world=True)
        unit = (layer.metadata.get("medseg") or {}).get("value_unit", "")
        return cursor_text(position, None if value is None else _number(value), unit)

    def move(self, position) -> None:
        """The cursor moved to world ``position``: refresh the readout."""
        self.cursor = self.readout(position)
        viewer = self._viewer()
        if viewer is not None:
            self._show(viewer)

    def _show(self, viewer) -> None:
        lines = []
        if self.plane:
            lines.append(self.plane)
        if self.cursor:
            lines.append(self.cursor)
        overlays = viewer.canvas.overlays
        overlays["text"].text = "\n".join(lines)
        for edge in EDGE_POSITIONS:
            overlays[f"medseg_{edge}"].text = self.letters.get(edge, "")
            overlays[f"medseg_{edge}"].visible = bool(self.letters)


def _number(value):
    """A scalar for display (napari returns numpy scalars, or tuples for multiscale)."""
    try:
        return float(value) if float(value) != int(value) else int(value)
    except (TypeError, ValueError):
        return value


def _on_move(viewer, event) -> None:
    guide = _GUIDES.get(viewer)
    if guide is not None:
        guide.move(event.position)
