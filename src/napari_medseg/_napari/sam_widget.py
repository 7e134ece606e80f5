"""Interactive SAM dock widget: boxes, corrective clicks and propagation -> preview -> labels.

Thin napari glue over :class:`napari_medseg.models.sam.InteractiveSession`: a box drawn in the
*SAM boxes* Shapes layer or a click in the *SAM clicks* Points layer becomes one session call
(``add_box`` / ``add_click``) on the viewed slice, run in a thread worker; the structure's changed
slices show in the *SAM preview* layer, and *Accept* writes them into the chosen Labels layer with
one ``data_setitem`` call (one undo step), replacing the label's voxels there (so corrections can
remove false positives). The session starts from the label's voxels already in the layer, so
clicks also correct an accepted result. All slices of the viewed axis are embedded in the
background as soon as an image is chosen (progress in the widget; cached on disk by content). The
session and its workers live in :mod:`.sam_session_runner`, the three layers in :mod:`.sam_layers`.
Keys, active while a SAM layer is selected: Q box mode, W inside clicks, Shift-W outside
clicks, G accept, Shift-G propagate, N next label value.
"""

from __future__ import annotations

import time
from pathlib import Path

import napari
import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, Label, ProgressBar, PushButton, SpinBox

from ..ct_windows import WINDOWS
from ..models.registry import DEVICES, SAM_TYPES
from ..models.sam import InteractiveSession
from ..models.sam.propagation import Extent
from .adapt_panel import AdaptPanel
from .autosave import ensure_autosave
from .docking import tabify_when_docked
from .layers import layer_grid
from .sam_layers import PromptLayers
from .sam_session_runner import SessionRequest, SessionRunner
from .volume_legend import VolumeLegend

_MR = "MR (percentiles)"


def _tip(widget, text: str):
    widget.tooltip = text
    return widget


