"""Interactive SAM dock widget: boxes, corrective clicks and propagation -> preview -> labels.

Thin napari glue over :class:`napari_medseg.models.sam.InteractiveSession`: a box drawn
in the *SAM boxes* Shapes layer or a click in the *SAM clicks* Points layer becomes one
session call (``add_box`` / ``add_click``) on the viewed slice, run in a thread worker;
the structure's changed slices show in the *SAM preview* layer, and *Accept* writes them
into the chosen Labels layer with one ``data_setitem`` call (one undo step), replacing
the label's voxels there (so corrections can remove false positives). The session
starts from the label's voxels already in the layer, so clicks also correct an accepted
result. All slices of the viewed axis are embedded in the background as soon as an image
is chosen (progress in the widget; the embeddings are cached on disk by content).

Keys, active while a SAM layer is selected: Q box mode, W inside clicks, Shift-W outside
clicks, G accept, Shift-G propagate, N next label value.
"""

from __future__ import annotations

import time
from pathlib import Path

import napari
import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, Label, ProgressBar, PushButton, SpinBox
from napari.qt.threading import create_worker

from ..cache import cache_root
from ..ct_windows import WINDOWS
from ..library_warnings import quietly
from ..models.registry import DEVICES, SAM_TYPES
from ..models.sam import InteractiveSession, load_predictor
from ..models.sam.propagation import Extent
from .adapt_panel import AdaptPanel
from .autosave import ensure_autosave
from .docking import tabify_when_docked
from .layers import layer_grid
from .sam_embedding import BackgroundEmbedder
from .volume_legend import VolumeLegend

_MR = "MR (percentiles)"
_INSIDE, _OUTSIDE = "lime", "red"


def _tip(widget, text: str):
    widget.tooltip = text
    return widget


