"""Segment dock widget: image layer + model + device -> an editable Labels layer with label names.

Thin napari glue over :func:`napari_medseg.models.segment.segment_volume`. The work runs
in a napari thread worker; progress arrives through a Qt signal (queued onto the GUI
thread) and Cancel sets a ``threading.Event`` checked between window batches. The
result lands on the image's geometry (its affine, units, source file order) with the
model's label names (``features``) and colours, and a legend gives each label's volume
in ml, recounted when the user paints, fills or undoes in that layer. Running again on
the same image replaces the previous result, after asking when that layer was edited since.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, Label, ProgressBar, PushButton
from napari.layers import Image, Labels
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info

from ..errors import MedsegError
from ..library_warnings import quietly
from ..metrics.overlap import label_volumes_ml
from ..models.registry import DEVICES
from ..models.unet.inference import SegmentationCancelled
from ..models.unet.trust import UntrustedBundleError
from .autosave import ensure_autosave
from .docking import tabify_when_docked
from .layers import labels_layer_data, volume_from_layer
from .model_jobs import Failed, ProgressRelay, returning_failures
from .orientation import ensure_orientation
from .save_labels import SaveLabels
from .volume_legend import VolumeLegend

OTHER = "other (choose a file)..."


# ---- Qt-free helpers ---------------------------------------------------------------------------


def automatic_model_names() -> list[str]:
    """Models the widget offers: every registered model that needs no prompt."""
    from ..models.registry import available_models

    return [m.name for m in available_models() if m.kind != "sam"]


def model_from_file(path: str | Path) -> str:
    """A bundle folder for a file inside a bundle (e.g. its ``configs/inference.json``), else the file."""
    from ..models.unet.bundle import is_bundle

    path = Path(path)
    for candidate in (path, *path.parents[:2]):
        if is_bundle(candidate):
            return str(candidate)
    return str(path)


def result_layer_name(image_name: str, model: str) -> str:
    return f"{image_name} [{Path(model).name}]"


def content_digest(array) -> str:
    """Fingerprint of a label array's content (changes when any voxel is painted)."""
    data = np.ascontiguousarray(np.asarray(array))
    return hashlib.blake2b(data.view(np.uint8).ravel(), digest_size=16).hexdigest() + str(data.shape)


