"""Autosave in napari: Labels layers the user paints on are snapshotted once the strokes pause.

Thin glue over :mod:`napari_medseg.autosave`. :func:`ensure_autosave` starts one watcher
per viewer; the plugin's reader and widgets call it, so it runs from the moment an image
is opened with MedSeg or a MedSeg widget is docked. The watcher listens to each 3D Labels
layer's ``paint`` event (brush, fill, erase, SAM's Accept); :data:`DELAY_S` seconds after
the last stroke it copies the edited layers and writes them in a worker thread, so painting
never waits for the disk. :class:`RecoverWidget` lists the snapshots and restores one as a
new Labels layer on its image's grid.
"""
from __future__ import annotations

import os
import weakref

import numpy as np
from magicgui.widgets import ComboBox, Container, Label, PushButton
from napari.layers import Labels
from napari.qt.threading import create_worker
from napari.utils.notifications import show_info, show_warning
from superqt.utils import qdebounced

from ..autosave import Snapshot, discard, list_snapshots, load_snapshot, prune, save_snapshot
from ..library_warnings import quietly
from .layers import label_names_from_features, labels_layer_data, volume_from_layer

#: Seconds after the last stroke before the edited layers are saved.
DELAY_S = float(os.environ.get("NAPARI_MEDSEG_AUTOSAVE_DELAY", "15"))

_WATCHERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def ensure_autosave(viewer) -> "AutosaveWatcher | None":
    """The viewer's autosave watcher, started on first use (None without a viewer)."""
    if viewer is None:
        return None
    if viewer not in _WATCHERS:
        _WATCHERS[viewer] = AutosaveWatcher(viewer)
    return _WATCHERS[viewer]


class AutosaveWatcher:
    """Saves recovery snapshots of the viewer's edited Labels layers.

    Attributes
    ----------
    saved : list of Snapshot, written by this watcher, oldest first.
    worker : the running save worker, or None.
    """

    def __init__(self, viewer, delay_s: float | None = None):
        self.viewer = viewer
        self.saved: list[Snapshot] = []
        self.worker = None
        self._dirty: dict[int, Labels] = {}
        self._again = False
        self._save_soon = qdebounced(self.save_now, timeout=int(1000 * (DELAY_S if delay_s is None else delay_s)))
        try:
            prune()
        except OSError as exc:
            show_warning(f"MedSeg autosave: old snapshots could not be removed ({exc})")
        viewer.layers.events.inserted.connect(lambda event: self._watch(event.value))
        for layer in viewer.layers:
            self._watch(layer)

    def _watch(self, layer) -> None:
        if isinstance(layer, Labels) and layer.ndim == 3:
            layer.events.paint.connect(lambda _event, layer=layer: self._edited(layer))

    def _edited(self, layer) -> None:
        self._dirty[id(layer)] = layer
        self._save_soon()

    def save_now(self) -> None:
        """Snapshot every edited layer still in the viewer (in a worker thread)."""
        if self.worker is not None:  # one save at a time; edits meanwhile are saved right after
            self._again = True
            return
        jobs = []
        for layer in self._dirty.values():
            if layer in self.viewer.layers:
                try:
                    volume = volume_from_layer(layer)
                except ValueError as exc:  # a geometry we cannot save on: say so, keep the others
                    show_warning(f"MedSeg autosave skipped {layer.name!r}: {exc}")
                    continue
                names = {k: v for k, v in label_names_from_features(layer.features).items() if k != 0}
                jobs.append((np.array(layer.data, copy=True), volume, layer.name, names))
        self._dirty.clear()
        if not jobs:
            return

        def write():
            return [save_snapshot(data, volume.with_array(data), name, names) for data, volume, name, names in jobs]

        self.worker = create_worker(quietly(write))
        self.worker.returned.connect(self.saved.extend)
        self.worker.errored.connect(lambda exc: show_warning(f"MedSeg autosave failed: {exc}"))
        self.worker.finished.connect(self._finished)
        self.worker.start()

    def _finished(self) -> None:
        self.worker = None
        if self._again:
            self._again = False
            self.save_now()


def recovery_note(volume, name: str) -> str | None:
    """A line telling the user that snapshots of this image were kept, or None."""
    snapshots = list_snapshots(volume)
    if not snapshots:
        return None
    return (f"{name}: {len(snapshots)} autosaved label map(s), the latest {snapshots[0].describe()}; "
            "restore with Plugins > MedSeg > Recover labels")


class RecoverWidget(Container):
    """Dock widget: choose an autosaved snapshot; Restore adds it as a Labels layer; Discard removes it."""

    def __init__(self, napari_viewer):
        self.viewer = napari_viewer
        self._snapshot = ComboBox(label="snapshot", choices=self._choices)
        self._restore = PushButton(text="Restore as a new layer")
        self._discard = PushButton(text="Discard")
        self._status = Label(value="")
        self._status.native.setWordWrap(True)  # magicgui has no option for it
        super().__init__(widgets=[self._snapshot, self._restore, self._discard, self._status])
        self._restore.changed.connect(self.restore)
        self._discard.changed.connect(self.discard)
        ensure_autosave(napari_viewer)
        self._status.value = "" if list_snapshots() else "no autosaved labels"

    def _choices(self, _widget=None) -> list:
        return [(s.describe(), s) for s in list_snapshots()]

    @property
    def status(self) -> str:
        return self._status.value

    def restore(self, *_args):
        """Add the chosen snapshot to the viewer, on its image's grid."""
        snapshot = self._snapshot.value
        if snapshot is None:
            self._status.value = "no autosaved labels"
            return None
        volume = load_snapshot(snapshot)
        data, kwargs, _ = labels_layer_data(volume.array, volume, f"{snapshot.layer} (recovered)", snapshot.label_names)
        layer = self.viewer.add_labels(data, **kwargs)
        self._status.value = f"restored {snapshot.describe()}"
        show_info(f"MedSeg: restored {snapshot.describe()}")
        return layer

    def discard(self, *_args):
        """Remove the chosen snapshot for good."""
        snapshot = self._snapshot.value
        if snapshot is None:
            return
        discard(snapshot)
        self._snapshot.reset_choices()
        self._status.value = f"discarded {snapshot.describe()}"
