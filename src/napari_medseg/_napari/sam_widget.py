"""Interactive SAM dock widget: boxes and clicks on a slice -> preview -> accepted labels.

Thin napari glue over :mod:`napari_medseg.models.sam`: prompts are read from a Shapes
layer (boxes) and a Points layer (clicks) that share the image's data coordinates,
grouped per slice by ``annotations.slice_prompts``, run in thread workers through a
``SamSession``, shown in a preview Labels layer and written into the chosen Labels layer
with one ``data_setitem`` call (one undo step) by *Accept*. A legend under the buttons
gives each label's volume in that layer, recounted after every edit.

Shortcuts: Q box mode, W inside-click mode, Shift-W outside-click mode, G accept,
Shift-G propagate, N next label value.
"""
from __future__ import annotations

import threading
from pathlib import Path

import napari
import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, Label, PushButton, SpinBox
from napari.qt.threading import create_worker
from napari.utils import progress as napari_progress
from napari.utils.notifications import show_error, show_info

from ..library_warnings import quietly
from ..ct_windows import WINDOWS
from ..models.registry import SAM_TYPES
from ..models.sam import SamSession, load_predictor
from ..models.sam.annotations import label_edit, slice_prompts, slice_view_axes
from ..models.sam.propagation import Extent
from .autosave import ensure_autosave
from .volume_legend import VolumeLegend

SHORTCUTS = {"Q": "box mode", "W": "inside clicks", "Shift-W": "outside clicks", "G": "accept",
             "Shift-G": "propagate", "N": "next label"}
_MR = "MR (percentiles)"
_NEARBY = 3  # slices each side of the current one embedded in the background


def _geometry(layer) -> dict:
    """Transform keyword arguments that put a new layer on ``layer``'s data grid."""
    return {"affine": layer.affine.affine_matrix, "scale": layer.scale, "translate": layer.translate,
            "rotate": layer.rotate, "shear": layer.shear, "units": layer.units}


