"""Fine-tune dock widget: an image + its corrected labels layer -> a new U-Net bundle folder.

Thin napari glue over :func:`napari_medseg.models.unet.finetune.finetune_bundle`, run in a
napari thread worker; progress travels through a queued Qt signal and Cancel sets a
``threading.Event`` checked between training steps (nothing is written when cancelled).
The labels layer must be on the image's grid (painted over it); its values are the
model's classes. The new bundle is then picked in *Segment (U-Net)* with "other".
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, Label, ProgressBar, PushButton, SpinBox
from napari.layers import Image, Labels
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info

from ..errors import MedsegError
from ..library_warnings import quietly
from ..models.unet.finetune import FinetuneCancelled, TrainingCase
from .docking import tabify_when_docked
from .layers import volume_from_layer
from .model_jobs import Failed, ProgressRelay, returning_failures
from .segment_widget import OTHER, model_from_file

__all__ = ["FinetuneWidget", "bundle_model_names"]


def bundle_model_names() -> list[str]:
    """Registered models that can be fine-tuned (MONAI bundles)."""
    from ..models.registry import available_models

    return [m.name for m in available_models() if m.kind == "bundle"]


class FinetuneWidget(Container):
    """Choose image, corrected labels, base bundle, epochs and an output folder; Run / Cancel; progress."""

    def __init__(self, napari_viewer):
        self.viewer = napari_viewer
        self.image_combo = ComboBox(label="image", choices=self._layers(Image))
        self.labels_combo = ComboBox(label="corrected labels", choices=self._layers(Labels))
        self.model_combo = ComboBox(label="base model", choices=bundle_model_names() + [OTHER])
        self.model_file = FileEdit(label="bundle", mode="d", visible=False, tooltip="a MONAI bundle folder")
        self.epochs = SpinBox(label="epochs", min=1, max=500, value=20)
        self.patches = SpinBox(label="patches per epoch", min=1, max=1000, value=16)
        self.out_dir = FileEdit(label="new bundle folder", mode="d", tooltip="a new or empty folder")
        self.run_button = PushButton(text="Fine-tune")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="progress", min=0, max=1000, value=0)
        self.status = Label(value="Correct a model's labels, then teach them to a copy of the model.")
        self.status.native.setWordWrap(True)
        super().__init__(
            widgets=[
                self.image_combo,
                self.labels_combo,
                self.model_combo,
                self.model_file,
                self.epochs,
                self.patches,
                self.out_dir,
                self.run_button,
                self.cancel_button,
                self.progress,
                self.status,
            ]
        )
        tabify_when_docked(self)  # opened beside our other docks: a tab, not a squeeze
        self.worker = None
        self.result = None
        self._cancel = threading.Event()
        self._relay = ProgressRelay()
        self._relay.changed.connect(self._on_progress)
        self.model_combo.changed.connect(lambda v: setattr(self.model_file, "visible", v == OTHER))
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(lambda e: self.reset_choices())

    def _layers(self, kind):
        return lambda _widget=None: [
            layer for layer in self.viewer.layers if isinstance(layer, kind) and layer.ndim == 3
        ]

    def selected_model(self) -> str:
        return model_from_file(self.model_file.value) if self.model_combo.value == OTHER else self.model_combo.value

    def training_case(self) -> TrainingCase:
        """The image layer as a volume and the labels layer's array on its grid."""
        image, labels = self.image_combo.value, self.labels_combo.value
        if image is None or labels is None:
            raise MedsegError("choose an image layer and the labels layer you corrected on it")
        volume = volume_from_layer(image)
        data = np.asarray(labels.data)
        if data.shape != volume.shape:
            raise MedsegError(
                f"labels layer {labels.name!r} has shape {data.shape}, the image {volume.shape}; "
                "choose labels painted on this image's grid"
            )
        return TrainingCase(volume, volume.with_array(data), labels.name)

    def run(self, *_args) -> None:
        """Start fine-tuning in a worker thread."""
        if self.worker is not None:
            return
        out = Path(self.out_dir.value)
        try:
            case = self.training_case()
            if str(self.out_dir.value) in ("", "."):
                raise MedsegError("choose a new, empty folder for the fine-tuned bundle")
        except (MedsegError, ValueError) as exc:
            show_error(f"Fine-tune: {exc}")
            self.status.value = str(exc)
            return
        model, epochs, patches, relay = self.selected_model(), self.epochs.value, self.patches.value, self._relay
        self._cancel.clear()

        def job():
            from ..models.unet.finetune import TrainingSettings, finetune_bundle

            return finetune_bundle(
                [case],
                model,
                out,
                TrainingSettings(epochs=epochs, patches_per_case=patches),
                progress=lambda f, m: relay.changed.emit(f, m),
                cancel=self._cancel,
            )

        self.worker = create_worker(quietly(returning_failures(job)))
        self.worker.returned.connect(self._on_returned)
        self.worker.errored.connect(lambda exc: self._show_failure(f"{type(exc).__name__}: {exc}"))
        self.worker.finished.connect(self._on_finished)
        self.run_button.enabled, self.cancel_button.enabled = False, True
        self.status.value = f"fine-tuning {Path(model).name} on {case.name}..."
        self.worker.start()

    def cancel(self, *_args) -> None:
        """Stop after the current training step; nothing is written."""
        self._cancel.set()
        self.status.value = "cancelling..."

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.value = round(1000 * fraction)
        self.status.value = message

    def _on_finished(self) -> None:
        self.worker = None
        self.run_button.enabled, self.cancel_button.enabled = True, False

    def _on_returned(self, result) -> None:
        if isinstance(result, Failed):
            if isinstance(result.error, FinetuneCancelled):
                self.progress.value = 0
                self.status.value = str(result.error)
                show_info("Fine-tuning cancelled; nothing was written.")
            else:
                self._show_failure(str(result.error))
            return
        self.result = result
        self.status.value = (
            f"wrote {result.bundle} in {result.seconds:.0f} s, {result.loss_summary()}; "
            "run it from Segment (U-Net) > other. It learned from "
            "your corrections only: check it before relying on it."
        )

    def _show_failure(self, message: str) -> None:
        self.status.value = message
        show_error(f"Fine-tune: {message}")
