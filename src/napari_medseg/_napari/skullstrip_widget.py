"""The "Skull-strip" dock widget: brain extraction of a head MRI with the ``brain-tissue`` model.

Thin napari glue over :func:`napari_medseg.models.brain_extraction.skull_strip`, run in a
worker thread: the result is a new image layer (the input with everything outside the
brain set to 0) and a labels layer with the brain mask, both on the input's grid.
"""

from __future__ import annotations

import numpy as np
from magicgui.widgets import ComboBox, Container, Label, PushButton
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info

from ..errors import MedsegError
from ..library_warnings import quietly
from .layers import image_layer_data, labels_layer_data, volume_from_layer

__all__ = ["SkullStripWidget"]


class SkullStripWidget(Container):
    """Pick a head MRI layer; add its skull-stripped image and brain mask as new layers."""

    def __init__(self, napari_viewer):
        self.viewer = napari_viewer
        self.image_combo = ComboBox(label="image", choices=self._image_choices, tooltip="a head MRI, any contrast")
        self.run_button = PushButton(text="Skull-strip", tooltip="brain-tissue U-Net; labels > 0 are the brain")
        self.status = Label(value="Removes skull and scalp (brain-tissue model, 1.5 mm).")
        self.status.native.setWordWrap(True)  # long messages wrap in the dock (magicgui has no option for it)
        super().__init__(widgets=[self.image_combo, self.run_button, self.status])
        self.run_button.changed.connect(self.run)
        self.viewer.layers.events.inserted.connect(self.image_combo.reset_choices)
        self.viewer.layers.events.removed.connect(self.image_combo.reset_choices)
        self.worker = None

    def _image_choices(self, _widget=None) -> list:
        import napari

        return [layer for layer in self.viewer.layers if isinstance(layer, napari.layers.Image) and layer.ndim == 3]

    def run(self, *_args) -> None:
        """Start the brain extraction of the chosen image in a worker thread."""
        from ..models.brain_extraction import skull_strip

        layer = self.image_combo.value
        if layer is None:
            show_error("Skull-strip: open a 3D head MRI first (File > Open)")
            return
        if self.worker is not None:
            return
        volume = volume_from_layer(layer)

        def job():
            try:
                return skull_strip(volume, progress=None)
            except MedsegError as exc:
                return exc

        self.worker = create_worker(quietly(job))
        self.worker.returned.connect(lambda result: self._on_returned(layer, volume, result))
        self.worker.errored.connect(lambda exc: self._on_failed(f"failed: {type(exc).__name__}: {exc}"))
        self.worker.finished.connect(self._on_finished)
        self.run_button.enabled = False
        self.status.value = f"skull-stripping {layer.name}..."
        self.worker.start()

    def _on_finished(self) -> None:
        self.worker = None
        self.run_button.enabled = True

    def _on_failed(self, message: str) -> None:
        self.status.value = message
        show_error(f"Skull-strip: {message}")

    def _on_returned(self, layer, volume, result) -> None:
        if isinstance(result, MedsegError):
            self._on_failed(str(result))
            return
        stripped, mask = result
        data, kwargs, _ = image_layer_data(stripped, f"{layer.name} (brain)")
        kwargs["contrast_limits"] = layer.contrast_limits
        self.viewer.add_image(data, **kwargs)
        data, kwargs, _ = labels_layer_data(mask.astype(np.uint8), volume, f"{layer.name} brain mask", {1: "brain"})
        self.viewer.add_labels(data, **kwargs)
        ml = np.count_nonzero(mask) * float(np.prod(volume.spacing)) / 1000.0
        self.status.value = f"brain {ml:.1f} ml; layers '{layer.name} (brain)' and '{layer.name} brain mask' added"
        show_info(f"Skull-strip: {self.status.value}")