class SamWidget(Container):
    """Dock widget: pick image and labels, draw prompts, accept or propagate results."""

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.preview_layer = None
        self.image_combo = ComboBox(label="image", choices=self._image_choices)
        self.labels_combo = ComboBox(label="labels", choices=self._labels_choices, nullable=True)
        self.label_value = SpinBox(value=1, min=1, max=65535, label="label value")
        self.overwrite = CheckBox(value=False, text="overwrite other labels")
        self.model = ComboBox(choices=SAM_TYPES, value="litemedsam", label="model")
        self.checkpoint = FileEdit(mode="r", filter="*.pth *.pt", label="checkpoint (.pth)", nullable=True)
        self.window = ComboBox(choices=["auto", *WINDOWS, _MR], value="auto", label="intensity")
        self.device = ComboBox(choices=["auto", "cpu", "cuda"], value="auto", label="device")
        self.first = SpinBox(value=0, min=0, max=100000, label="propagate from slice")
        self.last = SpinBox(value=0, min=0, max=100000, label="to slice")
        buttons = {
            "box": ("Box mode [Q]", self.box_mode), "point": ("Click mode [W]", self.point_mode),
            "segment": ("Segment slice", self.segment_current), "accept": ("Accept [G]", self.accept),
            "propagate": ("Propagate [Shift-G]", self.propagate), "cancel": ("Cancel", self.cancel),
        }
        self.buttons = {}
        for name, (text, slot) in buttons.items():
            self.buttons[name] = PushButton(text=text)
            self.buttons[name].changed.connect(lambda *_, s=slot: s())
        self.status = Label(value="Draw a box [Q] or click [W] on a slice.")
        self.status.native.setWordWrap(True)  # long messages wrap in the dock (magicgui has no option for it)
        self.volumes = VolumeLegend(napari_viewer)
        self.extend([self.image_combo, self.labels_combo, self.label_value, self.overwrite, self.model, self.checkpoint,
                     self.window, self.device, self.first, self.last, *self.buttons.values(), self.status, self.volumes])

        self._session: SamSession | None = None
        self._session_key: tuple | None = None
        self._preview: tuple[int, np.ndarray] | None = None  # (axis, 3D bool mask) awaiting Accept
        self._busy = False
        self._pending = False
        self._precompute_cancel = threading.Event()
        self._closing = False
        self.boxes = self.points = None
        self.last_worker = self._precompute_worker = None

        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(lambda *_: self.reset_choices())
        self.reset_choices()
        self.image_combo.changed.connect(self._image_changed)
        self.labels_combo.changed.connect(self._labels_changed)
        self.window.changed.connect(lambda *_: self._drop_session())
        self.model.changed.connect(lambda *_: self._drop_session())
        napari_viewer.dims.events.current_step.connect(lambda *_: self._precompute())
        self._bind_keys()
        ensure_autosave(napari_viewer)  # corrections painted in this viewer are snapshotted
        self._image_changed()

    # ---- layers -------------------------------------------------------------------------
    def _image_choices(self, _widget=None) -> list:
        return [(layer.name, layer) for layer in self.viewer.layers
                if isinstance(layer, napari.layers.Image) and layer.ndim == 3]

    def _labels_choices(self, _widget=None) -> list:
        return [(layer.name, layer) for layer in self.viewer.layers
                if isinstance(layer, napari.layers.Labels) and layer is not self.preview_layer]

    def _image_changed(self, *_):
        image = self.image_combo.value
        self._drop_session()
        self._preview = None
        if image is None:
            return
        axis = self._slice_axis()
        self.first.value, self.last.value = 0, image.data.shape[axis] - 1
        geometry = _geometry(image)
        image.events.data.connect(self._drop_session)  # edited pixels: window and embeddings anew
        if self.boxes is None or self.boxes not in self.viewer.layers:
            self.boxes = self.viewer.add_shapes(name="SAM boxes", ndim=3, edge_color="yellow", face_color="transparent",
                                                edge_width=1, **geometry)
            self.boxes.events.data.connect(self._prompts_changed)
        if self.points is None or self.points not in self.viewer.layers:
            self.points = self.viewer.add_points(name="SAM clicks", ndim=3, size=5, features={"inside": np.zeros(0, bool)},
                                                 face_color="lime", **geometry)
            self.points.feature_defaults = {"inside": True}
            self.points.events.data.connect(self._prompts_changed)
        if self.preview_layer is None or self.preview_layer not in self.viewer.layers:
            self.preview_layer = self.viewer.add_labels(np.zeros(image.data.shape, np.uint8), name="SAM preview",
                                                        opacity=0.5, **geometry)
        elif self.preview_layer.data.shape != image.data.shape:
            self.preview_layer.data = np.zeros(image.data.shape, np.uint8)
        for layer in (self.boxes, self.points, self.preview_layer):  # follow a newly chosen image
            for name, value in geometry.items():
                setattr(layer, name, value)
        self.viewer.layers.selection.active = self.boxes

    def _labels_changed(self, layer=None):
        """The legend describes the chosen labels layer (nothing when none is chosen)."""
        if layer is None or layer.ndim != 3:
            self.volumes.clear()
        elif layer is not self.volumes.layer:
            self.volumes.follow(layer)

    def _labels_layer(self):
        if self.labels_combo.value is None or self.labels_combo.value is self.preview_layer:
            image = self.image_combo.value
            layer = self.viewer.add_labels(np.zeros(image.data.shape, np.uint16), name=f"{image.name} labels",
                                           **_geometry(image))
            self.reset_choices()
            self.labels_combo.value = layer
        return self.labels_combo.value

    # ---- geometry of the current view ----------------------------------------------------
    def _slice_axis(self) -> int:
        return self.viewer.dims.not_displayed[0] if self.viewer.dims.ndisplay == 2 else 0

    def _displayed(self) -> tuple[int, int]:
        return tuple(self.viewer.dims.displayed[-2:])

    def _current_index(self) -> int:
        data_point = self.image_combo.value.world_to_data(self.viewer.dims.point)
        return int(round(float(data_point[self._slice_axis()])))

    # ---- session (windowed volume + model), built in a worker ----------------------------
    def _drop_session(self, *_):
        self._session, self._session_key = None, None

    def _session_args(self) -> tuple:
        checkpoint = self.checkpoint.value
        checkpoint = str(checkpoint) if checkpoint and Path(checkpoint).is_file() else None
        window = None if self.window.value in ("auto", _MR) else self.window.value
        modality = "MR" if self.window.value == _MR else None
        return (id(self.image_combo.value.data), self.model.value, checkpoint, window, modality, self.device.value)

    def _session_getter(self):
        """Read the settings here, in the GUI thread; the returned callable runs in a worker
        and gives the session for them, built when they changed."""
        key, data = self._session_args(), self.image_combo.value.data

        def get() -> SamSession:
            if self._session is None or self._session_key != key:
                _, model, checkpoint, window, modality, device = key
                predictor = load_predictor(model, checkpoint, device)
                self._session = SamSession(predictor, np.asarray(data), window, modality)
                self._session_key = key
            return self._session

        return get

    def _run(self, function, on_done):
        """Run ``function()`` in a thread worker; ``on_done(result)`` back in the GUI thread."""
        self._busy = True
        self._precompute_cancel.set()
        worker = create_worker(quietly(function))
        worker.returned.connect(on_done)
        worker.errored.connect(self._failed)
        worker.finished.connect(self._worker_finished)
        self.last_worker = worker
        worker.start()
        return worker

    def _failed(self, exc: Exception):
        self.status.value = f"Error: {exc}"
        show_error(f"SAM: {exc}")

    def _worker_finished(self):
        self._busy = False
        if self._closing:
            return
        if self._pending:
            self._pending = False
            self.segment_current()
        else:
            self._precompute()

    # ---- prompts -> preview --------------------------------------------------------------
    def _prompts(self) -> dict:
        boxes = [v for v, kind in zip(self.boxes.data, self.boxes.shape_type) if kind == "rectangle"]
        inside = self.points.features["inside"].to_numpy() if len(self.points.data) else None
        return slice_prompts(self._slice_axis(), boxes, self.points.data, inside, self._displayed())

    def _prompts_changed(self, event=None):
        if getattr(event, "action", "added") in ("added", "changed", "removed"):
            self.segment_current()

    def segment_current(self):
        """Predict the current slice from its prompts (queued while a worker runs)."""
        if self.image_combo.value is None:
            return
        if self._busy:
            self._pending = True
            return
        index, axis = self._current_index(), self._slice_axis()
        prompt = self._prompts().get(index)
        if prompt is None:
            return
        transpose = slice_view_axes(axis, self._displayed())[2]
        get_session = self._session_getter()

        def work():
            return get_session().segment_slice(axis, prompt, transpose)

        def done(mask2d):
            mask = np.zeros(self.image_combo.value.data.shape, bool)
            np.moveaxis(mask, axis, 0)[index] = mask2d.T if transpose else mask2d
            self._show_preview(axis, mask)
            self.status.value = f"Slice {index}: {int(mask2d.sum())} px. Accept [G] or propagate [Shift-G]."

        self.status.value = f"Segmenting slice {index}..."
        self._run(work, done)

    def _show_preview(self, axis: int, mask: np.ndarray):
        self._preview = (axis, mask)
        self.preview_layer.data = mask.astype(np.uint8)

    def accept(self):
        """Write the preview into the labels layer as one undo step."""
        if self._preview is None:
            show_info("SAM: nothing to accept; draw a prompt first")
            return
        layer = self._labels_layer()
        if layer.data.shape != self._preview[1].shape:
            show_error(f"SAM: labels layer {layer.name!r} has shape {layer.data.shape}, the image "
                       f"{self._preview[1].shape}; choose a labels layer on the image's grid")
            return
        indices = label_edit(np.asarray(layer.data), self._preview[1], self.label_value.value, self.overwrite.value)
        layer.data_setitem(indices, self.label_value.value)
        self._preview = None
        self.preview_layer.data = np.zeros_like(self.preview_layer.data)
        self.status.value = f"Accepted {indices[0].size} voxels as label {self.label_value.value} (Ctrl+Z undoes)."

    def propagate(self):
        """Propagate from every prompted slice along the current axis through first..last."""
        if self.image_combo.value is None or self._busy:
            return
        axis, (_, _, transpose) = self._slice_axis(), slice_view_axes(self._slice_axis(), self._displayed())
        prompts = list(self._prompts().values())
        n = self.image_combo.value.data.shape[axis]
        extent = Extent(min(self.first.value, self.last.value, n - 1), min(max(self.first.value, self.last.value), n - 1))
        prompts = [p for p in prompts if extent.first <= p.index <= extent.last]
        if not prompts:
            show_info("SAM: draw a box or clicks on a slice inside the propagation range first")
            return
        total = extent.last - extent.first + 1
        eta = ""
        if self._session is not None:
            seconds = self._session.estimate_seconds(axis, extent.first, extent.last, transpose)
            eta = f" about {seconds:.0f} s on {self._session.predictor.device.type.upper()}"
            show_info(f"SAM: propagating through up to {total} slices,{eta}")

        bar = napari_progress(total=total, desc="SAM propagation")
        get_session = self._session_getter()

        def work():  # a generator worker: progress travels through `yielded` to the GUI thread
            return (yield from get_session().propagate_steps(axis, prompts, extent, transpose))

        def report(step):
            bar.update(step[0] - bar.n)

        def done(mask):
            self._show_preview(axis, mask)
            self.status.value = f"Propagated: {int(mask.any(axis=tuple(a for a in range(3) if a != axis)).sum())} " \
                                f"slices, {int(mask.sum())} voxels. Accept [G]."

        self.status.value = f"Propagating,{eta or ' timing the first slices'}... (Cancel stops)"
        worker = self._run(work, done)
        worker.yielded.connect(report)
        worker.aborted.connect(lambda: setattr(self.status, "value", "Propagation cancelled; nothing changed."))
        worker.finished.connect(bar.close)

    def shutdown(self):
        """Stop background work (precompute, a running propagation); for closing the viewer."""
        self._closing = True
        self._precompute_cancel.set()
        if self._busy and self.last_worker is not None:
            self.last_worker.quit()

    @property
    def idle(self) -> bool:
        """True when no model work (foreground or background) is running."""
        return not self._busy and self._precompute_worker is None

    def cancel(self):
        """Stop a running propagation after the current slice."""
        if self._busy and self.last_worker is not None:
            self.last_worker.quit()

    # ---- background embeddings -------------------------------------------------------------
    def _precompute(self):
        """Embed the slices around the current one while the user looks (one at a time)."""
        if (self._busy or self._closing or self._session is None or self.image_combo.value is None
                or self._precompute_worker is not None):
            return
        axis, index = self._slice_axis(), self._current_index()
        transpose = slice_view_axes(axis, self._displayed())[2]
        order = sorted(range(index - _NEARBY, index + _NEARBY + 1), key=lambda i: abs(i - index))
        self._precompute_cancel.clear()
        session, stop = self._session, self._precompute_cancel
        worker = create_worker(quietly(lambda: session.precompute(axis, order, transpose, cancel=stop.is_set)))
        worker.errored.connect(self._failed)
        worker.finished.connect(lambda: setattr(self, "_precompute_worker", None))
        self._precompute_worker = worker
        worker.start()

    # ---- modes and keys --------------------------------------------------------------------
    def box_mode(self):
        self.viewer.layers.selection.active = self.boxes
        self.boxes.mode = "add_rectangle"

    def point_mode(self, inside: bool = True):
        self.viewer.layers.selection.active = self.points
        self.points.feature_defaults = {"inside": inside}
        self.points.current_face_color = "lime" if inside else "red"
        self.points.mode = "add"

    def next_label(self):
        self.label_value.value += 1
        self.status.value = f"Label value {self.label_value.value}."

    def _bind_keys(self):
        actions = {"Q": self.box_mode, "W": self.point_mode, "Shift-W": lambda: self.point_mode(False),
                   "G": self.accept, "Shift-G": self.propagate, "N": self.next_label}
        for key, action in actions.items():
            self.viewer.bind_key(key, lambda _viewer, a=action: a(), overwrite=True)