class SamWidget(Container):
    """Dock widget: pick image and labels, draw boxes and clicks, propagate, accept."""

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        tabify_when_docked(self)  # opened beside our other docks: a tab, not a squeeze
        self.viewer = napari_viewer
        self.preview_layer = self.boxes = self.points = None
        self.image_combo = _tip(ComboBox(label="image", choices=self._image_choices), "The 3D image to segment.")
        self.labels_combo = _tip(
            ComboBox(label="labels", choices=self._labels_choices, nullable=True),
            "Labels layer that Accept writes into (created on first Accept when empty).",
        )
        self.label_value = _tip(
            SpinBox(value=1, min=1, max=65535, label="label value"),
            "The structure being segmented or corrected [N: next value].",
        )
        self.overwrite = _tip(
            CheckBox(value=False, text="overwrite other labels"), "Let Accept write over voxels of other labels."
        )
        self.model = _tip(
            ComboBox(choices=SAM_TYPES, value="litemedsam", label="model"),
            "SAM-family model; LiteMedSAM ships with the plugin, others need a checkpoint.",
        )
        self.checkpoint = _tip(
            FileEdit(mode="r", filter="*.pth *.pt", label="checkpoint (.pth)", nullable=True),
            "Weights file for MedSAM or SAM (not needed for LiteMedSAM).",
        )
        self.window = _tip(
            ComboBox(choices=["auto", *WINDOWS, _MR], value="auto", label="intensity"),
            "CT window or MR percentile scaling; auto: CT when the image reaches -1000 HU.",
        )
        self.device = _tip(
            ComboBox(choices=DEVICES, value="auto", label="device"),
            "Where the model runs; auto uses a CUDA GPU when there is one.",
        )
        self.first = _tip(
            SpinBox(value=0, min=0, max=100000, label="propagate from slice"),
            "First slice of the viewed axis propagation may reach.",
        )
        self.last = _tip(
            SpinBox(value=0, min=0, max=100000, label="to slice"),
            "Last slice of the viewed axis propagation may reach (it stops where the structure ends).",
        )
        buttons = {
            "box": ("Box [Q]", self.box_mode, "Draw a box around the structure on a slice."),
            "point": ("Click [W]", self.point_mode, "Click inside the structure to add; Shift-W to remove."),
            "accept": ("Accept [G]", self.accept, "Write the preview into the labels layer (Ctrl+Z undoes)."),
            "propagate": ("Propagate [⇧G]", self.propagate, "Carry the prompted slices through the range."),
            "cancel": ("Cancel", self.cancel, "Stop a running propagation; nothing changes."),
            "reset": ("Reset", self.reset, "Drop the preview and prompts; start again from the labels layer."),
        }
        self.buttons = {}
        for name, (text, slot, tip) in buttons.items():
            self.buttons[name] = _tip(PushButton(text=text), tip)
            self.buttons[name].changed.connect(lambda *_, s=slot: s())
        self.progress = ProgressBar(value=0, min=0, max=1, label="model")
        self.embedding_progress = ProgressBar(value=0, min=0, max=1, label="slices embedded")
        self.status = Label(value="Draw a box [Q] or click [W] on a slice.")
        self.status.native.setWordWrap(True)  # long messages wrap in the dock (magicgui has no option for it)
        self.status.min_width, self.status.min_height = 300, 56  # room for three wrapped lines
        self.volumes = VolumeLegend(napari_viewer)
        self.extend(
            [
                self.image_combo,
                self.labels_combo,
                self.label_value,
                self.overwrite,
                self.model,
                self.checkpoint,
                self.window,
                self.device,
                self.first,
                self.last,
                *self._button_rows(),
                self.progress,
                self.embedding_progress,
                Container(widgets=[self.status, self.volumes], labels=False),
            ]
        )  # the dock's full width
        self[-1].margins = (0, 0, 0, 0)
        self.adapt_panel = AdaptPanel(self)  # Adapt to this structure: its own module
        self.append(self.adapt_panel)

        self.session: InteractiveSession | None = None
        self._session_key: tuple | None = None
        self._target_key: tuple | None = None
        self._queue: list = []  # interactions waiting for the worker
        self._worker = None
        self.embedder = BackgroundEmbedder(self.embedding_progress, lambda: self._worker is not None, self._failed)
        self._closing = False

        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(lambda *_: self.reset_choices())
        self.reset_choices()
        self.image_combo.changed.connect(self._image_changed)
        self.labels_combo.changed.connect(self._target_changed)
        self.label_value.changed.connect(self._target_changed)
        for setting in (self.window, self.model, self.checkpoint, self.device):
            setting.changed.connect(lambda *_: self._drop_session())
        napari_viewer.dims.events.order.connect(lambda *_: self._axis_changed())
        napari_viewer.dims.events.ndisplay.connect(lambda *_: self._axis_changed())
        ensure_autosave(napari_viewer)  # corrections painted in this viewer are snapshotted
        self.native.destroyed.connect(lambda *_: self.shutdown())  # the dock closed: stop our workers
        self._image_changed()

    def _button_rows(self) -> list[Container]:
        """The buttons three to a row, so the dock fits a laptop screen."""
        buttons = list(self.buttons.values())
        rows = [
            Container(widgets=buttons[i : i + 3], layout="horizontal", labels=False) for i in range(0, len(buttons), 3)
        ]
        for row in rows:
            row.margins = (0, 0, 0, 0)  # no gap between rows: with the others, the dock fits 768 px
        return rows

    # ---- layers -------------------------------------------------------------------------
    def _image_choices(self, _widget=None) -> list:
        return [
            (layer.name, layer)
            for layer in self.viewer.layers
            if isinstance(layer, napari.layers.Image) and layer.ndim == 3
        ]

    def _labels_choices(self, _widget=None) -> list:
        return [
            (layer.name, layer)
            for layer in self.viewer.layers
            if isinstance(layer, napari.layers.Labels) and layer is not self.preview_layer
        ]

    def _image_changed(self, *_):
        image = self.image_combo.value
        self._drop_session()
        if image is None:
            return
        geometry = layer_grid(image)
        image.events.data.connect(self._drop_session)  # edited pixels: window and embeddings anew
        if self.boxes is None or self.boxes not in self.viewer.layers:
            self.boxes = self.viewer.add_shapes(
                name="SAM boxes", ndim=3, edge_color="yellow", face_color="transparent", edge_width=1, **geometry
            )
            self.boxes.events.data.connect(self._box_drawn)
        if self.points is None or self.points not in self.viewer.layers:
            self.points = self.viewer.add_points(
                name="SAM clicks",
                ndim=3,
                size=5,
                face_color=_INSIDE,
                features={"inside": np.zeros(0, bool)},
                **geometry,
            )
            self.points.feature_defaults = {"inside": True}
            self.points.events.data.connect(self._point_added)
        if self.preview_layer is None or self.preview_layer not in self.viewer.layers:
            self.preview_layer = self.viewer.add_labels(
                np.zeros(image.data.shape, np.uint8), name="SAM preview", opacity=0.5, **geometry
            )
            self.preview_layer.events.paint.connect(self._painted)
        elif self.preview_layer.data.shape != image.data.shape:
            self.preview_layer.data = np.zeros(image.data.shape, np.uint8)
        for layer in (self.boxes, self.points, self.preview_layer):  # follow a newly chosen image
            for name, value in geometry.items():
                setattr(layer, name, value)
            self._bind_keys(layer)
        self._axis_changed()
        self.viewer.layers.selection.active = self.boxes
        self._submit([])  # build the session now, so embedding starts while the user looks

    def _labels_layer(self):
        if self.labels_combo.value is None:
            image = self.image_combo.value
            layer = self.viewer.add_labels(
                np.zeros(image.data.shape, np.uint16), name=f"{image.name} labels", **layer_grid(image)
            )
            self.reset_choices()
            self.labels_combo.value = layer
        return self.labels_combo.value

    def _target_changed(self, *_):
        """Another labels layer or value: the session restarts from that label's voxels."""
        layer = self.labels_combo.value
        if layer is None or layer.ndim != 3:
            self.volumes.clear()
        elif layer is not self.volumes.layer:
            self.volumes.follow(layer)
            for event in (layer.events.paint, layer.events.data, layer.events.set_data):  # set_data: undo, redo
                event.connect(self._labels_edited)
        self._labels_edited()

    def _labels_edited(self, *_):
        self._target_key = None  # painted, undone or accepted: re-read before the next interaction

    # ---- the viewed axis ----------------------------------------------------------------
    def _slice_axis(self) -> int:
        return self.viewer.dims.not_displayed[0] if self.viewer.dims.ndisplay == 2 else 0

    def _axis_changed(self):
        """The propagation range follows the viewed axis: all of its slices."""
        image = self.image_combo.value
        if image is None:
            return
        n = image.data.shape[self._slice_axis()]
        for box in (self.first, self.last):
            box.max = n - 1
        self.first.value, self.last.value = 0, n - 1
        self._start_embedding()

    def _current_index(self) -> int:
        data_point = self.image_combo.value.world_to_data(self.viewer.dims.point)
        return int(round(float(data_point[self._slice_axis()])))

    def _in_slice(self, point) -> tuple[int, int, float, float]:
        """(axis, index, x, y) of a data point on the viewed axis: x, y along the larger and smaller other axes."""
        axis = self._slice_axis()
        rows, cols = [a for a in range(3) if a != axis]
        return axis, int(round(float(point[axis]))), float(point[cols]), float(point[rows])

    # ---- the session, built and driven in one worker at a time ---------------------------
    def _drop_session(self, *_):
        self.embedder.stop()
        self.session, self._session_key, self._target_key = None, None, None

    def _keys(self) -> tuple[tuple, tuple]:
        checkpoint = self.checkpoint.value
        checkpoint = str(checkpoint) if checkpoint and Path(checkpoint).is_file() else None
        window = None if self.window.value in ("auto", _MR) else self.window.value
        modality = "MR" if self.window.value == _MR else None
        session = (id(self.image_combo.value.data), self.model.value, checkpoint, window, modality, self.device.value)
        labels = self.labels_combo.value
        target = (id(labels) if labels is not None else None, self.label_value.value)
        return session, target

    @property
    def busy(self) -> bool:
        """True while the model works on the user's interactions."""
        return self._worker is not None

    @property
    def idle(self) -> bool:
        """True when no model work (foreground or background embedding) is running."""
        return self._worker is None and not self.embedder.running

    def _submit(self, steps: list, describe: str = ""):
        """Queue interactions (callables ``session -> Change``); run the queue in a worker."""
        self._queue.extend(steps)
        if self._worker is None and self.image_combo.value is not None and not self._closing:
            self._run_queue(describe)

    def _run_queue(self, describe: str):
        (session_key, target_key), image = self._keys(), self.image_combo.value
        labels = self.labels_combo.value
        target = None if labels is None or labels.data.shape != image.data.shape else np.asarray(labels.data)
        rebuild = self.session is None or self._session_key != session_key
        retarget = rebuild or self._target_key != target_key
        steps, self._queue = self._queue, []
        session = self.session
        data = image.data

        def work():
            nonlocal session
            if rebuild:
                _, model, checkpoint, window, modality, device = session_key
                predictor = load_predictor(model, checkpoint, device, cache_dir=cache_root() / "sam-embeddings")
                session = InteractiveSession(predictor, np.asarray(data), window, modality)
            if retarget:
                session.set_target(target, target_key[1])
            changes = [step(session) for step in steps]
            return session, changes

        def done(result):
            self.session, changes = result
            self._session_key, self._target_key = session_key, target_key
            if retarget:
                self.preview_layer.data = np.zeros(self.preview_layer.data.shape, np.uint8)
            for change in changes:
                self._show(change)
            if changes:
                self.status.value = describe or self.status.value

        self.status.value = "Loading the model and windowing the image..." if rebuild else "Working..."
        self._start(work, done)

    def _start(self, work, on_done):
        self.progress.max, self.progress.value = 0, 0  # busy indicator until steps are known
        worker = create_worker(quietly(work))
        worker.returned.connect(on_done)
        worker.errored.connect(self._failed)
        worker.finished.connect(self._finished)
        self._worker = worker
        worker.start()
        return worker

    def _failed(self, exc: Exception):
        self.status.value = f"Error: {exc}"

    def _finished(self):
        self._worker = None
        self.progress.max, self.progress.value = 1, 1
        if self._closing:
            return
        if self._queue:
            self._run_queue("")
        else:
            self._start_embedding()

    def _show(self, change):
        """Copy the changed slices of the session's structure into the preview layer."""
        if change is None or change.empty:
            return
        region = change.region()
        self.preview_layer.data[region] = self.session.mask[region]
        self.preview_layer.refresh()

    # ---- prompts -> session ----------------------------------------------------------------
    def _box_drawn(self, event=None):
        if getattr(event, "action", "added") != "added" or not len(self.boxes.data):
            return
        vertices = np.asarray(self.boxes.data[-1], float)
        axis, index, _, _ = self._in_slice(np.median(vertices, axis=0))
        rows, cols = [a for a in range(3) if a != axis]
        rect = (vertices[:, cols].min(), vertices[:, rows].min(), vertices[:, cols].max(), vertices[:, rows].max())
        self._submit(
            [lambda s: s.add_box(axis, index, rect)],
            f"Slice {index}: box segmented. Click to correct [W / Shift-W], propagate [Shift-G], accept [G].",
        )

    def _point_added(self, event=None):
        if getattr(event, "action", "added") != "added" or not len(self.points.data):
            return
        axis, index, x, y = self._in_slice(self.points.data[-1])
        include = bool(self.points.features["inside"].iloc[-1])
        word = "added to" if include else "removed from"
        self._submit(
            [lambda s: s.add_click(axis, index, x, y, include)],
            f"Slice {index}: click {word} the structure; the change was carried to its neighbours.",
        )

    def _painted(self, event=None):
        """A brush stroke or erase on the preview corrects its slice, then is carried to the neighbours."""
        if self.session is None or self.image_combo.value is None:
            return
        axis, index, preview = self._slice_axis(), self._current_index(), self.preview_layer.data
        keep = index not in self.session.touched[axis]  # the preview did not show this slice's structure
        # napari sends the paint event before it writes the pixels: the worker reads them, later
        self._submit(
            [lambda s: s.paint(axis, index, np.moveaxis(preview, axis, 0)[index] > 0, keep=keep)],
            f"Slice {index}: brush correction applied and carried to its neighbours.",
        )

    def accept(self):
        """Write the preview into the labels layer as one undo step."""
        if self.session is None or not any(self.session.touched.values()):
            self.status.value = "Nothing to accept yet: draw a box or click on a slice first."
            return
        if self.busy:
            self.status.value = "Still working; accept when the preview is ready."
            return
        layer = self._labels_layer()
        if layer.data.shape != self.session.shape:
            self.status.value = (
                f"Labels layer {layer.name!r} has shape {layer.data.shape}, the image "
                f"{self.session.shape}: choose a labels layer on the image's grid."
            )
            return
        value = self.label_value.value
        indices, values = self.session.label_edit(np.asarray(layer.data), value, self.overwrite.value)
        layer.data_setitem(indices, values)
        self.session.reset()
        self._target_key = self._keys()[1]  # the session's mask is the layer's label now
        self.preview_layer.data = np.zeros(self.preview_layer.data.shape, np.uint8)
        with self.boxes.events.data.blocker(), self.points.events.data.blocker():
            self.boxes.data, self.points.data = [], np.zeros((0, 3))
        added, removed = int((values == value).sum()), int((values != value).sum())
        self.status.value = f"Accepted label {value}: {added} voxels added, {removed} removed (Ctrl+Z undoes)."

    def propagate(self):
        """Propagate the prompted slices of the viewed axis through first..last, in a worker."""
        if self.image_combo.value is None or self.busy:
            return
        axis = self._slice_axis()
        first, last = sorted((self.first.value, self.last.value))
        extent = Extent(first, min(last, self.image_combo.value.data.shape[axis] - 1))
        if self.session is None or not any(
            a == axis and extent.first <= i <= extent.last for a, i in self.session.prompted()
        ):
            self.status.value = "Draw a box or click on a slice of this view inside the range first."
            return
        session, started = self.session, time.perf_counter()

        def work():
            return (yield from session.propagate_steps(axis, extent))

        def report(step):
            done, total = step
            self.progress.max, self.progress.value = total, done
            elapsed = time.perf_counter() - started
            left = f", about {elapsed / done * (total - done):.0f} s left" if done >= 3 and done < total else ""
            self.status.value = f"Propagating: slice {done} of at most {total}{left}. Cancel stops."

        def done(change):
            self._show(change)
            reached = np.moveaxis(session.mask, axis, 0)[extent.first : extent.last + 1].any(axis=(1, 2))
            self.status.value = (
                f"Propagated through {int(reached.sum())} slices in "
                f"{time.perf_counter() - started:.1f} s. Correct with clicks, then Accept [G]."
            )

        self.status.value = "Propagating..."
        worker = self._start(work, done)
        worker.yielded.connect(report)
        worker.aborted.connect(lambda: setattr(self.status, "value", "Propagation cancelled; nothing changed."))

    def cancel(self):
        """Stop a running propagation after the current slice."""
        if self._worker is not None:
            self._worker.quit()

    def reset(self):
        """Forget prompts and preview; the session restarts from the labels layer's voxels."""
        self._labels_edited()
        self.preview_layer.data = np.zeros(self.preview_layer.data.shape, np.uint8)
        with self.boxes.events.data.blocker(), self.points.events.data.blocker():
            self.boxes.data, self.points.data = [], np.zeros((0, 3))
        self.status.value = "Reset: draw a box [Q] or click [W] on a slice."

    def shutdown(self):
        """Stop background work (embedding, a running propagation); for closing the viewer."""
        self._closing = True
        self.embedder.stop()
        self.cancel()

    def _start_embedding(self):
        if not self._closing and self.session is not None:
            self.embedder.start(self.session, self._slice_axis(), self._current_index())

    # ---- modes and keys --------------------------------------------------------------------
    def box_mode(self):
        self.viewer.layers.selection.active = self.boxes
        self.boxes.mode = "add_rectangle"

    def point_mode(self, inside: bool = True):
        self.viewer.layers.selection.active = self.points
        self.points.selected_data = set()  # else the new colour would recolour the last click
        self.points.feature_defaults = {"inside": inside}
        self.points.current_face_color = _INSIDE if inside else _OUTSIDE
        self.points.mode = "add"

    def next_label(self):
        self.label_value.value += 1
        self.status.value = f"Label value {self.label_value.value}."

    def _bind_keys(self, layer):
        """Shortcuts on our own layers only, so they never override the viewer's or other plugins' keys."""
        actions = {
            "Q": self.box_mode,
            "W": self.point_mode,
            "Shift-W": lambda: self.point_mode(False),
            "G": self.accept,
            "Shift-G": self.propagate,
            "N": self.next_label,
        }
        for key, action in actions.items():
            layer.bind_key(key, lambda _layer, a=action: a(), overwrite=True)