def ask_yes_no(title: str, text: str) -> bool:
    """Modal Yes/No question (plain Qt: magicgui has no confirmation dialog)."""
    from qtpy.QtWidgets import QMessageBox

    answer = QMessageBox.question(None, title, text, QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes


@dataclass
class _Done:
    """A worker's result with each label's volume (counted in the worker, not the GUI thread)."""

    segmentation: object
    volumes_ml: dict[int, float]


# ---- the widget ------------------------------------------------------------------------------------


class SegmentWidget(Container):
    """Dock widget: choose an image layer, a model and a device; Run / Cancel; progress.

    Attributes
    ----------
    confirm : callable(title, text) -> bool
        Asks the user (replaced in tests).
    worker : the running napari worker, or None.
    """

    def __init__(self, napari_viewer):
        self.viewer = napari_viewer
        self._image = ComboBox(
            label="image",
            choices=self._image_layers,
            tooltip="the 3D image layer to segment (File > Open, or File > Open Sample)",
        )
        self._model = ComboBox(
            label="model",
            choices=automatic_model_names() + [OTHER],
            tooltip="the network to run; each model's card says what images it expects "
            "(you are asked before running it on others)",
        )
        self._model_file = FileEdit(
            label="model file",
            mode="r",
            visible=False,
            tooltip="a bundle's configs/inference.json, or a checkpoint .json/.yaml",
        )
        self._device = ComboBox(
            label="device",
            choices=list(DEVICES),
            value="auto",
            tooltip="where the network runs; auto = CUDA GPU, else Apple MPS, else CPU",
        )
        self._run = PushButton(text="Run", tooltip="segment the image; the result becomes an editable labels layer")
        self._cancel_button = PushButton(text="Cancel", enabled=False, tooltip="stop after the current window batch")
        self._progress = ProgressBar(
            label="progress", min=0, max=1000, value=0, tooltip="fraction of the sliding windows done"
        )
        self._status = Label(value="")
        self._status.native.setWordWrap(True)  # long messages wrap in the dock (magicgui has no option for it)
        self._legend = VolumeLegend(napari_viewer)
        self._save = SaveLabels(napari_viewer)
        super().__init__(
            widgets=[
                self._image,
                self._model,
                self._model_file,
                self._device,
                self._run,
                self._cancel_button,
                self._progress,
                self._status,
                self._legend,
                self._save,
            ]
        )
        tabify_when_docked(self)  # opened beside our other docks: a tab, not a squeeze
        self.confirm = ask_yes_no
        ensure_autosave(napari_viewer)  # corrections painted in this viewer are snapshotted
        ensure_orientation(napari_viewer)
        self.worker = None
        self._cancel = threading.Event()
        self._retry_trusted = False
        self._relay = ProgressRelay()
        self._relay.changed.connect(self._on_progress)
        self._recorded: dict[int, str] = {}  # id(labels layer) -> content digest when we wrote it
        self._model.changed.connect(lambda v: setattr(self._model_file, "visible", v == OTHER))
        self._run.changed.connect(self.run)
        self._cancel_button.changed.connect(self.cancel)
        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(lambda e: self._image.reset_choices())

    def _image_layers(self, _widget=None) -> list:
        return [layer for layer in self.viewer.layers if isinstance(layer, Image) and layer.ndim == 3]

    @property
    def status(self) -> str:
        return self._status.value

    @property
    def legend(self) -> str:
        return self._legend.value

    def selected_model(self) -> str:
        if self._model.value == OTHER:
            return model_from_file(self._model_file.value)
        return self._model.value

    # -- running -------------------------------------------------------------------------------

    def run(self, *_args, trust_bundle: bool = False) -> None:
        """Start segmenting the selected image in a worker thread."""
        layer = self._image.value
        if layer is None:
            show_error("Open a 3D image first (File > Open, or File > Open Sample > napari-medseg).")
            return
        if self.worker is not None:
            return
        try:
            volume = volume_from_layer(layer)
        except ValueError as exc:
            show_error(str(exc))
            return
        model, device = self.selected_model(), self._device.value
        if not trust_bundle and not self._image_suits(model, volume):  # a retry after trusting was checked already
            return
        self._cancel.clear()
        relay = self._relay

        def job():
            from ..models.segment import segment_volume

            result = segment_volume(
                volume,
                model,
                device=device,
                trust_bundle=trust_bundle,
                progress=lambda f, m: relay.changed.emit(f, m),
                cancel=self._cancel,
            )
            return _Done(result, label_volumes_ml(result.labels, volume.spacing, labels_of_interest=result.label_names))

        # expected outcomes (cancel, untrusted, bad input) come back as Failed, handled on return
        self.worker = create_worker(quietly(returning_failures(job)))
        self.worker.returned.connect(lambda result: self._on_returned(layer, volume, model, result))
        self.worker.errored.connect(lambda exc: self._on_error(exc, layer))
        self.worker.finished.connect(self._on_finished)
        self._run.enabled, self._cancel_button.enabled = False, True
        self._status.value = f"running {Path(model).name} on {device}..."
        self._legend.clear()
        self.worker.start()

    def _image_suits(self, model: str, volume) -> bool:
        """True when the image matches the model's card, or the user chose to run it anyway."""
        from ..models.model_card import card_of, mismatches

        try:
            card = card_of(model)
        except MedsegError:  # an unusable model: the run itself says why
            return True
        found = mismatches(card, volume)
        if not found:
            return True
        question = (
            f"{Path(model).name}: {'; '.join(found)}.\n\nIts results would be meaningless "
            "(e.g. 'grey matter' on a CT). Run it anyway?"
        )
        if self.confirm("Model and image do not match", question):
            return True
        self._status.value = f"not run: {found[0]}"
        return False

    def cancel(self, *_args) -> None:
        """Ask the running job to stop after its current window batch."""
        self._cancel.set()
        self._status.value = "cancelling..."

    def _on_progress(self, fraction: float, message: str) -> None:
        self._progress.value = int(round(1000 * fraction))
        self._status.value = message

    def _on_finished(self) -> None:
        self.worker = None
        self._run.enabled, self._cancel_button.enabled = True, False
        if self._retry_trusted:
            self._retry_trusted = False
            self.run(trust_bundle=True)

    def _on_returned(self, image_layer, volume, model: str, result) -> None:
        if isinstance(result, Failed):
            self._on_error(result.error, image_layer)
        else:
            segmentation = result.segmentation
            target = self._on_result(image_layer, volume, model, segmentation)
            self._legend.follow(target, labels=segmentation.label_names, volumes_ml=result.volumes_ml)
            self._save.select(target, Path(model).name)

    def _on_error(self, exc: Exception, layer) -> None:
        if isinstance(exc, SegmentationCancelled):
            self._status.value = "cancelled"
            self._progress.value = 0
            show_info("Segmentation cancelled.")
        elif isinstance(exc, UntrustedBundleError):
            self._status.value = "bundle not trusted"
            question = (
                f"{exc.root}\n\nThis MONAI bundle runs Python code from its configuration files. "
                "Run it only if you trust where it comes from. Trust and run it?"
            )
            if self.confirm("Trust this bundle?", question):
                self._retry_trusted = True
        elif isinstance(exc, MedsegError):
            self._status.value = str(exc)
            show_error(str(exc))
        else:  # a bug or a broken model: tell the user in one line, not a traceback
            self._status.value = f"failed: {type(exc).__name__}"
            show_error(f"Segmentation failed: {type(exc).__name__}: {exc}")

    def _on_result(self, image_layer, volume, model: str, result) -> Labels:
        """Add the result as a Labels layer, or replace the previous one (asking if it was edited)."""
        name = result_layer_name(image_layer.name, model)
        data, kwargs, _ = labels_layer_data(result.labels, volume, name, result.label_names, result.colours)
        previous = next((lyr for lyr in self.viewer.layers if isinstance(lyr, Labels) and lyr.name == name), None)
        if previous is not None and self._may_replace(previous):
            previous.data = data
            previous.features = kwargs.get("features", {})
            previous.colormap = kwargs["colormap"]
            target = previous
        else:
            if previous is not None:
                kwargs["name"] = f"{name} (new)"
            target = self.viewer.add_labels(data, **kwargs)
        self._recorded[id(target)] = content_digest(target.data)
        self._progress.value = 1000
        notes = f" ({'; '.join(result.messages)})" if result.messages else ""
        self._status.value = f"done in {result.seconds:.1f} s on {result.device}{notes}"
        return target

    def _may_replace(self, layer) -> bool:
        recorded = self._recorded.get(id(layer))
        if recorded is not None and recorded == content_digest(layer.data):
            return True
        return self.confirm(
            "Replace edited labels?",
            f"'{layer.name}' was edited since it was created. Replace it with the new result? "
            "(No keeps it and adds the new result as another layer.)",
        )
