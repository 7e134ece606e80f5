"""The "Fill between slices" dock widget: interpolate one label between the slices it was drawn on.

Thin napari glue over :func:`napari_medseg.interpolate.interpolation_mask`: the slices are
taken across the axis the viewer is slicing (the one not displayed in 2D), the in-plane
voxel size comes from the layer's scale and affine, and the filled voxels are written with
one ``data_setitem`` call, so Ctrl+Z undoes the whole fill. Voxels of other labels are
never written.
"""

from __future__ import annotations

import numpy as np
from magicgui.widgets import ComboBox, Container, Label, PushButton, SpinBox

from ..errors import MedsegError
from ..interpolate import contoured_slices, interpolation_mask
from .docking import tabify_when_docked

__all__ = ["FillBetweenWidget", "layer_spacing"]


def layer_spacing(layer) -> np.ndarray:
    """Voxel size (mm) along each data axis of a napari layer: column norms of affine x scale."""
    linear = np.asarray(layer.affine.linear_matrix) @ np.diag(np.asarray(layer.scale, float))
    return np.linalg.norm(linear, axis=0)


class FillBetweenWidget(Container):
    """Pick a labels layer and a label; fill it between its drawn slices along the viewed axis."""

    def __init__(self, napari_viewer):
        self.viewer = napari_viewer
        self.labels_combo = ComboBox(label="labels", choices=self._labels_choices)
        self.label_value = SpinBox(label="label", min=1, max=65535, value=1)
        self.fill_button = PushButton(text="Fill between slices")
        self.status = Label(value="Draw the label on two or more slices, then fill between them.")
        super().__init__(widgets=[self.labels_combo, self.label_value, self.fill_button, self.status])
        tabify_when_docked(self)  # opened beside our other docks: a tab, not a squeeze
        self.labels_combo.changed.connect(self._labels_changed)
        self.fill_button.changed.connect(self.fill)
        self.viewer.layers.events.inserted.connect(self.reset_choices)
        self.viewer.layers.events.removed.connect(self.reset_choices)
        self._labels_changed(self.labels_combo.value)

    def _labels_choices(self, _widget=None) -> list:
        import napari

        return [layer for layer in self.viewer.layers if isinstance(layer, napari.layers.Labels)]

    def _labels_changed(self, layer=None):
        if layer is not None and int(layer.selected_label) > 0:
            self.label_value.value = int(layer.selected_label)

    def slice_axis(self) -> int:
        """The data axis the viewer slices across (axis 0 in a 3D view)."""
        layer = self.labels_combo.value
        if self.viewer.dims.ndisplay != 2:
            return 0
        world_axis = self.viewer.dims.not_displayed[-1]
        return int(world_axis - (self.viewer.dims.ndim - layer.ndim))

    def fill(self, *_):
        """Fill the chosen label between its drawn slices, as one undo step."""
        from napari.utils.notifications import show_error

        layer = self.labels_combo.value
        if layer is None:
            show_error("Fill between slices: add or choose a labels layer first")
            return
        if layer.ndim != 3:
            show_error(f"Fill between slices: {layer.name!r} is {layer.ndim}D; it works on 3D labels")
            return
        axis, value = self.slice_axis(), int(self.label_value.value)
        data = np.asarray(layer.data)
        try:
            mask = interpolation_mask(data, value, axis, layer_spacing(layer))
        except MedsegError as exc:
            show_error(f"Fill between slices: {exc}")
            self.status.value = str(exc)
            return
        drawn = contoured_slices(data, value, axis)  # before the fill: ``data`` is the layer's own buffer
        indices = np.nonzero(mask)
        if indices[0].size:
            layer.data_setitem(indices, value)
        self.status.value = (
            f"Filled {indices[0].size} voxels of label {value} between {len(drawn)} drawn slices "
            f"along axis {axis} (Ctrl+Z undoes)."
        )
