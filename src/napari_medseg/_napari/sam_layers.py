"""The Interactive SAM widget's own layers: *SAM boxes*, *SAM clicks* and *SAM preview*.

Made for the chosen image on its grid (re-made when the user deleted one), with the widget's
keys bound on them only, so the keys never override the viewer's or other plugins' shortcuts.
The preview is a Labels layer holding the session's structure on the slices it changed.
"""

from __future__ import annotations

from collections.abc import Callable

import napari
import numpy as np

from .layers import layer_grid

__all__ = ["INSIDE", "OUTSIDE", "PromptLayers"]

INSIDE, OUTSIDE = "lime", "red"  # colours of inside and outside clicks


class PromptLayers:
    """The boxes (Shapes), clicks (Points) and preview (Labels) layers of one viewer.

    Parameters
    ----------
    viewer : napari.Viewer
    on_box, on_click, on_paint : callable(event)
        Connected to a drawn box, an added click and a brush stroke on the preview.
    keys : dict str -> callable()
        Key bindings (napari key names) set on the three layers.
    """

    def __init__(
        self,
        viewer: napari.Viewer,
        on_box: Callable,
        on_click: Callable,
        on_paint: Callable,
        keys: dict[str, Callable[[], object]],
    ):
        self.viewer, self.on_box, self.on_click, self.on_paint, self.keys = viewer, on_box, on_click, on_paint, keys
        self.boxes: napari.layers.Shapes | None = None
        self.points: napari.layers.Points | None = None
        self.preview: napari.layers.Labels | None = None

    def follow(self, image: napari.layers.Image) -> None:
        """Make the layers (where missing) on ``image``'s grid, bind the keys, select the boxes layer."""
        geometry = layer_grid(image)
        layers = self.viewer.layers
        if self.boxes is None or self.boxes not in layers:
            self.boxes = self.viewer.add_shapes(
                name="SAM boxes", ndim=3, edge_color="yellow", face_color="transparent", edge_width=1, **geometry
            )
            self.boxes.events.data.connect(self.on_box)
        if self.points is None or self.points not in layers:
            self.points = self.viewer.add_points(
                name="SAM clicks", ndim=3, size=5, face_color=INSIDE, features={"inside": np.zeros(0, bool)}, **geometry
            )
            self.points.feature_defaults = {"inside": True}
            self.points.events.data.connect(self.on_click)
        if self.preview is None or self.preview not in layers:
            self.preview = self.viewer.add_labels(
                np.zeros(image.data.shape, np.uint8), name="SAM preview", opacity=0.5, **geometry
            )
            self.preview.events.paint.connect(self.on_paint)
        elif self.preview.data.shape != image.data.shape:
            self.preview.data = np.zeros(image.data.shape, np.uint8)
        for layer in (self.boxes, self.points, self.preview):  # follow a newly chosen image
            for name, value in geometry.items():
                setattr(layer, name, value)
            for key, action in self.keys.items():
                layer.bind_key(key, lambda _layer, a=action: a(), overwrite=True)
        self.viewer.layers.selection.active = self.boxes

    def slice_axis(self) -> int:
        """The array axis across the viewed slices (0 in 3D view)."""
        dims = self.viewer.dims
        return dims.not_displayed[0] if dims.ndisplay == 2 else 0

    def _in_slice(self, point) -> tuple[int, int, float, float]:
        """(axis, index, x, y) of a data point on the viewed axis: x, y along the larger and smaller other axes."""
        axis = self.slice_axis()
        rows, cols = [a for a in range(3) if a != axis]
        return axis, int(round(float(point[axis]))), float(point[cols]), float(point[rows])

    def last_box(self) -> tuple[int, int, tuple[float, float, float, float]] | None:
        """``(axis, index, (x0, y0, x1, y1))`` of the box drawn last (slice pixels), or None."""
        if self.boxes is None or not len(self.boxes.data):
            return None
        vertices = np.asarray(self.boxes.data[-1], float)
        axis, index, _, _ = self._in_slice(np.median(vertices, axis=0))
        rows, cols = [a for a in range(3) if a != axis]
        x0, x1 = float(vertices[:, cols].min()), float(vertices[:, cols].max())
        y0, y1 = float(vertices[:, rows].min()), float(vertices[:, rows].max())
        return axis, index, (x0, y0, x1, y1)

    def last_click(self) -> tuple[int, int, float, float, bool] | None:
        """``(axis, index, x, y, inside)`` of the click added last, or None."""
        if self.points is None or not len(self.points.data):
            return None
        axis, index, x, y = self._in_slice(self.points.data[-1])
        return axis, index, x, y, bool(self.points.features["inside"].iloc[-1])

    def show(self, change, mask: np.ndarray) -> None:
        """Copy ``change``'s slices of the structure ``mask`` (Z, Y, X) into the preview."""
        if change is None or change.empty or self.preview is None:
            return
        region = change.region()
        self.preview.data[region] = mask[region]
        self.preview.refresh()

    def clear_preview(self) -> None:
        if self.preview is not None:
            self.preview.data = np.zeros(self.preview.data.shape, np.uint8)

    def clear(self) -> None:
        """Empty the preview and remove the boxes and clicks (without re-prompting)."""
        self.clear_preview()
        if self.boxes is not None and self.points is not None:
            with self.boxes.events.data.blocker(), self.points.events.data.blocker():
                self.boxes.data, self.points.data = [], np.zeros((0, 3))

    def box_mode(self) -> None:
        """Select the boxes layer in rectangle mode."""
        if self.boxes is not None:
            self.viewer.layers.selection.active = self.boxes
            self.boxes.mode = "add_rectangle"

    def point_mode(self, inside: bool = True) -> None:
        """Select the clicks layer to add inside (or outside) clicks."""
        if self.points is None:
            return
        self.viewer.layers.selection.active = self.points
        self.points.selected_data = set()  # else the new colour would recolour the last click
        self.points.feature_defaults = {"inside": inside}
        self.points.current_face_color = INSIDE if inside else OUTSIDE
        self.points.mode = "add"