class SamWidget(Container):
    """Dock widget: pick image and labels, draw boxes and clicks, propagate, accept."""

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        tabify_when_docked(self)  # opened beside our other docks: a tab, not a squeeze
        self.viewer = napari_viewer
        keys = {"Q": self.box_mode, "W": self.point_mode, "Shift-W": lambda: self.point_mode(False)}
        keys.update({"G": self.accept, "Shift-G": self.propagate, "N": self.next_label})
        self.layers = PromptLayers(napari_viewer, self._box_drawn, self._point_added, self._painted, keys)
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
            self.buttons[name] = PushButton(text=text, tooltip=tip)
            self.buttons[name].changed.connect(lambda *_, s=slot: s())
        row = list(self.buttons.values())  # three to a row, no gap between rows: the docks fit 768 px
        button_rows = [Container(widgets=row[i : i + 3], layout="horizontal", labels=False) for i in range(0, 6, 3)]
        for button_row in button_rows:
            button_row.margins = (0, 0, 0, 0)
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
                *button_rows,
                self.progress,
                self.embedding_progress,
                Container(widgets=[self.status, self.volumes], labels=False),
            ]
        )  # the dock's full width
        self[-1].margins = (0, 0, 0, 0)
        self.adapt_panel = AdaptPanel(self)  # Adapt to this structure: its own module
        self.append(self.adapt_panel)

        self.runner = SessionRunner(
            self.progress,
            self.embedding_progress,
            self._request,
            self._changes_done,
            lambda text: setattr(self.status, "value", text),
            lambda: (self.slice_axis(), self.current_index()),
        )

        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(lambda *_: self.reset_choices())
        self.reset_choices()
        self.image_combo.changed.connect(self._image_changed)
        self.labels_combo.changed.connect(self._target_changed)
        self.label_value.changed.connect(self._target_changed)
        for setting in (self.window, self.model, self.checkpoint, self.device):
            setting.changed.connect(lambda *_: self.runner.drop())
        napari_viewer.dims.events.order.connect(lambda *_: self._axis_changed())
        napari_viewer.dims.events.ndisplay.connect(lambda *_: self._axis_changed())
        ensure_autosave(napari_viewer)  # corrections painted in this viewer are snapshotted
        self.native.destroyed.connect(lambda *_: self.runner.shutdown())  # the dock closed: stop our workers
        self._image_changed()

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
            if isinstance(layer, napari.layers.Labels) and layer is not self.layers.preview
        ]

    def _image_changed(self, *_):
        image = self.image_combo.value
        self.runner.drop()
        if image is None:
            return
        image.events.data.connect(self.runner.drop)  # edited pixels: window and embeddings anew
        self.layers.follow(image)
        self._axis_changed()
        # build the session now, so embedding starts while the user looks
        self.runner.submit([], "Ready: draw a box [Q] or click [W] on a slice.")

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
                event.connect(self.runner.target_edited)  # painted, undone or accepted: re-read it
        self.runner.target_edited()

    # ---- the viewed axis ----------------------------------------------------------------
    def slice_axis(self) -> int:
        """The array axis across the viewed slices (0 in 3D view)."""
        return self.layers.slice_axis()

    def _axis_changed(self):
        """The propagation range follows the viewed axis: all of its slices."""
        image = self.image_combo.value
        if image is None:
            return
        n = image.data.shape[self.slice_axis()]
        for box in (self.first, self.last):
            box.max = n - 1
        self.first.value, self.last.value = 0, n - 1
        self.runner.embed()

    def current_index(self) -> int:
        """The viewed slice's index along :meth:`slice_axis`."""
        data_point = self.image_combo.value.world_to_data(self.viewer.dims.point)
        return int(round(float(data_point[self.slice_axis()])))

    # ---- the session (built and driven by the runner, one worker at a time) -----------------
    @property
    def session(self) -> InteractiveSession | None:
        """The interactive session of the chosen image and settings (None until built)."""
        return self.runner.session

    @property
    def busy(self) -> bool:
        """True while the model works on the user's interactions."""
        return self.runner.busy

    @property
    def idle(self) -> bool:
        """True when no model work (foreground or background embedding) is running."""
        return self.runner.idle

    def target(self) -> tuple:
        """``(labels layer id or None, label value)``: which structure the session works on."""
        labels = self.labels_combo.value
        return (id(labels) if labels is not None else None, self.label_value.value)

    def target_in_session(self) -> None:
        """The session's structure now equals the chosen label in the labels layer (after Accept
        or an adaptation): it is not re-read before the next interaction."""
        self.runner.target_current(self.target())

    def _request(self) -> SessionRequest | None:
        image = self.image_combo.value
        if image is None:
            return None
        checkpoint = self.checkpoint.value
        checkpoint = str(checkpoint) if checkpoint and Path(checkpoint).is_file() else None
        window = None if self.window.value in ("auto", _MR) else self.window.value
        modality = "MR" if self.window.value == _MR else None
        settings = (id(image.data), self.model.value, checkpoint, window, modality, self.device.value)
        labels = self.labels_combo.value
        target = None if labels is None or labels.data.shape != image.data.shape else np.asarray(labels.data)
        return SessionRequest(settings, self.target(), image.data, target)

    def _changes_done(self, changes: list, retargeted: bool, describe: str):
        if retargeted:
            self.layers.clear_preview()
        for change in changes:
            self.show_change(change)
        if describe:  # what the finished steps did (or that the session is ready)
            self.status.value = describe

    def show_change(self, change):
        """Copy the changed slices of the session's structure into the preview layer."""
        if self.session is not None:
            self.layers.show(change, self.session.mask)

    # ---- prompts -> session ----------------------------------------------------------------
    def _box_drawn(self, event=None):
        if getattr(event, "action", "added") != "added" or (box := self.layers.last_box()) is None:
            return
        axis, index, rect = box
        self.runner.submit(
            [lambda s: s.add_box(axis, index, rect)],
            f"Slice {index}: box segmented. Click to correct [W / Shift-W], propagate [Shift-G], accept [G].",
        )

    def _point_added(self, event=None):
        if getattr(event, "action", "added") != "added" or (click := self.layers.last_click()) is None:
            return
        axis, index, x, y, include = click
        word = "added to" if include else "removed from"
        self.runner.submit(
            [lambda s: s.add_click(axis, index, x, y, include)],
            f"Slice {index}: click {word} the structure; the change was carried to its neighbours.",
        )

    def _painted(self, event=None):
        """A brush stroke or erase on the preview corrects its slice, then is carried to the neighbours."""
        if self.session is None or self.image_combo.value is None:
            return
        axis, index, preview = self.slice_axis(), self.current_index(), self.layers.preview.data
        keep = index not in self.session.touched[axis]  # the preview did not show this slice's structure
        # napari sends the paint event before it writes the pixels: the worker reads them, later
        self.runner.submit(
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
        self.target_in_session()  # the session's mask is the layer's label now
        self.layers.clear()
        added, removed = int((values == value).sum()), int((values != value).sum())
        self.status.value = f"Accepted label {value}: {added} voxels added, {removed} removed (Ctrl+Z undoes)."

    def propagate(self):
        """Propagate the prompted slices of the viewed axis through first..last, in a worker."""
        if self.image_combo.value is None or self.busy:
            return
        axis = self.slice_axis()
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
            self.show_change(change)
            reached = np.moveaxis(session.mask, axis, 0)[extent.first : extent.last + 1].any(axis=(1, 2))
            self.status.value = (
                f"Propagated through {int(reached.sum())} slices in "
                f"{time.perf_counter() - started:.1f} s. Correct with clicks, then Accept [G]."
            )

        self.status.value = "Propagating..."
        worker = self.runner.start(work, done)
        worker.yielded.connect(report)
        worker.aborted.connect(lambda: setattr(self.status, "value", "Propagation cancelled; nothing changed."))

    def cancel(self):
        """Stop a running propagation after the current slice."""
        self.runner.cancel()

    def reset(self):
        """Forget prompts and preview; the session restarts from the labels layer's voxels."""
        self.runner.target_edited()
        self.layers.clear()
        self.status.value = "Reset: draw a box [Q] or click [W] on a slice."

    def shutdown(self):
        """Stop background work (embedding, a running propagation); for closing the viewer."""
        self.runner.shutdown()

    # ---- modes and keys --------------------------------------------------------------------
    def box_mode(self):
        """Draw boxes [Q]."""
        self.layers.box_mode()

    def point_mode(self, inside: bool = True):
        """Click inside [W] (or outside [Shift-W]) the structure."""
        self.layers.point_mode(inside)

    def next_label(self):
        self.label_value.value += 1
        self.status.value = f"Label value {self.label_value.value}."
